//! The `[routes.auth]` TOML structs, as operators write them; `Authenticator::from_config`
//! (src/auth.rs) validates them.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// Header the credential is read from (default `authorization`, which needs `Bearer `).
    #[serde(default = "default_credential_header")]
    pub credential_header: String,
    /// Remove the credential header before forwarding (default true).
    #[serde(default = "yes")]
    pub strip_credential: bool,
    /// Header naming the organisation the request acts for (default `x-organization-id`).
    #[serde(default = "default_tenant_header")]
    pub tenant_header: String,
    /// API keys file (TOML, keys listed by SHA-256); relative to the config file.
    pub api_keys_file: Option<String>,
    /// Key prefix to mode, e.g. `so_live_ = "live"`, `so_test_ = "test"` (these by default).
    #[serde(default = "default_prefixes")]
    pub api_key_prefixes: BTreeMap<String, String>,
    pub jwt: Option<JwtFile>,
    #[serde(default)]
    pub upstream_headers: IdentityHeadersFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtFile {
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Vec<String>,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Claim holding scopes; default: `scope` (space-delimited) then `scp` (string or array).
    pub scope_claim: Option<String>,
    /// Claim naming the subject's own tenant (default `org_id`).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Claim listing the organisations the subject may act for (default `orgs`).
    #[serde(default = "default_orgs_claim")]
    pub orgs_claim: String,
    /// Claim naming the caller's quota tier (default `tier`; see `[quotas]`).
    #[serde(default = "default_tier_claim")]
    pub tier_claim: String,
    pub keys: Vec<JwtKeyFile>,
}

/// One verification key (or a JWKS of them) with an explicit algorithm allowlist. Exactly one
/// of the sources must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyFile {
    pub kid: Option<String>,
    pub algorithms: Vec<String>,
    pub secret_env: Option<String>,
    pub secret_file: Option<String>,
    pub public_key_file: Option<String>,
    pub jwks_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityHeadersFile {
    #[serde(default = "h_subject")]
    pub subject: String,
    #[serde(default = "h_tenant")]
    pub tenant: String,
    #[serde(default = "h_scopes")]
    pub scopes: String,
    #[serde(default = "h_mode")]
    pub mode: String,
    #[serde(default = "h_key_label")]
    pub key_label: String,
}

impl Default for IdentityHeadersFile {
    fn default() -> Self {
        Self {
            subject: h_subject(),
            tenant: h_tenant(),
            scopes: h_scopes(),
            mode: h_mode(),
            key_label: h_key_label(),
        }
    }
}

fn default_credential_header() -> String {
    "authorization".into()
}
fn yes() -> bool {
    true
}
fn default_tenant_header() -> String {
    "x-organization-id".into()
}
fn default_prefixes() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("so_live_".into(), "live".into()),
        ("so_test_".into(), "test".into()),
    ])
}
fn default_leeway() -> u64 {
    30
}
fn default_tenant_claim() -> String {
    "org_id".into()
}
fn default_tier_claim() -> String {
    "tier".into()
}
fn default_orgs_claim() -> String {
    "orgs".into()
}
fn h_subject() -> String {
    "x-auth-subject".into()
}
fn h_tenant() -> String {
    "x-auth-tenant".into()
}
fn h_scopes() -> String {
    "x-auth-scopes".into()
}
fn h_mode() -> String {
    "x-auth-mode".into()
}
fn h_key_label() -> String {
    "x-auth-key-label".into()
}
