//! CORS per route, so browser apps on other origins can upload straight through the gateway:
//! a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the
//! gateway itself, without a credential, for the route the real request would take — `204`
//! with the allowed method and headers, or `403` when the origin, method or a header is not
//! allowed; real requests from an allowed origin (refusals included) carry
//! `Access-Control-Allow-Origin` and `Vary: Origin`.

use crate::config::error::ConfigError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsFile {
    /// Exact origins (`https://app.example.com`), or `*` for any (not with credentials).
    pub allow_origins: Vec<String>,
    /// Request headers browsers may send (compared case-insensitively).
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers scripts may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight (default 600).
    pub max_age_seconds: Option<u64>,
    /// Cookies / HTTP auth with cross-origin requests (default false).
    #[serde(default)]
    pub allow_credentials: bool,
}

/// A route's validated CORS rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    origins: Vec<String>,
    headers: Vec<String>,
    expose: String,
    max_age: u64,
    credentials: bool,
}

/// Headers a browser may always send without asking (CORS-safelisted).
const SAFELISTED: [&str; 4] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

impl Cors {
    pub fn from_config(f: &CorsFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if f.allow_origins.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.allow_origins"),
                "list at least one origin",
            ));
        }
        for (i, o) in f.allow_origins.iter().enumerate() {
            let ok = o == "*"
                || url::Url::parse(o).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *o
                });
            if !ok {
                errors.push(ConfigError::new(
                    format!("{at}.allow_origins[{i}]"),
                    format!("{o:?} is not an origin like \"https://app.example.com\" (no path, no trailing slash)"),
                ));
            }
        }
        if f.allow_credentials && f.allow_origins.iter().any(|o| o == "*") {
            errors.push(ConfigError::new(
                format!("{at}.allow_credentials"),
                "browsers refuse credentials with a \"*\" origin: list the origins",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            origins: f.allow_origins.clone(),
            headers: f
                .allow_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            expose: f.expose_headers.join(", "),
            max_age: f.max_age_seconds.unwrap_or(600),
            credentials: f.allow_credentials,
        })
    }

    /// Adds what a protocol needs browsers to send (`allow`) and read (`expose`), e.g. tus's
    /// headers on a tus route (src/tus.rs), to what the operator listed.
    pub fn with_protocol(mut self, allow: &[&str], expose: &[&str]) -> Self {
        for h in allow {
            let h = h.to_ascii_lowercase();
            if !self.headers.contains(&h) {
                self.headers.push(h);
            }
        }
        let listed: Vec<String> = self
            .expose
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        for h in expose {
            if !listed.contains(&h.to_ascii_lowercase()) {
                if !self.expose.is_empty() {
                    self.expose.push_str(", ");
                }
                self.expose.push_str(h);
            }
        }
        self
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }

    /// The preflight answer's headers, or why it is refused. `method` is the route's match
    /// already; `requested` is `Access-Control-Request-Headers`.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        requested: &str,
    ) -> Result<Vec<(&'static str, String)>, String> {
        if !self.allows_origin(origin) {
            return Err(format!("origin {origin} is not allowed"));
        }
        let asked: Vec<String> = requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if let Some(h) = asked
            .iter()
            .find(|h| !SAFELISTED.contains(&h.as_str()) && !self.headers.contains(h))
        {
            return Err(format!("request header {h} is not allowed"));
        }
        let mut out = self.response_headers(origin);
        out.push(("Access-Control-Allow-Methods", method.to_string()));
        if !asked.is_empty() {
            out.push(("Access-Control-Allow-Headers", asked.join(", ")));
        }
        out.push(("Access-Control-Max-Age", self.max_age.to_string()));
        Ok(out)
    }

    /// Headers for a real response to an allowed `origin`.
    pub fn response_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let any = self.origins.iter().any(|o| o == "*") && !self.credentials;
        let mut out = vec![(
            "Access-Control-Allow-Origin",
            if any {
                "*".to_string()
            } else {
                origin.to_string()
            },
        )];
        out.push(("Vary", "Origin".into()));
        if self.credentials {
            out.push(("Access-Control-Allow-Credentials", "true".into()));
        }
        if !self.expose.is_empty() {
            out.push(("Access-Control-Expose-Headers", self.expose.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(toml_text: &str) -> Cors {
        let f: CorsFile = toml::from_str(toml_text).unwrap();
        Cors::from_config(&f, "routes[0].cors").unwrap()
    }

    #[test]
    fn preflights_name_what_is_allowed() {
        let c = cors(
            "allow_origins = [\"https://app.example.com\"]\nallow_headers = [\"Authorization\"]",
        );
        let h = c
            .preflight(
                "https://app.example.com",
                "POST",
                "authorization, content-type",
            )
            .unwrap();
        assert!(h.contains(&(
            "Access-Control-Allow-Origin",
            "https://app.example.com".into()
        )));
        assert!(h.contains(&("Access-Control-Allow-Methods", "POST".into())));
        assert!(h.contains(&(
            "Access-Control-Allow-Headers",
            "authorization, content-type".into()
        )));
        assert!(c.preflight("https://evil.example", "POST", "").is_err());
        assert!(
            c.preflight("https://app.example.com", "POST", "x-other")
                .is_err()
        );
        assert!(c.preflight("null", "POST", "").is_err());
    }

    #[test]
    fn origins_are_checked_in_config() {
        let f: CorsFile = toml::from_str(
            "allow_origins = [\"https://a.example/\", \"*\"]\nallow_credentials = true",
        )
        .unwrap();
        let e = Cors::from_config(&f, "c").unwrap_err();
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["c.allow_origins[0]", "c.allow_credentials"]);
    }
}
