//! [`UploadStore`] on the quota stores: a dashmap with expiries in memory (shared with the
//! idempotency records, under keys of their own), one `SET … PX` key per upload in Redis.

use super::store::UploadStore;
use crate::quota::{MemoryStore, RedisStore, StoreError, now_ms};
use async_trait::async_trait;

#[async_trait]
impl UploadStore for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        Ok(self
            .keys
            .get(key)
            .filter(|e| e.1 > now)
            .map(|e| e.0.clone()))
    }

    async fn save(&self, key: &str, value: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let now = now_ms();
        if self.keys.len() % 4096 == 4095 {
            self.keys.retain(|_, (_, expires)| *expires > now);
        }
        self.keys
            .insert(key.to_string(), (value.to_string(), now + ttl_ms));
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.keys.remove(key);
        Ok(())
    }
}

#[async_trait]
impl UploadStore for RedisStore {
    async fn load(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.cmd(redis::cmd("GET").arg(self.plain_key(key))).await
    }

    async fn save(&self, key: &str, value: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let cmd = redis::cmd("SET")
            .arg(self.plain_key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .to_owned();
        let _: Option<String> = self.cmd(&cmd).await?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let _: i64 = self.cmd(redis::cmd("DEL").arg(self.plain_key(key))).await?;
        Ok(())
    }
}
