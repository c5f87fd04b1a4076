//! The in-memory store (the embedded default): one [`TenantState`] per tenant in a dashmap. A
//! call holds the tenant's shard lock for its few operations, which makes check-and-reserve
//! atomic; nothing awaits under it.

use super::state::TenantState;
use super::{Ask, Limits, QuotaStore, StoreError, Usage, Verdict, Window};
use async_trait::async_trait;
use dashmap::DashMap;

#[derive(Debug, Default)]
pub struct MemoryStore {
    tenants: DashMap<String, TenantState>,
    /// Idempotency records: value and expiry (ms since the epoch) per key (src/idempotency.rs).
    pub(crate) keys: DashMap<String, (String, u64)>,
}

impl MemoryStore {
    fn with<T>(&self, tenant: &str, f: impl FnOnce(&mut TenantState) -> T) -> T {
        if let Some(mut s) = self.tenants.get_mut(tenant) {
            return f(&mut s);
        }
        f(&mut self.tenants.entry(tenant.to_string()).or_default())
    }
}

#[async_trait]
impl QuotaStore for MemoryStore {
    async fn reserve(
        &self,
        tenant: &str,
        limits: &Limits,
        ask: &Ask,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<Verdict, StoreError> {
        Ok(self.with(tenant, |s| s.reserve(limits, ask, now_ms, ttl_ms)))
    }

    async fn commit(
        &self,
        tenant: &str,
        hold: &str,
        storage: u64,
        files: u64,
        tier: &str,
    ) -> Result<(), StoreError> {
        self.with(tenant, |s| s.commit(hold, storage, files, tier));
        Ok(())
    }

    async fn release(&self, tenant: &str, hold: &str, keep: u64) -> Result<(), StoreError> {
        self.with(tenant, |s| s.release(hold, keep));
        Ok(())
    }

    async fn record_object(&self, tenant: &str, id: &str, size: u64) -> Result<(), StoreError> {
        self.with(tenant, |s| s.record_object(id, size));
        Ok(())
    }

    async fn free_object(
        &self,
        tenant: &str,
        id: &str,
        reported: Option<u64>,
    ) -> Result<u64, StoreError> {
        Ok(self.with(tenant, |s| s.free_object(id, reported)))
    }

    async fn usage(
        &self,
        tenant: &str,
        windows: &[Window],
        now_ms: u64,
    ) -> Result<Usage, StoreError> {
        Ok(self.with(tenant, |s| s.usage(windows, now_ms)))
    }

    async fn set_usage(
        &self,
        tenant: &str,
        storage_bytes: Option<u64>,
        file_count: Option<u64>,
    ) -> Result<(), StoreError> {
        self.with(tenant, |s| s.set_usage(storage_bytes, file_count));
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let mut all: Vec<String> = self.tenants.iter().map(|e| e.key().clone()).collect();
        all.sort();
        Ok(all)
    }
}
