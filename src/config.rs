//! Configuration: the TOML file ([`file`]) converted into a validated internal [`Config`] with
//! typed values. Validation reports every error with its dotted path, never panics.

pub mod file;

use crate::auth::{Authenticator, ScopeRule};
use crate::policy::UploadPolicy;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// One configuration problem: where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Every error found in a config, one per line when displayed.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Server-wide settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub threads: usize,
    pub grace_period_seconds: u64,
    pub client_read_timeout: Duration,
}

/// A backend the gateway forwards to.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub address: SocketAddr,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

/// How a route matches paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    Exact(String),
    Prefix(String),
}

impl PathPattern {
    fn parse(p: &str) -> Self {
        match p.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_string()),
            None => Self::Exact(p.to_string()),
        }
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(e) => path == e,
            Self::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// A validated route.
#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub path: PathPattern,
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    pub upstream: Arc<Upstream>,
    /// Where test-mode credentials go, if set.
    pub sandbox: Option<Arc<Upstream>>,
    pub upload: Option<Arc<UploadPolicy>>,
    /// No credential required.
    pub public: bool,
    pub scopes: ScopeRule,
    /// Lower-cased credential header overriding `[auth].credential_header`.
    pub credential_header: Option<String>,
}

impl Route {
    pub fn matches(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && self.path.matches(path)
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub listeners: Vec<SocketAddr>,
    pub routes: Vec<Arc<Route>>,
    pub auth: Option<Arc<Authenticator>>,
    /// Where `/metrics` is served, if anywhere.
    pub admin: Option<SocketAddr>,
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
        let raw: file::FileConfig = toml::from_str(text).map_err(|e| {
            let path = e
                .span()
                .map_or("(file)".to_string(), |s| format!("byte {}", s.start));
            ConfigErrors(vec![ConfigError::new(path, e.message().to_string())])
        })?;
        Self::from_file(&raw, base).map_err(ConfigErrors)
    }

    /// Converts file structs into the internal config, collecting every error.
    pub fn from_file(
        raw: &file::FileConfig,
        base: &std::path::Path,
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let auth = match &raw.auth {
            Some(a) => match Authenticator::from_config(a, base) {
                Ok(a) => Some(Arc::new(a)),
                Err(mut e) => {
                    errors.append(&mut e);
                    None
                }
            },
            None => None,
        };
        if raw.server.threads == 0 {
            errors.push(ConfigError::new("server.threads", "must be at least 1"));
        }
        if raw.listeners.is_empty() {
            errors.push(ConfigError::new(
                "listeners",
                "add at least one [[listeners]] with an address",
            ));
        }
        let listeners = raw
            .listeners
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                l.address
                    .parse::<SocketAddr>()
                    .map_err(|_| {
                        errors.push(ConfigError::new(
                            format!("listeners[{i}].address"),
                            format!("{:?} is not ip:port (e.g. \"0.0.0.0:8080\")", l.address),
                        ))
                    })
                    .ok()
            })
            .collect();
        let admin = raw.admin.as_ref().and_then(|a| {
            a.address
                .parse::<SocketAddr>()
                .map_err(|_| {
                    errors.push(ConfigError::new(
                        "admin.address",
                        format!("{:?} is not ip:port (e.g. \"127.0.0.1:9091\")", a.address),
                    ))
                })
                .ok()
        });
        let mut upstreams = std::collections::HashMap::new();
        for (name, u) in &raw.upstreams {
            let path = format!("upstreams.{name}");
            match u.address.to_socket_addrs().ok().and_then(|mut a| a.next()) {
                Some(address) => {
                    upstreams.insert(
                        name.clone(),
                        Arc::new(Upstream {
                            name: name.clone(),
                            address,
                            connect_timeout: Duration::from_millis(u.connect_timeout_ms),
                            read_timeout: Duration::from_millis(u.read_timeout_ms),
                            write_timeout: Duration::from_millis(u.write_timeout_ms),
                        }),
                    );
                }
                None => errors.push(ConfigError::new(
                    format!("{path}.address"),
                    format!("{:?} does not resolve to host:port", u.address),
                )),
            }
        }
        let mut routes = Vec::new();
        for (i, r) in raw.routes.iter().enumerate() {
            let path = format!("routes[{i}]");
            if !r.path.starts_with('/') {
                errors.push(ConfigError::new(
                    format!("{path}.path"),
                    "must start with '/'",
                ));
            }
            let methods: Vec<String> = r.methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            for (j, m) in methods.iter().enumerate() {
                if !matches!(
                    m.as_str(),
                    "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
                ) {
                    errors.push(ConfigError::new(
                        format!("{path}.methods[{j}]"),
                        format!("unknown method {m:?}"),
                    ));
                }
            }
            let upstream = upstreams.get(&r.upstream).cloned();
            if upstream.is_none() && !raw.upstreams.contains_key(&r.upstream) {
                errors.push(ConfigError::new(
                    format!("{path}.upstream"),
                    format!(
                        "no upstream named {:?} (define [upstreams.{}])",
                        r.upstream, r.upstream
                    ),
                ));
            }
            let upload = match &r.upload {
                Some(u) => match UploadPolicy::from_config(u, &format!("{path}.upload")) {
                    Ok(p) => Some(Arc::new(p)),
                    Err(mut e) => {
                        errors.append(&mut e);
                        None
                    }
                },
                None => None,
            };
            let sandbox = r.sandbox_upstream.as_ref().and_then(|s| {
                let found = upstreams.get(s).cloned();
                if found.is_none() {
                    errors.push(ConfigError::new(
                        format!("{path}.sandbox_upstream"),
                        format!("no upstream named {s:?}"),
                    ));
                }
                found
            });
            if (r.public || raw.auth.is_none())
                && (!r.scopes.is_empty() || !r.any_scopes.is_empty())
            {
                errors.push(ConfigError::new(
                    format!("{path}.scopes"),
                    "scopes need [auth] and a non-public route",
                ));
            }
            if let Some(upstream) = upstream {
                routes.push(Arc::new(Route {
                    name: r.name.clone(),
                    path: PathPattern::parse(&r.path),
                    methods,
                    upstream,
                    sandbox,
                    upload,
                    public: r.public,
                    scopes: ScopeRule {
                        all_of: r.scopes.clone(),
                        any_of: r.any_scopes.clone(),
                    },
                    credential_header: r.credential_header.as_ref().map(|h| h.to_ascii_lowercase()),
                }));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            server: ServerSettings {
                threads: raw.server.threads,
                grace_period_seconds: raw.server.grace_period_seconds,
                client_read_timeout: Duration::from_millis(raw.server.client_read_timeout_ms),
            },
            listeners,
            routes,
            auth,
            admin,
        })
    }

    /// The first route matching `method` and `path`.
    pub fn route(&self, method: &str, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.matches(method, path))
    }
}

#[cfg(test)]
mod tests;
