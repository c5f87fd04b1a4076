//! [`IdempotencyStore`] on the quota stores: a dashmap with expiries in memory; in Redis, one
//! key per record (`{prefix}:idem:{hash}`) with compare-and-set scripts, so a claim is atomic
//! across instances and an instance never overwrites or deletes a claim that is not its own.

use super::IdempotencyStore;
use crate::quota::{MemoryStore, RedisStore, StoreError, now_ms};
use async_trait::async_trait;
use redis::Script;
use std::sync::LazyLock;

/// Expired records are swept when the map has grown by this many since the last sweep.
const SWEEP_EVERY: usize = 4096;

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        key: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        if self.keys.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.keys.retain(|_, (_, expires)| *expires > now);
        }
        let mut entry = self
            .keys
            .entry(key.to_string())
            .or_insert((String::new(), 0));
        if entry.1 > now {
            return Ok(Some(entry.0.clone()));
        }
        *entry = (value.to_string(), now + ttl_ms);
        Ok(None)
    }

    async fn replace(
        &self,
        key: &str,
        expected: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        if let Some(mut e) = self.keys.get_mut(key)
            && e.0 == expected
        {
            *e = (value.to_string(), now_ms() + ttl_ms);
        }
        Ok(())
    }

    async fn release(&self, key: &str, expected: &str) -> Result<(), StoreError> {
        self.keys.remove_if(key, |_, (v, _)| v == expected);
        Ok(())
    }
}

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local v = redis.call('GET', KEYS[1]) \
         if v then return v end \
         redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
         return false",
    )
});

static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) \
         end \
         return 1",
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end \
         return 1",
    )
});

fn key(store: &RedisStore, key: &str) -> String {
    store.plain_key(&format!("idem:{key}"))
}

#[async_trait]
impl IdempotencyStore for RedisStore {
    async fn claim(&self, k: &str, value: &str, ttl_ms: u64) -> Result<Option<String>, StoreError> {
        self.run(CLAIM.key(key(self, k)).arg(value).arg(ttl_ms))
            .await
    }

    async fn replace(
        &self,
        k: &str,
        expected: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let _: i64 = self
            .run(
                REPLACE
                    .key(key(self, k))
                    .arg(expected)
                    .arg(value)
                    .arg(ttl_ms),
            )
            .await?;
        Ok(())
    }

    async fn release(&self, k: &str, expected: &str) -> Result<(), StoreError> {
        let _: i64 = self.run(RELEASE.key(key(self, k)).arg(expected)).await?;
        Ok(())
    }
}
