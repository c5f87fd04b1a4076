//! Identity and scopes, all in the header phase: the credential (bearer JWT or API key) is
//! verified, the route's scopes checked, the tenant chosen. A failure here means the body is
//! never read and the upstream never contacted.

mod jwt;
pub mod keys;

use crate::config::ConfigError;
use crate::config::file::{AuthFile, IdentityHeadersFile};
use crate::rejection::Rejection;
use keys::ApiKeys;
use std::path::Path;

/// Who is calling, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    /// The subject's own tenant.
    pub tenant: Option<String>,
    /// Organisations the subject may act for.
    pub orgs: Vec<String>,
    pub scopes: Vec<String>,
    /// `live` or `test` (API keys by prefix; JWTs are live).
    pub mode: String,
    pub key_label: Option<String>,
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
    pub credential_header: String,
    pub strip_credential: bool,
    pub tenant_header: String,
    pub headers: IdentityHeadersFile,
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
        let mut errors = Vec::new();
        let jwt = match &f.jwt {
            Some(j) => jwt::JwtVerifier::from_config(j, base, "auth.jwt")
                .map_err(|mut e| errors.append(&mut e))
                .ok(),
            None => None,
        };
        let keys = match &f.api_keys_file {
            Some(file) => {
                let p = base.join(file);
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))
                    .and_then(|t| ApiKeys::parse(&t, f.api_key_prefixes.clone()))
                    .map_err(|m| errors.push(ConfigError::new("auth.api_keys_file", m)))
                    .ok()
            }
            None => None,
        };
        if f.jwt.is_none() && f.api_keys_file.is_none() {
            errors.push(ConfigError::new(
                "auth",
                "configure [auth.jwt] and/or api_keys_file",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            jwt,
            keys,
            credential_header: f.credential_header.to_ascii_lowercase(),
            strip_credential: f.strip_credential,
            tenant_header: f.tenant_header.to_ascii_lowercase(),
            headers: IdentityHeadersFile {
                subject: f.upstream_headers.subject.to_ascii_lowercase(),
                tenant: f.upstream_headers.tenant.to_ascii_lowercase(),
                scopes: f.upstream_headers.scopes.to_ascii_lowercase(),
                mode: f.upstream_headers.mode.to_ascii_lowercase(),
                key_label: f.upstream_headers.key_label.to_ascii_lowercase(),
            },
        })
    }

    /// The identity headers the gateway owns upstream (client copies are always removed).
    pub fn identity_header_names(&self) -> [&str; 5] {
        let h = &self.headers;
        [&h.subject, &h.tenant, &h.scopes, &h.mode, &h.key_label]
    }

    /// Extracts the credential from the values of the credential header.
    pub fn credential<'a>(&self, header: &str, values: &[&'a [u8]]) -> Result<&'a str, Rejection> {
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
        match (header == "authorization", bearer) {
            (_, Some(token)) if !token.is_empty() => Ok(token),
            (true, _) => Err(Rejection::Unauthorized(
                "expected an Authorization: Bearer credential".into(),
            )),
            (false, _) if !value.trim().is_empty() => Ok(value.trim()),
            _ => Err(Rejection::Unauthorized("missing credential".into())),
        }
    }

    /// Verifies a credential: a JWT (three dot-separated parts) or an API key.
    pub fn authenticate(&self, credential: &str, now_unix: u64) -> Result<Identity, Rejection> {
        if let Some(keys) = &self.keys
            && keys.mode_of(credential).is_some()
        {
            return keys.verify(credential, now_unix);
        }
        match &self.jwt {
            Some(jwt) if credential.split('.').count() == 3 => jwt.verify(credential),
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

#[cfg(test)]
mod tests;
