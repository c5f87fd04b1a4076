//! The Redis store: every gateway instance shares quota state through one Redis (or Redis
//! Cluster). Each operation is one Lua script (src/quota/lua/), atomic in Redis; a tenant's keys
//! share the hash tag `{t:<tenant>}` so they live in one cluster slot. Every call is bounded by
//! the configured timeout (connecting included): a down Redis is an error, never a hang.

use super::{Ask, Limits, Metric, QuotaStore, StoreError, Usage, Verdict, Window, WindowState};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};
use std::time::Duration;

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

struct Scripts {
    reserve: Script,
    commit: Script,
    release: Script,
    free: Script,
    usage: Script,
}

/// A tokio runtime of its own for the connection's driver task, so the connection outlives any
/// one pingora service runtime; shut down in the background when the store is dropped.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
    /// Tenants this instance already added to the tenants set (saves a round trip a commit).
    listed: dashmap::DashSet<String>,
    _runtime: Runtime,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A tenant name made safe inside a key and its hash tag (`%XX` for anything unusual).
fn escape(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for b in tenant.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RedisStore {
    /// Connects lazily: the first call connects, a failed connection is retried by later calls.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("quota-redis")
            .enable_all()
            .build()
            .map_err(err)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            // The longest wait any call takes (a commit's); each call bounds its own.
            .set_response_timeout(Some(settle_timeout(timeout)))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let conn = {
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, config).map_err(err)?
        };
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            timeout,
            scripts: Scripts {
                reserve: script!("reserve.lua"),
                commit: script!("commit.lua"),
                release: script!("release.lua"),
                free: script!("free.lua"),
                usage: script!("usage.lua"),
            },
            listed: dashmap::DashSet::new(),
            _runtime: Runtime(Some(runtime)),
        })
    }

    fn key(&self, tenant: &str, what: &str) -> String {
        format!("{}:{{t:{}}}:{what}", self.prefix, escape(tenant))
    }

    fn tenants_key(&self) -> String {
        format!("{}:tenants", self.prefix)
    }

    /// Adds the tenant to the set the admin listing reads (once per instance).
    async fn list(&self, tenant: &str) -> Result<(), StoreError> {
        if self.listed.contains(tenant) {
            return Ok(());
        }
        let _: i64 = self
            .cmd(redis::cmd("SADD").arg(self.tenants_key()).arg(tenant))
            .await?;
        self.listed.insert(tenant.to_string());
        Ok(())
    }

    /// A key of this store outside any tenant (`{prefix}:{what}`).
    pub(crate) fn plain_key(&self, what: &str) -> String {
        format!("{}:{what}", self.prefix)
    }

    /// Runs a prepared invocation within the timeout.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.run_within(inv, self.timeout).await
    }

    async fn run_within<T: FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
        timeout: Duration,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(timeout, inv.invoke_async(&mut conn)).await {
            Ok(r) => r.map_err(err),
            Err(_) => Err(StoreError("timed out".into())),
        }
    }

    pub(crate) async fn cmd<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await {
            Ok(r) => r.map_err(err),
            Err(_) => Err(StoreError("timed out".into())),
        }
    }
}

/// How long a commit may wait: 8 × the decision timeout, at least 2 s.
fn settle_timeout(timeout: Duration) -> Duration {
    (timeout * 8).max(Duration::from_secs(2))
}

fn num(v: Option<&String>) -> Result<u64, StoreError> {
    v.and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError("unexpected reply from a quota script".into()))
}

