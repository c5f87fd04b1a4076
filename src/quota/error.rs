//! The error of a store call, shared by the quota and idempotency stores (a leaf: neither
//! module needs the other for it).

/// The store could not answer (unreachable, timed out, bad reply).
#[derive(Debug, Clone, thiserror::Error)]
#[error("quota store: {0}")]
pub struct StoreError(pub String);
