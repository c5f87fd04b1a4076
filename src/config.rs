//! Configuration: the TOML file ([`file`]) converted into a validated internal [`Config`] with
//! typed values. Validation reports every error with its dotted path ([`error`]), never panics.
//!
//! Module order (no circle): [`error`] and [`file`] are leaves; `auth` and `policy` validate
//! their own sections into them; this module assembles the whole config above them all.

pub mod error;
pub mod file;
mod route;
mod tls;

pub use error::{ConfigError, ConfigErrors};
pub use route::{PathPattern, Route};
pub use tls::{Listener, ListenerTls, UpstreamTls};

use crate::auth::Authenticator;
use crate::errors::ErrorProfile;
use crate::quota::QuotaSettings;
use error::Collector;
use pingora::http::Method;
use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Server-wide settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub threads: usize,
    /// Whether pingora's worker threads steal each other's tasks (off by default: a request's
    /// allocations are then freed on the thread that made them; see docs/ARCHITECTURE.md).
    pub work_stealing: bool,
    pub grace_period_seconds: u64,
    pub client_read_timeout: Duration,
    /// The deadline for the sniff window or a JSON body, from the request head.
    pub window_timeout: Duration,
    /// Connection caps and deadlines (src/connections.rs).
    pub connections: crate::connections::Limits,
    /// HTTP/2 with prior knowledge on plain listeners.
    pub h2c: bool,
    /// The HTTP/2 concurrent-stream limit per connection.
    pub h2_max_concurrent_streams: u32,
    /// User-space read and write buffer bytes per client connection (pingora's L4 buffers).
    pub read_buffer_bytes: usize,
    pub write_buffer_bytes: usize,
    pub upgrade_sock: String,
    /// Timed reloads (`None`: off).
    pub reload_interval: Option<Duration>,
}

/// `[server] errors`: answers given before a route is chosen use it.
fn default_errors(
    f: &file::ServerFile,
    profiles: &HashMap<String, Arc<ErrorProfile>>,
    errors: &mut Collector,
) -> Arc<ErrorProfile> {
    match &f.errors {
        None => Arc::new(ErrorProfile::default()),
        Some(name) => errors
            .named(("error profile", "errors"), profiles, name, "server.errors")
            .unwrap_or_default(),
    }
}

/// A backend the gateway forwards to.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub address: SocketAddr,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// TLS towards the backend, if configured.
    pub tls: Option<UpstreamTls>,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub listeners: Vec<Listener>,
    pub routes: Vec<Arc<Route>>,
    pub auth: Option<Arc<Authenticator>>,
    /// Where `/metrics` is served, if anywhere.
    pub admin: Option<SocketAddr>,
    /// The bearer token of the admin usage endpoints (read from `[admin].token_env`).
    pub admin_token: Option<String>,
    /// Quotas and rate limits, if configured.
    pub quotas: Option<QuotaSettings>,
    /// Log lines as JSON objects (`[log] format = "json"`).
    pub log_json: bool,
    /// The error profile before a route is chosen (`[server] errors`).
    pub errors: Arc<ErrorProfile>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError::new(
                path.display().to_string(),
                format!("cannot read: {e}"),
            )])
        })?;
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        Self::parse_in(&text, base)
    }

    /// Parses and validates config text; relative files resolve against the working directory.
    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        Self::parse_in(text, std::path::Path::new("."))
    }

    /// Parses and validates config text; relative files resolve against `base`.
    pub fn parse_in(text: &str, base: &std::path::Path) -> Result<Self, ConfigErrors> {
        Self::from_file(&file::FileConfig::parse(text)?, base).map_err(ConfigErrors)
    }

    /// Converts file structs into the internal config, section by section, collecting every
    /// error.
    pub fn from_file(
        raw: &file::FileConfig,
        base: &std::path::Path,
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Collector::default();
        let mut auth = raw
            .auth
            .as_ref()
            .and_then(|a| errors.take(Authenticator::from_config(a, base)));
        let server = server(&raw.server, &mut errors);
        let listeners = listeners(&raw.listeners, base, &mut errors);
        let admin = raw
            .admin
            .as_ref()
            .and_then(|a| address(&a.address, "admin.address", "127.0.0.1:9091", &mut errors));
        let admin_token = raw
            .admin
            .as_ref()
            .and_then(|a| admin_token(a, base, &mut errors));
        let upstreams = upstreams(&raw.upstreams, base, &mut errors);
        let profiles: HashMap<String, Arc<ErrorProfile>> = raw
            .errors
            .iter()
            .filter_map(|(name, f)| {
                let p = errors.take(ErrorProfile::from_config(f, &format!("errors.{name}")))?;
                Some((name.clone(), Arc::new(p)))
            })
            .collect();
        let errors_default = default_errors(&raw.server, &profiles, &mut errors);
        let routes = raw
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let at = format!("routes[{i}]");
                Route::from_config(
                    r,
                    &at,
                    &upstreams,
                    &profiles,
                    raw.auth.is_some(),
                    base,
                    &mut errors,
                )
            })
            .map(Arc::new)
            .collect::<Vec<_>>();
        if let Some(a) = &mut auth {
            let named = routes.iter().filter_map(|r| r.credential_header.clone());
            a.credential_headers.extend(named);
            a.credential_headers
                .sort_by(|x, y| x.as_str().cmp(y.as_str()));
            a.credential_headers.dedup();
        }
        let auth = auth.map(Arc::new);
        let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        let quotas = raw
            .quotas
            .as_ref()
            .and_then(|q| errors.take(QuotaSettings::from_config(q, &names)));
        let s3_routes = raw.routes.iter().any(|r| r.s3.is_some());
        if raw.quotas.is_some() && auth.is_none() && !s3_routes {
            errors.push(
                "quotas",
                "quotas count per verified tenant: configure [auth] (or [routes.s3])",
            );
        }
        let log_json = match raw.log.format.as_deref() {
            None | Some("human") => false,
            Some("json") => true,
            Some(other) => {
                errors.push(
                    "log.format",
                    format!("{other:?} is not a format: use \"human\" or \"json\""),
                );
                false
            }
        };
        errors.finish(|| Config {
            errors: errors_default,
            log_json,
            server,
            listeners,
            routes,
            auth,
            admin,
            admin_token,
            quotas,
        })
    }

    /// The first route matching `method` and `path`.
    pub fn route(&self, method: &Method, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.matches(method, path))
    }
}