#[async_trait]
impl QuotaStore for RedisStore {
    async fn reserve(
        &self,
        tenant: &str,
        limits: &Limits,
        ask: &Ask,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<Verdict, StoreError> {
        let limit = |l: Option<u64>| l.map_or(-1, |v| v as i64);
        let mut inv = self.scripts.reserve.prepare_invoke();
        inv.key(self.key(tenant, "usage"))
            .key(self.key(tenant, "holds"));
        for w in &limits.windows {
            inv.key(self.key(tenant, &w.key(now_ms)));
        }
        inv.arg(now_ms)
            .arg(ttl_ms)
            .arg(&ask.hold)
            .arg(ask.storage)
            .arg(ask.files)
            .arg(u8::from(ask.request))
            .arg(limit(limits.storage_bytes))
            .arg(limit(limits.file_count));
        for w in &limits.windows {
            inv.arg(w.metric.as_str())
                .arg(w.limit)
                .arg(w.remaining_ms(now_ms));
        }
        let reply: Vec<String> = self.run(&inv).await?;
        match reply.first().map(String::as_str) {
            Some("granted") => {
                let mut states = Vec::new();
                for (i, w) in limits.windows.iter().enumerate() {
                    let count = num(reply.get(i + 1))?;
                    states.push(WindowState {
                        window: w.clone(),
                        remaining: w.limit.saturating_sub(count),
                        reset_secs: w.remaining_ms(now_ms).div_ceil(1000),
                    });
                }
                Ok(Verdict::Granted(states))
            }
            Some("exceeded") => Ok(Verdict::Exceeded {
                metric: reply
                    .get(1)
                    .and_then(|m| Metric::parse(m))
                    .ok_or_else(|| StoreError("unknown metric in reply".into()))?,
                used: num(reply.get(2))?,
                limit: num(reply.get(3))?,
            }),
            Some("limited") => {
                let w = usize::try_from(num(reply.get(1))?)
                    .ok()
                    .and_then(|i| limits.windows.get(i))
                    .ok_or_else(|| StoreError("unknown window in reply".into()))?;
                Ok(Verdict::RateLimited {
                    window: w.clone(),
                    retry_after_secs: w.remaining_ms(now_ms).div_ceil(1000),
                })
            }
            _ => Err(StoreError(
                "unexpected reply from the reserve script".into(),
            )),
        }
    }

    async fn commit(
        &self,
        tenant: &str,
        hold: &str,
        storage: u64,
        files: u64,
        tier: &str,
    ) -> Result<(), StoreError> {
        let mut inv = self.scripts.commit.prepare_invoke();
        inv.key(self.key(tenant, "usage"))
            .key(self.key(tenant, "holds"))
            .arg(hold)
            .arg(storage)
            .arg(files)
            .arg(tier);
        // The upstream already stored the upload: its commit may wait longer than a decision
        // (an overloaded gateway answered reserves late, then dropped commits: stored files
        // that were never charged). No retry: a commit that ran but answered late would count
        // twice.
        let _: i64 = self.run_within(&inv, settle_timeout(self.timeout)).await?;
        self.list(tenant).await
    }

    async fn release(&self, tenant: &str, hold: &str, keep: u64) -> Result<(), StoreError> {
        let mut inv = self.scripts.release.prepare_invoke();
        inv.key(self.key(tenant, "holds")).arg(hold).arg(keep);
        let _: i64 = self.run(&inv).await?;
        Ok(())
    }

    async fn record_object(&self, tenant: &str, id: &str, size: u64) -> Result<(), StoreError> {
        let key = self.key(tenant, "objects");
        let _: i64 = self
            .cmd(redis::cmd("HSET").arg(key).arg(id).arg(size))
            .await?;
        Ok(())
    }

    async fn free_object(
        &self,
        tenant: &str,
        id: &str,
        reported: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut inv = self.scripts.free.prepare_invoke();
        inv.key(self.key(tenant, "usage"))
            .key(self.key(tenant, "objects"))
            .arg(id)
            .arg(reported.map_or(-1, |r| r as i64));
        let freed: String = self.run(&inv).await?;
        num(Some(&freed))
    }

    async fn usage(
        &self,
        tenant: &str,
        windows: &[Window],
        now_ms: u64,
    ) -> Result<Usage, StoreError> {
        let mut inv = self.scripts.usage.prepare_invoke();
        inv.key(self.key(tenant, "usage"))
            .key(self.key(tenant, "holds"));
        for w in windows {
            inv.key(self.key(tenant, &w.key(now_ms)));
        }
        inv.arg(now_ms);
        let r: Vec<String> = self.run(&inv).await?;
        Ok(Usage {
            storage_bytes: num(r.first())?,
            file_count: num(r.get(1))?,
            held_storage: num(r.get(2))?,
            held_files: num(r.get(3))?,
            tier: r.get(4).filter(|t| !t.is_empty()).cloned(),
            windows: (0..windows.len())
                .map(|i| num(r.get(5 + i)))
                .collect::<Result<_, _>>()?,
        })
    }

    async fn set_usage(
        &self,
        tenant: &str,
        storage_bytes: Option<u64>,
        file_count: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.key(tenant, "usage"));
        if let Some(s) = storage_bytes {
            cmd.arg("storage_bytes").arg(s);
        }
        if let Some(f) = file_count {
            cmd.arg("file_count").arg(f);
        }
        if storage_bytes.is_some() || file_count.is_some() {
            let _: i64 = self.cmd(&cmd).await?;
        }
        self.list(tenant).await
    }

    async fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let mut all: Vec<String> = self
            .cmd(redis::cmd("SMEMBERS").arg(self.tenants_key()))
            .await?;
        all.sort();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tenant_names_cannot_break_the_hash_tag() {
        assert_eq!(super::escape("acme-1"), "acme-1");
        assert_eq!(super::escape("a}b{c:d"), "a%7Db%7Bc%3Ad");
    }
}
