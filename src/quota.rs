//! Quotas and rate limits per tenant (docs/ARCHITECTURE.md, "Quotas").
//!
//! A request *reserves* what it may add before its body is read (a hold with an expiry), grows
//! the hold while a chunked body arrives, and on the upstream's 2xx *commits* the real file
//! sizes; every other outcome *releases* the hold. Check-and-reserve is one atomic step in the
//! store (a dashmap entry in memory, a Lua script in Redis), so concurrency never lets usage
//! pass a limit. Cumulative metrics (`storage_bytes`, `file_count`) count holds and committed
//! usage; windowed ones (`upload_bytes`, `requests`) are fixed windows.

pub mod file;
mod memory;
mod redis_store;
pub mod report;
pub mod settings;
mod state;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use settings::{QuotaSettings, RouteQuota, StoreKind, Tier};

pub mod error;

use crate::rejection::Rejection;
use async_trait::async_trait;
use std::sync::Arc;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    StorageBytes,
    FileCount,
    UploadBytes,
    Requests,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Self::StorageBytes,
        Self::FileCount,
        Self::UploadBytes,
        Self::Requests,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StorageBytes => "storage_bytes",
            Self::FileCount => "file_count",
            Self::UploadBytes => "upload_bytes",
            Self::Requests => "requests",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn cumulative(self) -> bool {
        matches!(self, Self::StorageBytes | Self::FileCount)
    }
}

/// A windowed limit: at most `limit` per fixed window of `seconds`, for every limited route
/// (`scope` `*`) or one route (`scope` = its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub metric: Metric,
    /// `*` or a route name (shared: windows are cloned into every request's state).
    pub scope: Arc<str>,
    pub limit: u64,
    pub seconds: u64,
}

impl Window {
    /// The store key of the window containing `now_ms` (the window's index makes it unique).
    pub fn key(&self, now_ms: u64) -> String {
        let index = now_ms / (self.seconds * 1000);
        format!("w:{}:{}:{index}", self.metric.as_str(), self.scope)
    }

    /// Milliseconds from `now_ms` to the end of its window.
    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        let ms = self.seconds * 1000;
        ms - now_ms % ms
    }

    /// The name in `RateLimit` headers: the metric, and the route for a per-route window.
    pub fn policy_name(&self) -> String {
        match &*self.scope {
            "*" => self.metric.as_str().to_string(),
            route => format!("{}:{route}", self.metric.as_str()),
        }
    }
}

/// The limits one request is checked against: its tenant's tier, windows of its route.
/// Built once per tier and route (`Tier::limits`), shared by requests.
#[derive(Debug, Clone)]
pub struct Limits {
    pub storage_bytes: Option<u64>,
    pub file_count: Option<u64>,
    pub windows: Vec<Window>,
    /// The `RateLimit-Policy` value of these windows (`None` without windows).
    pub policy_header: Option<String>,
}

impl Limits {
    pub fn new(tier: &Tier, route: &str) -> Self {
        let windows: Vec<Window> = tier
            .windows
            .iter()
            .filter(|w| &*w.scope == "*" || &*w.scope == route)
            .cloned()
            .collect();
        Self {
            storage_bytes: tier.storage_bytes,
            file_count: tier.file_count,
            policy_header: rate_limit_policy(&windows),
            windows,
        }
    }
}

/// What one call adds to a request's hold (`hold` is the hold's id).
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub hold: String,
    pub storage: u64,
    pub files: u64,
    /// Counts one request in the `requests` windows (the first call of a request).
    pub request: bool,
}

/// A window's state after a granted call, for the `RateLimit` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    pub window: Window,
    pub remaining: u64,
    pub reset_secs: u64,
}

/// The store's answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted(Vec<WindowState>),
    /// A cumulative limit would be crossed; `used` is the committed usage.
    Exceeded {
        metric: Metric,
        used: u64,
        limit: u64,
    },
    /// A window is full until `retry_after_secs`.
    RateLimited {
        window: Window,
        retry_after_secs: u64,
    },
}

