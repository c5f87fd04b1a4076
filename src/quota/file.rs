//! The `[quotas]` TOML section and a route's `[routes.quota]` table, exactly as operators
//! write them; validated into [`super::QuotaSettings`] and [`super::RouteQuota`].

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotasFile {
    /// `memory` (one instance, the default) or `redis` (shared by every instance).
    #[serde(default = "default_store")]
    pub store: String,
    /// `redis://host:port/db` for `store = "redis"`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (default `upload-gateway`).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// Bound on every store call, connecting included (default 250 ms).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// How long a reservation holds quota without being renewed (default 900 s): the holds of a
    /// crashed instance return by themselves after this.
    #[serde(default = "default_ttl")]
    pub reservation_ttl_seconds: u64,
    /// Tier for tenants with no override and a credential naming no (known) tier.
    pub default_tier: String,
    /// Metrics that fail open when the store is unreachable; the others fail closed (503).
    #[serde(default)]
    pub fail_open: Vec<String>,
    /// Per-tenant tier overrides: `tenant = "tier"`.
    #[serde(default)]
    pub tenants: BTreeMap<String, String>,
    pub tiers: BTreeMap<String, TierFile>,
    /// A gateway-served endpoint answering the caller's own usage (e.g. `/usage`).
    pub usage_path: Option<String>,
    /// Scopes the usage endpoint requires (all of them).
    #[serde(default)]
    pub usage_scopes: Vec<String>,
    /// `upload_bytes` windows also count the bytes of uploads that were not stored (refused,
    /// aborted, failed upstream): what crossed the gateway, not only what was committed
    /// (default false).
    #[serde(default)]
    pub count_transferred: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierFile {
    /// Cumulative bytes stored (committed file sizes).
    pub storage_bytes: Option<u64>,
    /// Cumulative number of files stored.
    pub file_count: Option<u64>,
    /// Bytes uploaded per window.
    pub upload_bytes: Option<WindowFile>,
    /// Requests per window, counted over every limited route.
    pub requests: Option<WindowFile>,
    /// Windowed limits that apply to one route only (by route name), on top of the above.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteWindowsFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWindowsFile {
    pub upload_bytes: Option<WindowFile>,
    pub requests: Option<WindowFile>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub limit: u64,
    pub window_seconds: u64,
}

/// `[routes.quota]`: how a route takes part in quotas (every authenticated route is limited
/// when `[quotas]` exists).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteQuotaFile {
    /// `false` exempts the route (no counting, no headers).
    pub enabled: Option<bool>,
    /// Upload routes: JSON pointer to the object id in the upstream's 2xx response (`/id`),
    /// recorded in the ledger with the committed size so a DELETE can give it back.
    pub object_id_pointer: Option<String>,
    /// DELETE routes: the named path segment holding the object id (`id` in `/media/{id}`).
    pub frees_object: Option<String>,
    /// DELETE routes: an upstream response header reporting the freed bytes (wins over the
    /// ledger).
    pub freed_bytes_header: Option<String>,
}

fn default_store() -> String {
    "memory".into()
}
fn default_key_prefix() -> String {
    "upload-gateway".into()
}
fn default_timeout() -> u64 {
    250
}
fn default_ttl() -> u64 {
    900
}