fn server(f: &file::ServerFile, errors: &mut Collector) -> ServerSettings {
    if f.threads == 0 {
        errors.push("server.threads", "must be at least 1");
    }
    if f.h2_max_concurrent_streams == 0 {
        errors.push("server.h2_max_concurrent_streams", "must be at least 1");
    }
    for (at, bytes) in [
        ("server.read_buffer_bytes", f.read_buffer_bytes),
        ("server.write_buffer_bytes", f.write_buffer_bytes),
    ] {
        if bytes > 1 << 20 {
            errors.push(at, "at most 1048576 (it is held per connection)");
        }
    }
    for (at, ms) in [
        ("server.window_timeout_ms", f.window_timeout_ms),
        ("server.first_byte_timeout_ms", f.first_byte_timeout_ms),
        ("server.head_timeout_ms", f.head_timeout_ms),
        ("server.keepalive_timeout_ms", f.keepalive_timeout_ms),
    ] {
        if ms == 0 {
            errors.push(at, "must be at least 1");
        }
    }
    ServerSettings {
        threads: f.threads,
        work_stealing: f.work_stealing,
        grace_period_seconds: f.grace_period_seconds,
        client_read_timeout: Duration::from_millis(f.client_read_timeout_ms),
        window_timeout: Duration::from_millis(f.window_timeout_ms),
        connections: crate::connections::Limits {
            caps: crate::connections::Caps {
                total: f.max_connections,
                per_client: f.max_connections_per_ip,
            },
            max_requests: f.max_requests,
            deadlines: crate::connections::Deadlines {
                first_byte: Duration::from_millis(f.first_byte_timeout_ms),
                head: Duration::from_millis(f.head_timeout_ms),
                keepalive: Duration::from_millis(f.keepalive_timeout_ms),
            },
        },
        h2c: f.h2c,
        h2_max_concurrent_streams: f.h2_max_concurrent_streams,
        read_buffer_bytes: f.read_buffer_bytes,
        write_buffer_bytes: f.write_buffer_bytes,
        upgrade_sock: f.upgrade_sock.clone(),
        reload_interval: (f.reload_interval_seconds > 0)
            .then(|| Duration::from_secs(f.reload_interval_seconds)),
    }
}

/// The admin token from `token_env` or `token_file` (at most one; at least 16 characters).
fn admin_token(
    a: &file::AdminFile,
    base: &std::path::Path,
    errors: &mut Collector,
) -> Option<String> {
    let (at, read) = match (&a.token_env, &a.token_file) {
        (None, None) => return None,
        (Some(_), Some(_)) => {
            errors.push("admin", "set token_env or token_file, not both");
            return None;
        }
        (Some(env), None) => (
            "admin.token_env",
            std::env::var(env).map_err(|_| format!("${env} is not set")),
        ),
        (None, Some(f)) => (
            "admin.token_file",
            std::fs::read_to_string(base.join(f))
                .map(|t| t.trim().to_string())
                .map_err(|e| format!("cannot read {f}: {e}")),
        ),
    };
    match read {
        Ok(t) if t.len() >= 16 => Some(t),
        Ok(_) => {
            errors.push(at, "the admin token must have at least 16 characters");
            None
        }
        Err(m) => {
            errors.push(at, m);
            None
        }
    }
}

fn address(text: &str, at: &str, example: &str, errors: &mut Collector) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .map_err(|_| errors.push(at, format!("{text:?} is not ip:port (e.g. \"{example}\")")))
        .ok()
}

fn listeners(
    f: &[file::ListenerFile],
    base: &std::path::Path,
    errors: &mut Collector,
) -> Vec<Listener> {
    if f.is_empty() {
        errors.push(
            "listeners",
            "add at least one [[listeners]] with an address",
        );
    }
    f.iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let at = format!("listeners[{i}]");
            let tls = tls::listener(l, &at, base, errors);
            let address = address(&l.address, &format!("{at}.address"), "0.0.0.0:8080", errors)?;
            Some(Listener { address, tls })
        })
        .collect()
}

fn upstreams(
    f: &BTreeMap<String, file::UpstreamFile>,
    base: &std::path::Path,
    errors: &mut Collector,
) -> HashMap<String, Arc<Upstream>> {
    let mut out = HashMap::new();
    for (name, u) in f {
        match u.address.to_socket_addrs().ok().and_then(|mut a| a.next()) {
            Some(address) => {
                let upstream = Upstream {
                    name: name.clone(),
                    address,
                    connect_timeout: Duration::from_millis(u.connect_timeout_ms),
                    read_timeout: Duration::from_millis(u.read_timeout_ms),
                    write_timeout: Duration::from_millis(u.write_timeout_ms),
                    tls: tls::upstream(u, name, base, errors),
                };
                out.insert(name.clone(), Arc::new(upstream));
            }
            None => errors.push(
                format!("upstreams.{name}.address"),
                format!("{:?} does not resolve to host:port", u.address),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests;
