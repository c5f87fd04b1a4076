//! Opaque API keys: a TOML file lists each key by its SHA-256 (never the plain key) with its
//! scopes, tenant, label and optional expiry; the mode (live/test) comes from the key prefix.

use super::{Identity, Mode};
use crate::rejection::Rejection;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

/// One `[[keys]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Lower-case hex SHA-256 of the full key, prefix included.
    pub sha256: String,
    pub label: String,
    pub tenant: Option<String>,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The quota tier (see `[quotas]`).
    pub tier: Option<String>,
    /// Unix seconds after which the key is refused.
    pub expires_at_unix: Option<u64>,
    /// `active` (default) or `disabled` (a known key refused with 403, as APIs answer for an
    /// inactive subscription).
    pub status: Option<String>,
}

/// The API keys, indexed by hash.
pub struct ApiKeys {
    by_hash: HashMap<[u8; 32], KeyEntry>,
    prefixes: BTreeMap<String, Mode>,
}

fn unauthorized(m: &str) -> Rejection {
    Rejection::Unauthorized(m.to_string())
}

impl ApiKeys {
    /// Parses a keys file; errors name the entry.
    pub fn parse(text: &str, prefixes: BTreeMap<String, Mode>) -> Result<Self, String> {
        let file: KeysFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_hash = HashMap::new();
        for (i, k) in file.keys.into_iter().enumerate() {
            let raw = hex::decode(&k.sha256)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok());
            let Some(hash) = raw else {
                return Err(format!("keys[{i}].sha256 must be 64 hex characters"));
            };
            for (what, name) in k
                .tenant
                .iter()
                .map(|t| ("tenant", t))
                .chain(k.orgs.iter().map(|o| ("orgs", o)))
                .chain([("label", &k.label)])
            {
                if !super::valid_name(name) {
                    return Err(format!(
                        "keys[{i}].{what}: {name:?} must be non-empty, without control \
                         characters, and not start with '{}'",
                        super::PRINCIPAL_BUCKET
                    ));
                }
            }
            if let Some(st) = &k.status
                && st != "active"
                && st != "disabled"
            {
                return Err(format!(
                    "keys[{i}].status: {st:?} is not a status: active or disabled"
                ));
            }
            by_hash.insert(hash, k);
        }
        Ok(Self { by_hash, prefixes })
    }

    /// The mode of `credential`'s longest configured prefix (an empty prefix, for unprefixed
    /// keys, matches everything), and whether that prefix is non-empty.
    pub fn mode_of(&self, credential: &str) -> Option<(Mode, bool)> {
        self.prefixes
            .iter()
            .filter(|(p, _)| credential.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(p, m)| (*m, !p.is_empty()))
    }

    /// Looks a key up by hash, compares in constant time, checks expiry.
    pub fn verify(&self, credential: &str, now_unix: u64) -> Result<Identity, Rejection> {
        let (mode, _) = self
            .mode_of(credential)
            .ok_or_else(|| unauthorized("malformed credential"))?;
        let hash: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        let entry = self
            .by_hash
            .get(&hash)
            .ok_or_else(|| unauthorized("unknown API key"))?;
        let stored = hex::decode(&entry.sha256).unwrap_or_default();
        if !constant_time_eq(&stored, &hash) {
            return Err(unauthorized("unknown API key"));
        }
        if entry.expires_at_unix.is_some_and(|t| now_unix >= t) {
            return Err(unauthorized("API key expired"));
        }
        if entry.status.as_deref() == Some("disabled") {
            return Err(Rejection::Forbidden {
                message: "this API key is disabled".into(),
                missing_scopes: Vec::new(),
            });
        }
        Ok(Identity {
            subject: format!("key:{}", entry.label),
            principal: format!("key:{}", hex::encode(hash)),
            tenant: entry.tenant.clone(),
            orgs: entry.orgs.clone(),
            tier: entry.tier.clone(),
            scopes: entry.scopes.clone(),
            mode,
            key_label: Some(entry.label.clone()),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh key with `prefix` (32 random bytes, hex) and its keys-file entry.
pub fn generate(
    prefix: &str,
    label: &str,
    tenant: Option<&str>,
    scopes: &[String],
) -> (String, String) {
    use rand::Rng;
    let secret: [u8; 32] = rand::rng().random();
    let key = format!("{prefix}{}", hex::encode(secret));
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    let scopes = scopes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let tenant = tenant
        .map(|t| format!("tenant = {t:?}\n"))
        .unwrap_or_default();
    let entry =
        format!("[[keys]]\nsha256 = \"{hash}\"\nlabel = {label:?}\n{tenant}scopes = [{scopes}]\n");
    (key, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> BTreeMap<String, Mode> {
        BTreeMap::from([
            ("so_live_".into(), Mode::Live),
            ("so_test_".into(), Mode::Test),
        ])
    }

    #[test]
    fn generated_key_verifies_with_its_entry() {
        let (key, entry) = generate("so_test_", "ci", Some("org_1"), &["media:read".into()]);
        let keys = ApiKeys::parse(&entry, prefixes()).unwrap();
        let id = keys.verify(&key, 0).unwrap();
        assert_eq!((id.mode, id.tenant.as_deref()), (Mode::Test, Some("org_1")));
        assert_eq!(id.scopes, vec!["media:read"]);
        assert!(keys.verify(&format!("{key}x"), 0).is_err());
        assert!(keys.verify("nope", 0).is_err());
    }

    #[test]
    fn a_key_entry_names_its_quota_tier() {
        let (key, entry) = generate("so_live_", "big", Some("org_1"), &[]);
        let keys = ApiKeys::parse(&format!("{entry}tier = \"pro\"\n"), prefixes()).unwrap();
        assert_eq!(keys.verify(&key, 0).unwrap().tier.as_deref(), Some("pro"));
        let plain = ApiKeys::parse(&entry, prefixes()).unwrap();
        assert_eq!(plain.verify(&key, 0).unwrap().tier, None);
    }

    #[test]
    fn a_key_is_its_own_principal_whatever_its_label() {
        let (a, ea) = generate("so_live_", "shared", Some("orgA"), &[]);
        let (b, eb) = generate("so_live_", "shared", Some("orgB"), &[]);
        let keys = ApiKeys::parse(&format!("{ea}{eb}"), prefixes()).unwrap();
        let (ia, ib) = (keys.verify(&a, 0).unwrap(), keys.verify(&b, 0).unwrap());
        assert_eq!(ia.subject, ib.subject);
        assert_ne!(ia.principal, ib.principal);
        assert!(ia.principal.starts_with("key:") && ia.principal.len() == 4 + 64);
    }

    #[test]
    fn empty_control_or_reserved_names_are_refused_in_the_keys_file() {
        for bad in ["\"\"", "\"org\\n1\"", "\"~org\""] {
            let (_, entry) = generate("so_live_", "k", None, &[]);
            let text = format!("{entry}tenant = {bad}\n");
            let err = ApiKeys::parse(&text, prefixes()).err().unwrap();
            assert!(err.contains("keys[0].tenant"), "{err}");
        }
        let (_, entry) = generate("so_live_", "", None, &[]);
        assert!(ApiKeys::parse(&entry, prefixes()).is_err());
    }

    #[test]
    fn expired_keys_are_refused() {
        let (key, entry) = generate("so_live_", "old", None, &[]);
        let keys = ApiKeys::parse(&format!("{entry}expires_at_unix = 100\n"), prefixes()).unwrap();
        assert!(keys.verify(&key, 99).is_ok());
        assert_eq!(
            keys.verify(&key, 100).unwrap_err(),
            Rejection::Unauthorized("API key expired".into())
        );
    }
}
