//! The one store connection (memory or Redis) as each feature sees it: quota's counters,
//! idempotency's records and resumable uploads' records share it. Above the three features,
//! so none of them imports another for it (docs/ARCHITECTURE.md, "Modules").

use crate::idempotency::IdempotencyStore;
use crate::quota::error::StoreError;
use crate::quota::{MemoryStore, Metric, QuotaSettings, QuotaStore, RedisStore, StoreKind};
use crate::tus::store::UploadStore;
use std::sync::Arc;

/// The configured quotas with their running store.
pub struct Quotas {
    pub settings: QuotaSettings,
    pub store: Arc<dyn QuotaStore>,
    /// The same store, holding idempotency records (src/idempotency.rs).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The same store, holding resumable uploads' records (src/tus/store.rs).
    pub uploads: Arc<dyn UploadStore>,
}

impl std::fmt::Debug for Quotas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quotas")
            .field("store", &self.settings.store)
            .finish()
    }
}

impl Quotas {
    /// Builds the store (Redis connects lazily, on the first call).
    pub fn start(settings: QuotaSettings) -> Result<Self, StoreError> {
        type Stores = (
            Arc<dyn QuotaStore>,
            Arc<dyn IdempotencyStore>,
            Arc<dyn UploadStore>,
        );
        let (store, idempotency, uploads): Stores = match &settings.store {
            StoreKind::Memory => {
                let s = Arc::new(MemoryStore::default());
                (s.clone(), s.clone(), s)
            }
            StoreKind::Redis { url, key_prefix } => {
                let s = Arc::new(RedisStore::new(url, key_prefix, settings.timeout)?);
                (s.clone(), s.clone(), s)
            }
        };
        Ok(Self {
            settings,
            store,
            idempotency,
            uploads,
        })
    }

    /// Whether a store failure on a call touching `metrics` lets the request through.
    pub fn fails_open(&self, metrics: &[Metric]) -> bool {
        metrics.iter().all(|m| self.settings.fail_open.contains(m))
    }
}
