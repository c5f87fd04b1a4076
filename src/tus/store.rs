//! Where upload records live: the quota store's backend (memory, or Redis so that any instance
//! takes the next request), one key per upload with the upload's expiry. Records are written
//! whole; the upstream tus server serialises requests on one upload (it locks it), and the
//! gateway only moves a record forward on the upstream's answer. The two stores' implementations:
//! src/tus/stores.rs.

use crate::quota::error::StoreError;
use async_trait::async_trait;

#[async_trait]
pub trait UploadStore: Send + Sync + std::fmt::Debug {
    async fn load(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn save(&self, key: &str, value: &str, ttl_ms: u64) -> Result<(), StoreError>;
    async fn remove(&self, key: &str) -> Result<(), StoreError>;
}
