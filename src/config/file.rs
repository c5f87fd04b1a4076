//! The TOML file structs, exactly as operators write them. Converted into the validated
//! internal [`crate::config::Config`]; nothing here is used on the request path.

use super::error::{ConfigError, ConfigErrors};
/// `[routes.auth]`'s structs live beside the authenticator (src/auth/file.rs).
pub use crate::auth::file::{AuthFile, IdentityHeadersFile, JwtFile, JwtKeyFile};
/// The upload section's structs live beside the policy they configure (src/policy/file.rs).
pub use crate::policy::file::{CategoryLimitsFile, FieldFile, UnknownFieldsFile, UploadFile};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerFile,
    pub listeners: Vec<ListenerFile>,
    pub upstreams: BTreeMap<String, UpstreamFile>,
    pub routes: Vec<RouteFile>,
    /// Identity: when present, every route requires a credential unless `public = true`.
    pub auth: Option<AuthFile>,
    /// The admin listener (`/metrics`).
    pub admin: Option<AdminFile>,
    /// Quotas and rate limits per tenant.
    pub quotas: Option<crate::quota::file::QuotasFile>,
    /// Logging.
    #[serde(default)]
    pub log: LogFile,
    /// Named error profiles routes choose with `errors = "NAME"`.
    #[serde(default)]
    pub errors: BTreeMap<String, crate::errors::file::ErrorProfileFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// `human` (default) or `json` (one object per line).
    #[serde(default)]
    pub format: Option<String>,
}

impl FileConfig {
    /// Parses TOML text; a syntax or type error names its byte offset.
    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        toml::from_str(text).map_err(|e| {
            let path = e
                .span()
                .map_or("(file)".to_string(), |s| format!("byte {}", s.start));
            ConfigErrors(vec![ConfigError::new(path, e.message().to_string())])
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    /// `ip:port` serving Prometheus metrics at `/metrics`.
    pub address: String,
    /// Environment variable holding the bearer token of the admin usage endpoints
    /// (`/usage...`); without a token they answer 404.
    pub token_env: Option<String>,
    /// Or a file holding it (relative to the config file).
    pub token_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Worker threads per service (default 2).
    #[serde(default = "default_threads")]
    pub threads: usize,
    #[serde(default)]
    pub work_stealing: bool,
    /// Seconds to keep serving after a graceful shutdown starts (default 5).
    #[serde(default = "default_grace")]
    pub grace_period_seconds: u64,
    /// Seconds a client may take between two reads of its request (default 60 000 ms).
    #[serde(default = "default_client_timeout")]
    pub client_read_timeout_ms: u64,
    /// The whole sniff window, or a JSON route's whole body, must arrive within this many ms of
    /// the request head (default 30 000): a client trickling it gets 408 before the upstream
    /// is contacted, whatever the per-read timeout.
    #[serde(default = "default_window_timeout")]
    pub window_timeout_ms: u64,
    /// Client connections open at once (default 16 384; 0 = no cap): one more is closed on
    /// accept. Keep it under half the process's open-file limit: a proxied request also holds
    /// a connection to its upstream.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Client connections open at once from one address, an IPv6 client's /64 (default 256;
    /// 0 = no cap — behind a load balancer that connects from a few addresses).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Requests in flight at once over every connection (default 10 000; 0 = no cap): one more
    /// is answered `503 overloaded` with `Retry-After: 1`.
    #[serde(default = "default_max_requests")]
    pub max_requests: usize,
    /// A new connection's first byte must arrive within this many ms (default 10 000).
    #[serde(default = "default_first_byte_timeout")]
    pub first_byte_timeout_ms: u64,
    /// A whole HTTP/1 request head must arrive within this many ms of its first byte
    /// (default 20 000), whatever the per-read timeout.
    #[serde(default = "default_head_timeout")]
    pub head_timeout_ms: u64,
    /// An idle connection between two requests is closed after this many ms (default 60 000;
    /// HTTP/2: with no stream open).
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_ms: u64,
    /// HTTP/2 with prior knowledge (h2c) on the plain listeners, beside HTTP/1.1 (default false).
    #[serde(default)]
    pub h2c: bool,
    /// Concurrent streams one HTTP/2 connection may open (default 100, pingora's).
    #[serde(default = "default_h2_streams")]
    pub h2_max_concurrent_streams: u32,
    /// Bytes of user-space read buffer per client connection (default 65 536, pingora's): a
    /// request head and a body of up to this size arrive in one read. Allocated for the
    /// connection's life but resident only as far as reads fill it; 0 reads straight from the
    /// socket and saves ~17 KiB per slow upload at one more read per request
    /// (docs/PERFORMANCE.md).
    #[serde(default = "default_read_buffer")]
    pub read_buffer_bytes: usize,
    /// Bytes of write buffer per client connection (default 1 460, pingora's: one segment).
    #[serde(default = "default_write_buffer")]
    pub write_buffer_bytes: usize,
    /// The unix socket a running gateway hands its listeners over on SIGQUIT to the one started
    /// with `--upgrade`.
    #[serde(default = "default_upgrade_sock")]
    pub upgrade_sock: String,
    /// Re-read the config and the files it names (API keys, JWT keys) every this many seconds
    /// (default 0: only on SIGHUP or `POST /reload`).
    #[serde(default)]
    pub reload_interval_seconds: u64,
    /// The error profile of answers given before a route is chosen (404, a bad path).
    pub errors: Option<String>,
}

fn default_upgrade_sock() -> String {
    "/tmp/upload-gateway-upgrade.sock".into()
}

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            work_stealing: false,
            grace_period_seconds: default_grace(),
            client_read_timeout_ms: default_client_timeout(),
            window_timeout_ms: default_window_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_ip: default_max_connections_per_ip(),
            max_requests: default_max_requests(),
            first_byte_timeout_ms: default_first_byte_timeout(),
            head_timeout_ms: default_head_timeout(),
            keepalive_timeout_ms: default_keepalive_timeout(),
            h2c: false,
            h2_max_concurrent_streams: default_h2_streams(),
            read_buffer_bytes: default_read_buffer(),
            write_buffer_bytes: default_write_buffer(),
            upgrade_sock: default_upgrade_sock(),
            reload_interval_seconds: 0,
            errors: None,
        }
    }
}

