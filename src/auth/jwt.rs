//! JWT verification: keys from config (HMAC secrets, PEM public keys, JWKS files), each with
//! an explicit algorithm allowlist, so no `none` and no algorithm confusion.

use super::file::{JwtFile, JwtKeyFile};
use super::{Identity, Mode};
use crate::config::error::ConfigError;
use crate::rejection::Rejection;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::path::Path;
use std::str::FromStr;

struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// Verifies bearer JWTs and turns their claims into an [`Identity`].
pub struct JwtVerifier {
    keys: Vec<Key>,
    issuer: Option<String>,
    audience: Vec<String>,
    leeway: u64,
    scope_claim: Option<String>,
    tenant_claim: String,
    orgs_claim: String,
    tier_claim: String,
}

fn unauthorized(m: &str) -> Rejection {
    Rejection::Unauthorized(m.to_string())
}

impl JwtVerifier {
    pub fn from_config(f: &JwtFile, base: &Path, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut keys = Vec::new();
        if f.keys.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.keys"),
                "configure at least one key",
            ));
        }
        for (i, k) in f.keys.iter().enumerate() {
            match load_key(k, base) {
                Ok(mut loaded) => keys.append(&mut loaded),
                Err(m) => errors.push(ConfigError::new(format!("{at}.keys[{i}]"), m)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            keys,
            issuer: f.issuer.clone(),
            audience: f.audience.clone(),
            leeway: f.leeway_seconds,
            scope_claim: f.scope_claim.clone(),
            tenant_claim: f.tenant_claim.clone(),
            orgs_claim: f.orgs_claim.clone(),
            tier_claim: f.tier_claim.clone(),
        })
    }

    /// Verifies `token` and extracts the identity.
    pub fn verify(&self, token: &str) -> Result<Identity, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthorized("malformed token (or unsupported algorithm such as 'none')")
        })?;
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) => {
                let by_kid: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if by_kid.is_empty() {
                    return Err(unauthorized("unknown key id (kid)"));
                }
                by_kid
            }
            None => self.keys.iter().filter(|k| k.kid.is_none()).collect(),
        };
        let usable: Vec<&Key> = candidates
            .into_iter()
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        if usable.is_empty() {
            return Err(unauthorized(&format!(
                "algorithm {:?} is not accepted for this key",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        // A configured issuer or audience must be present, not only match when present
        // (RFC 8725 §3.8-3.9): a token minted for another service with the same key has none.
        let mut required = vec!["exp"];
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        let mut last = unauthorized("bad signature");
        for key in usable {
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return self.identity(&data.claims),
                Err(e) => last = unauthorized(describe(e.kind())),
            }
        }
        Err(last)
    }

    /// The identity the claims name. A token without a usable subject, or with an empty or
    /// control-character subject, tenant or organisation, is refused: such callers would share
    /// one record in every store.
    fn identity(&self, claims: &Value) -> Result<Identity, Rejection> {
        let scopes = match &self.scope_claim {
            Some(c) => strings(&claims[c.as_str()]),
            None if claims.get("scope").is_some() => strings(&claims["scope"]),
            None => strings(&claims["scp"]),
        };
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if super::valid_name(s) => s.clone(),
            _ => return Err(unauthorized("the token has no usable subject (sub)")),
        };
        let tenant = match claims.get(self.tenant_claim.as_str()) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if super::valid_name(t) => Some(t.clone()),
            Some(_) => {
                return Err(unauthorized(&format!(
                    "the token's {} claim is not a usable organisation name",
                    self.tenant_claim
                )));
            }
        };
        let orgs = strings(&claims[self.orgs_claim.as_str()]);
        if orgs.iter().any(|o| !super::valid_name(o)) {
            return Err(unauthorized(&format!(
                "the token's {} claim holds an unusable organisation name",
                self.orgs_claim
            )));
        }
        let issuer = claims["iss"].as_str().unwrap_or_default();
        Ok(Identity {
            principal: format!("jwt:{issuer:?}:{subject:?}"),
            subject,
            tenant,
            orgs,
            tier: claims[self.tier_claim.as_str()]
                .as_str()
                .map(str::to_string),
            scopes,
            mode: Mode::Live,
            key_label: None,
        })
    }
}

/// A claim as a list: a space-delimited string or an array of strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid (nbf)",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => "token lacks the issuer (iss) claim",
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => "token lacks the audience (aud) claim",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim (exp)",
        ErrorKind::InvalidAlgorithm => "algorithm not accepted",
        _ => "malformed token",
    }
}

fn read(base: &Path, file: &str) -> Result<Vec<u8>, String> {
    let p = base.join(file);
    std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn load_key(k: &JwtKeyFile, base: &Path) -> Result<Vec<Key>, String> {
    let algorithms = k
        .algorithms
        .iter()
        .map(|a| Algorithm::from_str(a).map_err(|_| format!("unknown algorithm {a:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    if algorithms.is_empty() {
        return Err("algorithms must list at least one algorithm".into());
    }
    let sources = [
        &k.secret_env,
        &k.secret_file,
        &k.public_key_file,
        &k.jwks_file,
    ];
    if sources.iter().filter(|s| s.is_some()).count() != 1 {
        return Err(
            "set exactly one of secret_env, secret_file, public_key_file, jwks_file".into(),
        );
    }
    let hmac = algorithms
        .iter()
        .all(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
    let asym = algorithms
        .iter()
        .all(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
    let single = |key: DecodingKey| {
        vec![Key {
            kid: k.kid.clone(),
            algorithms: algorithms.clone(),
            key,
        }]
    };
    if let Some(var) = &k.secret_env {
        if !hmac {
            return Err("secrets only go with HS256/HS384/HS512".into());
        }
        let secret =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        return Ok(single(DecodingKey::from_secret(secret.as_bytes())));
    }
    if let Some(file) = &k.secret_file {
        if !hmac {
            return Err("secrets only go with HS256/HS384/HS512".into());
        }
        let secret = read(base, file)?;
        return Ok(single(DecodingKey::from_secret(secret.trim_ascii())));
    }
    if !asym {
        return Err("public keys and JWKS go with RS*/PS*/ES*/EdDSA only".into());
    }
    if let Some(file) = &k.public_key_file {
        let pem = read(base, file)?;
        let key = match algorithms[0] {
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(&pem),
            _ => DecodingKey::from_rsa_pem(&pem),
        }
        .map_err(|e| format!("cannot load the public key in {file}: {e}"))?;
        return Ok(single(key));
    }
    let file = k.jwks_file.as_deref().unwrap_or_default();
    let set: JwkSet = serde_json::from_slice(&read(base, file)?)
        .map_err(|e| format!("{file} is not a JWKS: {e}"))?;
    set.keys
        .iter()
        .map(|jwk| {
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("bad key in {file}: {e}"))?;
            let algs: Vec<Algorithm> = match jwk.common.key_algorithm {
                Some(ka) => {
                    let a = Algorithm::from_str(&ka.to_string()).ok();
                    algorithms
                        .iter()
                        .copied()
                        .filter(|x| Some(*x) == a)
                        .collect()
                }
                None => algorithms.clone(),
            };
            Ok(Key {
                kid: jwk.common.key_id.clone(),
                algorithms: algs,
                key,
            })
        })
        .collect()
}
