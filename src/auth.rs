//! Identity and scopes, all in the header phase: the credential (bearer JWT or API key) is
//! verified, the route's scopes checked, the tenant chosen. A failure here means the body is
//! never read and the upstream never contacted.

pub mod file;
mod jwt;
pub mod keys;

use crate::config::error::{Collector, ConfigError, header_name};
use crate::rejection::Rejection;
use file::{AuthFile, IdentityHeadersFile};
use http::header::{AUTHORIZATION, HeaderName};
use keys::ApiKeys;
use std::collections::BTreeMap;
use std::path::Path;

/// Whether a credential may touch live data or only a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    /// The name sent upstream (`x-auth-mode`) and written in key prefixes' config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

/// The identity headers the gateway sets upstream.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub subject: HeaderName,
    pub tenant: HeaderName,
    pub scopes: HeaderName,
    pub mode: HeaderName,
    pub key_label: HeaderName,
}

/// Who is calling, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who the credential names: the JWT's `sub`, `key:<label>` for an API key (labels may repeat).
    pub subject: String,
    /// The credential's unique identity, the key of everything it owns in the stores: the API
    /// key's own hash (`key:<sha256>`), the JWT's issuer and subject (`jwt:"iss":"sub"`).
    pub principal: String,
    /// The subject's own tenant.
    pub tenant: Option<String>,
    /// Organisations the subject may act for.
    pub orgs: Vec<String>,
    /// The quota tier the credential names (JWT claim or key entry), if any.
    pub tier: Option<String>,
    pub scopes: Vec<String>,
    /// API keys by prefix; JWTs are live.
    pub mode: Mode,
    pub key_label: Option<String>,
}

/// Whether `name` may name a subject, tenant or organisation: not empty, no control character,
/// and not starting with [`PRINCIPAL_BUCKET`] (that namespace holds callers without a tenant).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(PRINCIPAL_BUCKET) && !name.chars().any(char::is_control)
}

/// The first character of a quota bucket that belongs to a credential without a tenant, so
/// no tenant's bucket can be named like it.
pub const PRINCIPAL_BUCKET: char = '~';

impl Identity {
    /// The quota bucket a request spends from: its tenant's, else the credential's own.
    pub fn bucket(&self, tenant: Option<&str>) -> String {
        match tenant {
            Some(t) => t.to_string(),
            None => format!("{PRINCIPAL_BUCKET}{}", self.principal),
        }
    }
}

/// A route's scope requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRule {
    pub all_of: Vec<String>,
    pub any_of: Vec<String>,
}

impl ScopeRule {
    /// Extra scopes never hurt; missing ones are listed.
    pub fn check(&self, granted: &[String]) -> Result<(), Rejection> {
        let has = |s: &String| granted.contains(s);
        let mut missing: Vec<String> = self.all_of.iter().filter(|s| !has(s)).cloned().collect();
        let mut message = Vec::new();
        if !missing.is_empty() {
            message.push(format!("missing scope(s): {}", missing.join(" ")));
        }
        if !self.any_of.is_empty() && !self.any_of.iter().any(has) {
            message.push(format!("needs one of: {}", self.any_of.join(" ")));
            missing.extend(self.any_of.iter().cloned());
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Rejection::Forbidden {
            message: message.join("; "),
            missing_scopes: missing,
        })
    }
}

/// Verifies credentials with the configured JWT keys and API keys.
pub struct Authenticator {
    jwt: Option<jwt::JwtVerifier>,
    keys: Option<ApiKeys>,
    pub credential_header: HeaderName,
    pub strip_credential: bool,
    /// Every credential header named anywhere in the config (`[auth]` and each route's).
    pub credential_headers: Vec<HeaderName>,
    pub tenant_header: HeaderName,
    pub headers: IdentityHeaders,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("credential_header", &self.credential_header)
            .finish()
    }
}

