//! Idempotency keys (IETF httpapi `Idempotency-Key` draft) per route: the first response to a
//! key is stored for a TTL and replayed to repeats without reaching the upstream. A key is
//! scoped to the route, the tenant and the credential (never a label or a bare subject); its record lives in the quota store
//! (memory, or Redis so every instance agrees). See docs/ARCHITECTURE.md, "Idempotency".
//!
//! The lifecycle of a key: *claimed* (a pending marker with a lock TTL, atomically, only when
//! the key holds nothing), then *completed* with the response (status < 500, body within the
//! cap, the request's whole payload seen) or *released* (every other outcome, so the client may
//! retry). A repeat of a pending key is 409; of a completed key with another payload fingerprint
//! 422; with the same fingerprint, the stored response with `Idempotent-Replayed: true`.

mod stores;

use crate::config::error::{ConfigError, header_name};
use crate::quota::error::StoreError;
use async_trait::async_trait;
use http::HeaderName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `[routes.idempotency]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyFile {
    /// The request header carrying the key (default `Idempotency-Key`).
    pub header: Option<String>,
    /// How long a completed response is replayed (default 86400).
    pub ttl_seconds: Option<u64>,
    /// Refuse requests without a key (400; default false).
    #[serde(default)]
    pub required: bool,
    /// Without a key, derive one from the caller and the payload fingerprint (default false).
    #[serde(default)]
    pub derive: bool,
    /// Responses with a larger body are not stored (default 65536).
    pub max_response_bytes: Option<usize>,
    /// How long a claimed key stays locked if its instance dies mid-request (default 600).
    pub lock_seconds: Option<u64>,
    /// Response headers stored and replayed (default: content-type, location, etag,
    /// last-modified, cache-control, content-language).
    pub replay_headers: Option<Vec<String>>,
}

/// A route's validated idempotency rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub header: HeaderName,
    pub ttl_ms: u64,
    pub required: bool,
    pub derive: bool,
    pub max_response_bytes: usize,
    pub lock_ms: u64,
    pub replay_headers: Vec<HeaderName>,
}

const DEFAULT_REPLAY: [&str; 6] = [
    "content-type",
    "location",
    "etag",
    "last-modified",
    "cache-control",
    "content-language",
];

/// The draft's limit on a key's length; keys are visible ASCII.
const MAX_KEY: usize = 255;

impl Idempotency {
    pub fn from_config(f: &IdempotencyFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut name = |n: &str, field: &str| {
            header_name(n, format!("{at}.{field}"))
                .map_err(|e| errors.push(e))
                .ok()
        };
        let header = name(f.header.as_deref().unwrap_or("idempotency-key"), "header");
        let replay: Vec<Option<HeaderName>> = match &f.replay_headers {
            Some(list) => list.iter().map(|h| name(h, "replay_headers")).collect(),
            None => DEFAULT_REPLAY
                .iter()
                .map(|h| name(h, "replay_headers"))
                .collect(),
        };
        if f.required && f.derive {
            errors.push(ConfigError::new(
                format!("{at}.derive"),
                "a key cannot be both required and derived when absent: choose one",
            ));
        }
        for (v, field) in [
            (f.ttl_seconds, "ttl_seconds"),
            (f.lock_seconds, "lock_seconds"),
        ] {
            if v == Some(0) {
                errors.push(ConfigError::new(format!("{at}.{field}"), "must be > 0"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            header: header.expect("checked"),
            ttl_ms: f.ttl_seconds.unwrap_or(86_400) * 1000,
            required: f.required,
            derive: f.derive,
            max_response_bytes: f.max_response_bytes.unwrap_or(64 * 1024),
            lock_ms: f.lock_seconds.unwrap_or(600) * 1000,
            replay_headers: replay.into_iter().flatten().collect(),
        })
    }

    /// The key a request sent: `None` when absent, an error when malformed. A Structured Field
    /// string (`"…"`, as the draft writes it) and a bare token (as most clients send) are the same key.
    pub fn key_of(&self, values: &[&[u8]]) -> Result<Option<String>, String> {
        let raw = match values {
            [] => return Ok(None),
            [one] => *one,
            _ => return Err(format!("more than one {} header", self.header)),
        };
        let raw = raw.trim_ascii();
        let key = match raw {
            [b'"', inner @ .., b'"'] => inner,
            _ => raw,
        };
        let visible = key.iter().all(|b| (0x21..=0x7e).contains(b));
        if key.is_empty() || key.len() > MAX_KEY || !visible || key.contains(&b'"') {
            return Err(format!(
                "the {} header must be 1 to {MAX_KEY} visible ASCII characters",
                self.header
            ));
        }
        Ok(Some(String::from_utf8_lossy(key).into_owned()))
    }
}

/// The store key of `key` sent on `route` by the credential `principal` acting for `bucket`
/// (its tenant, or its own bucket without one; see `Identity::bucket`). Hashed: any bytes,
/// fixed length. Two tenants, or two credentials of one tenant, never share a record.
pub fn store_key(route: &str, bucket: &str, principal: &str, key: &str) -> String {
    Fingerprint::of(&[route, bucket, principal, key])
}

/// The key derived from the caller and the payload when the route derives absent keys.
pub fn derived_key(fingerprint: &str) -> String {
    format!("derived:{fingerprint}")
}

/// Hashes a payload's parts, each length-prefixed (no two sequences of parts collide).
#[derive(Clone, Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    /// Starts with what the request asks for: method, path and query.
    pub fn of_request(method: &str, path_and_query: &str) -> Self {
        let mut f = Self::default();
        f.add(method.as_bytes());
        f.add(path_and_query.as_bytes());
        f
    }

    /// The hex hash of `parts`: a store key scoped to them (the tenant, the credential…), so
    /// that no other sequence of parts finds the same record.
    pub fn of(parts: &[&str]) -> String {
        let mut f = Self::default();
        for part in parts {
            f.add(part.as_bytes());
        }
        f.hex()
    }

    pub fn add(&mut self, part: &[u8]) {
        self.0.update((part.len() as u64).to_be_bytes());
        self.0.update(part);
    }

    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A response as stored and replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Hex of the body.
    pub body: String,
}

/// What a key holds in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Record {
    /// A request holding the key is in flight (`owner`: its unique marker).
    Pending { owner: String },
    /// The first request completed: its payload fingerprint and response.
    Done {
        fingerprint: String,
        response: StoredResponse,
    },
}

impl Record {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("records serialize")
    }

    pub fn decode(s: &str) -> Result<Self, StoreError> {
        serde_json::from_str(s).map_err(|e| StoreError(format!("bad idempotency record: {e}")))
    }
}

/// Where key records live: the quota store's memory or Redis.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + std::fmt::Debug {
    /// Atomically: if `key` holds nothing, stores `value` for `ttl_ms` and returns `None`;
    /// otherwise returns what it holds.
    async fn claim(
        &self,
        key: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Result<Option<String>, StoreError>;
    /// Replaces the value if it still is `expected` (our claim); nothing otherwise.
    async fn replace(
        &self,
        key: &str,
        expected: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError>;
    /// Deletes the key if it still holds `expected`.
    async fn release(&self, key: &str, expected: &str) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests;