/// A tenant's usage as the store holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub storage_bytes: u64,
    pub file_count: u64,
    pub held_storage: u64,
    pub held_files: u64,
    /// The count of each window asked for, in order.
    pub windows: Vec<u64>,
    /// The tier last seen for the tenant.
    pub tier: Option<String>,
}

pub use error::StoreError;

/// Where quota state lives: in memory (one instance) or in Redis (shared).
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Atomically checks `limits` and adds `ask` to the hold; nothing changes unless granted.
    async fn reserve(
        &self,
        tenant: &str,
        limits: &Limits,
        ask: &Ask,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<Verdict, StoreError>;
    /// Adds the real sizes to the tenant's usage and drops the hold (applied even if the hold
    /// expired: the files are stored).
    async fn commit(
        &self,
        tenant: &str,
        hold: &str,
        storage: u64,
        files: u64,
        tier: &str,
    ) -> Result<(), StoreError>;
    /// Drops the hold and gives its windowed bytes back.
    /// `keep`: bytes of the hold that stay counted in its `upload_bytes` windows (those that
    /// were transferred, with `count_transferred`; else 0).
    async fn release(&self, tenant: &str, hold: &str, keep: u64) -> Result<(), StoreError>;
    /// Remembers the committed size of an uploaded object (the ledger).
    async fn record_object(&self, tenant: &str, id: &str, size: u64) -> Result<(), StoreError>;
    /// Gives back a deleted object's size (`reported`, else the ledger's) and one file, if the
    /// tenant's ledger holds the object (nothing otherwise); returns the bytes freed.
    async fn free_object(
        &self,
        tenant: &str,
        id: &str,
        reported: Option<u64>,
    ) -> Result<u64, StoreError>;
    async fn usage(
        &self,
        tenant: &str,
        windows: &[Window],
        now_ms: u64,
    ) -> Result<Usage, StoreError>;
    /// Sets committed usage (reconciliation with the backend's truth).
    async fn set_usage(
        &self,
        tenant: &str,
        storage_bytes: Option<u64>,
        file_count: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Every tenant with usage.
    async fn tenants(&self) -> Result<Vec<String>, StoreError>;
}

pub use crate::clock::now_ms;

/// The refusal a verdict means for the client.
pub fn refusal(v: &Verdict) -> Option<Rejection> {
    match v {
        Verdict::Granted(_) => None,
        Verdict::Exceeded {
            metric,
            used,
            limit,
        } => Some(Rejection::QuotaExceeded {
            metric: metric.as_str(),
            used: *used,
            limit: *limit,
        }),
        Verdict::RateLimited {
            window,
            retry_after_secs,
        } => Some(Rejection::RateLimited {
            metric: window.metric.as_str(),
            retry_after_secs: *retry_after_secs,
        }),
    }
}

/// The IETF `RateLimit-Policy` header value (draft-ietf-httpapi-ratelimit-headers) of
/// `windows`; `None` when there are none.
pub fn rate_limit_policy(windows: &[Window]) -> Option<String> {
    if windows.is_empty() {
        return None;
    }
    let unit = |w: &Window| match w.metric {
        Metric::UploadBytes => ";qu=\"content-bytes\"",
        _ => "",
    };
    let policy = windows
        .iter()
        .map(|w| {
            format!(
                "\"{}\";q={};w={}{}",
                w.policy_name(),
                w.limit,
                w.seconds,
                unit(w)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Some(policy)
}

/// The IETF `RateLimit` header value: each window's remaining quota and seconds to reset.
pub fn rate_limit_state(windows: &[WindowState]) -> Option<String> {
    if windows.is_empty() {
        return None;
    }
    let state = windows
        .iter()
        .map(|s| {
            format!(
                "\"{}\";r={};t={}",
                s.window.policy_name(),
                s.remaining,
                s.reset_secs
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Some(state)
}

#[cfg(test)]
mod tests;