fn default_read_buffer() -> usize {
    pingora::listeners::DEFAULT_L4_READ_BUFFER_SIZE
}
fn default_write_buffer() -> usize {
    pingora::listeners::DEFAULT_L4_WRITE_BUFFER_SIZE
}
fn default_threads() -> usize {
    2
}
fn default_grace() -> u64 {
    5
}
fn default_client_timeout() -> u64 {
    60_000
}
fn default_h2_streams() -> u32 {
    100
}
fn default_window_timeout() -> u64 {
    30_000
}
fn default_max_connections() -> usize {
    16_384
}
fn default_max_requests() -> usize {
    10_000
}
fn default_max_connections_per_ip() -> usize {
    256
}
fn default_first_byte_timeout() -> u64 {
    10_000
}
fn default_head_timeout() -> u64 {
    20_000
}
fn default_keepalive_timeout() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    /// `ip:port` to listen on.
    pub address: String,
    /// Serve TLS on this listener.
    pub tls: Option<ListenerTlsFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTlsFile {
    /// PEM certificate chain (relative to the config file).
    pub cert: String,
    /// PEM private key.
    pub key: String,
    /// Offer HTTP/2 by ALPN beside HTTP/1.1 (default true).
    #[serde(default = "yes")]
    pub h2: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    /// `host:port` of the backend.
    pub address: String,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_io_timeout")]
    pub read_timeout_ms: u64,
    #[serde(default = "default_io_timeout")]
    pub write_timeout_ms: u64,
    /// Connect to the backend over TLS (default false).
    #[serde(default)]
    pub tls: bool,
    /// The name sent by SNI and checked against the backend's certificate (default: the host
    /// part of `address`).
    pub sni: Option<String>,
    /// PEM CA certificates the backend's certificate must chain to (default: the system's).
    pub ca_file: Option<String>,
}

fn default_connect_timeout() -> u64 {
    2_000
}
fn default_io_timeout() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub name: String,
    /// `/media` (exact) or `/media/*`, `/media*` (prefix).
    pub path: String,
    /// Methods this route answers; empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    pub upstream: String,
    /// Present on upload routes: the body is inspected under this policy.
    pub upload: Option<UploadFile>,
    /// No credential required on this route (only meaningful with `[auth]`).
    #[serde(default)]
    pub public: bool,
    /// Scopes all required (all-of).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes of which at least one is required (any-of).
    #[serde(default)]
    pub any_scopes: Vec<String>,
    /// Header carrying the credential on this route instead of `[auth].credential_header`.
    pub credential_header: Option<String>,
    /// Upstream for test-mode API keys (a sandbox backend). Without one, test-mode keys are
    /// refused (403) unless `allow_test_credentials` is set.
    pub sandbox_upstream: Option<String>,
    /// Lets test-mode keys reach `upstream` on a route without a sandbox (default false).
    #[serde(default)]
    pub allow_test_credentials: bool,
    /// How the route takes part in `[quotas]`.
    pub quota: Option<crate::quota::file::RouteQuotaFile>,
    /// The error profile of this route's refusals (`[errors.NAME]`).
    pub errors: Option<String>,
    /// Refuse requests without the tenant header (`[auth] tenant_header`; default false).
    #[serde(default)]
    pub require_tenant: bool,
    /// CORS for browser apps on other origins (`[routes.cors]`).
    pub cors: Option<crate::cors::CorsFile>,
    /// A JSON body route (`[routes.json]`): size cap, required fields, URL rules.
    pub json: Option<crate::json_body::JsonFile>,
    /// Query parameters with integer ranges (`[routes.query.page_size] max = 100`).
    #[serde(default)]
    pub query: BTreeMap<String, crate::query::IntRange>,
    /// Idempotency keys (`[routes.idempotency]`): replay the first response to a key.
    pub idempotency: Option<crate::idempotency::IdempotencyFile>,
    /// A signed verdict appended to uploads for the backend (`[routes.verdict]`).
    pub verdict: Option<crate::verdict::VerdictFile>,
    /// S3-compatible storage behind the route (`[routes.s3]`): SigV4 requests pass signed.
    pub s3: Option<crate::s3::file::S3File>,
    /// A tus 1.0 server behind the route (`[routes.tus]`): resumable uploads inspected as one
    /// file across requests.
    pub tus: Option<crate::tus::file::TusFile>,
}

fn yes() -> bool {
    true
}