impl Authenticator {
    /// Loads keys relative to `base` (the config file's directory).
    pub fn from_config(f: &AuthFile, base: &Path) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Collector::default();
        let jwt = f
            .jwt
            .as_ref()
            .and_then(|j| errors.take(jwt::JwtVerifier::from_config(j, base, "auth.jwt")));
        let prefixes = prefixes(&f.api_key_prefixes, &mut errors);
        let keys = f.api_keys_file.as_ref().and_then(|file| {
            let p = base.join(file);
            std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))
                .and_then(|t| ApiKeys::parse(&t, prefixes))
                .map_err(|m| errors.push("auth.api_keys_file", m))
                .ok()
        });
        if f.jwt.is_none() && f.api_keys_file.is_none() {
            errors.push("auth", "configure [auth.jwt] and/or api_keys_file");
        }
        let mut header = |at: &str, name: &str| {
            errors
                .take_one(header_name(name, format!("auth.{at}")))
                .unwrap_or(AUTHORIZATION)
        };
        let credential_header = header("credential_header", &f.credential_header);
        let tenant_header = header("tenant_header", &f.tenant_header);
        let h: &IdentityHeadersFile = &f.upstream_headers;
        let headers = IdentityHeaders {
            subject: header("upstream_headers.subject", &h.subject),
            tenant: header("upstream_headers.tenant", &h.tenant),
            scopes: header("upstream_headers.scopes", &h.scopes),
            mode: header("upstream_headers.mode", &h.mode),
            key_label: header("upstream_headers.key_label", &h.key_label),
        };
        errors.finish(|| Self {
            jwt,
            keys,
            credential_header: credential_header.clone(),
            strip_credential: f.strip_credential,
            credential_headers: vec![credential_header],
            tenant_header,
            headers,
        })
    }

    /// The identity headers the gateway owns upstream (client copies are always removed).
    pub fn identity_header_names(&self) -> [&HeaderName; 5] {
        let h = &self.headers;
        [&h.subject, &h.tenant, &h.scopes, &h.mode, &h.key_label]
    }

    /// Extracts the credential from the values of the credential header.
    pub fn credential<'a>(
        &self,
        header: &HeaderName,
        values: &[&'a [u8]],
    ) -> Result<&'a str, Rejection> {
        let value = match values {
            [] => return Err(Rejection::Unauthorized("missing credential".into())),
            [v] => std::str::from_utf8(v)
                .map_err(|_| Rejection::Unauthorized("malformed credential".into()))?,
            _ => {
                return Err(Rejection::Unauthorized(
                    "more than one credential header".into(),
                ));
            }
        };
        let bearer = value
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map(|_| value[7..].trim());
        match (header == AUTHORIZATION, bearer) {
            (_, Some(token)) if !token.is_empty() => Ok(token),
            (true, _) => Err(Rejection::Unauthorized(
                "expected an Authorization: Bearer credential".into(),
            )),
            (false, _) if !value.trim().is_empty() => Ok(value.trim()),
            _ => Err(Rejection::Unauthorized("missing credential".into())),
        }
    }

    /// Verifies a credential: an API key with a configured prefix; else a JWT (three
    /// dot-separated parts) when JWTs are configured; else, with an empty prefix configured
    /// (unprefixed keys), an API key.
    pub fn authenticate(&self, credential: &str, now_unix: u64) -> Result<Identity, Rejection> {
        let key_mode = self.keys.as_ref().and_then(|k| k.mode_of(credential));
        let jwt_shaped = credential.split('.').count() == 3;
        match (&self.keys, key_mode, &self.jwt) {
            (Some(keys), Some((_, true)), _) => keys.verify(credential, now_unix),
            (_, _, Some(jwt)) if jwt_shaped => jwt.verify(credential),
            (Some(keys), Some((_, false)), _) => keys.verify(credential, now_unix),
            _ => Err(Rejection::Unauthorized("malformed credential".into())),
        }
    }

    /// The tenant the request acts as: the requested organisation if the subject may act for
    /// it, else the subject's own tenant.
    pub fn tenant(
        identity: &Identity,
        requested: Option<&str>,
    ) -> Result<Option<String>, Rejection> {
        match requested {
            None => Ok(identity.tenant.clone()),
            Some(org)
                if identity.tenant.as_deref() == Some(org)
                    || identity.orgs.iter().any(|o| o == org) =>
            {
                Ok(Some(org.to_string()))
            }
            Some(org) => Err(Rejection::Forbidden {
                message: format!("not allowed to act for organisation {org:?}"),
                missing_scopes: Vec::new(),
            }),
        }
    }
}

fn prefixes(f: &BTreeMap<String, String>, errors: &mut Collector) -> BTreeMap<String, Mode> {
    f.iter()
        .filter_map(|(prefix, mode)| match Mode::parse(mode) {
            Some(m) => Some((prefix.clone(), m)),
            None => {
                errors.push(
                    format!("auth.api_key_prefixes.{prefix}"),
                    format!("{mode:?} is not a mode: use \"live\" or \"test\""),
                );
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
