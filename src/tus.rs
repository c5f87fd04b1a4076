//! tus 1.0 resumable uploads in front of an existing tus server (tusd, @tus/server, …): what a
//! request asks (creation, PATCH, HEAD, termination), the per-upload record the gateway keeps
//! between requests and instances, and the rules that are pure. The request glue lives in
//! src/proxy/tus.rs; docs/ARCHITECTURE.md, "Resumable uploads", tells the whole story.
//!
//! The policy applies per upload, not per request: the declared `filetype` and `Upload-Length`
//! are checked at creation (with a quota hold for the whole length), the bytes at offset 0 are
//! sniffed, every byte is counted and hashed once across requests, and the upload's final byte
//! waits until every check has passed.

pub mod file;
pub mod hash;
pub mod store;
mod stores;

use crate::config::error::ConfigError;
use crate::rejection::Rejection;
use base64::Engine;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The protocol version spoken (`Tus-Resumable`).
pub const VERSION: &str = "1.0.0";
/// The content type of a PATCH body (and of a creation-with-upload body).
pub const PATCH_TYPE: &str = "application/offset+octet-stream";
/// Headers a browser client sends (CORS `Access-Control-Allow-Headers` on a tus route).
pub const REQUEST_HEADERS: [&str; 7] = [
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Defer-Length",
    "Upload-Metadata",
    "Upload-Offset",
    "Upload-Concat",
    "Content-Type",
];
/// Headers a browser client must be able to read (CORS `Access-Control-Expose-Headers`).
pub const EXPOSED: [&str; 13] = [
    "X-Upload-Sha256",
    "X-Upload-Content-Type",
    "X-Upload-Size",
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
];

/// What happens to an upload whose whole-stream checks cannot follow a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostStream {
    Refuse,
    Continue,
}

/// A route's validated `[routes.tus]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusRules {
    pub expiry: Duration,
    pub lost_stream: LostStream,
}

impl TusRules {
    pub fn from_config(f: &file::TusFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let lost_stream = match f.lost_stream.as_deref() {
            None | Some("refuse") => LostStream::Refuse,
            Some("continue") => LostStream::Continue,
            Some(other) => {
                errors.push(ConfigError::new(
                    format!("{at}.lost_stream"),
                    format!("{other:?} is not \"refuse\" or \"continue\""),
                ));
                LostStream::Refuse
            }
        };
        let expiry = f.expiry_seconds.unwrap_or(86_400);
        if expiry == 0 {
            errors.push(ConfigError::new(
                format!("{at}.expiry_seconds"),
                "an upload must live for at least a second",
            ));
        }
        match errors.is_empty() {
            true => Ok(Self {
                expiry: Duration::from_secs(expiry),
                lost_stream,
            }),
            false => Err(errors),
        }
    }
}

/// What a request on a tus route asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// `POST`: a new upload (with its first bytes when `with_upload`).
    Create {
        length: Option<u64>,
        meta: Metadata,
        with_upload: bool,
    },
    /// `PATCH` at `offset`, declaring a deferred length when `length` is set.
    Patch { offset: u64, length: Option<u64> },
    /// `HEAD`: where the upload stands.
    Head,
    /// `GET`: the upload's bytes, where the tus server serves them (owner only, like `HEAD`).
    Get,
    /// `DELETE`: termination.
    Delete,
    /// Anything else (`OPTIONS`): passed through.
    Other,
}

/// The `filename` and `filetype` of `Upload-Metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub filename: Option<String>,
    pub filetype: Option<String>,
}

fn one<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Rejection> {
    let mut all = headers.get_all(name).iter();
    let (Some(v), None) = (all.next(), all.next()) else {
        return match headers.contains_key(name) {
            true => Err(Rejection::BadRequest(format!(
                "{name} is sent more than once"
            ))),
            false => Ok(None),
        };
    };
    v.to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| Rejection::BadRequest(format!("{name} is not visible ASCII")))
}

/// A non-negative decimal of at most 19 digits (tus: "a non-negative integer").
fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Rejection> {
    let Some(v) = one(headers, name)? else {
        return Ok(None);
    };
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::BadRequest(format!(
            "{name} must be a non-negative integer"
        )));
    }
    v.parse()
        .map(Some)
        .map_err(|_| Rejection::BadRequest(format!("{name} is out of range")))
}

/// Reads what a request asks (`content_length`: the request's, read by the one rule in
/// src/proxy/read.rs). Every request but `OPTIONS` and `GET` (not tus requests) must speak
/// tus 1.0.0.
pub fn ask(
    method: &str,
    headers: &HeaderMap,
    content_length: Option<u64>,
) -> Result<Ask, Rejection> {
    match method {
        "OPTIONS" => return Ok(Ask::Other),
        "GET" => return Ok(Ask::Get),
        _ => {}
    }
    match one(headers, "tus-resumable")? {
        Some(VERSION) => {}
        _ => return Err(Rejection::UnsupportedVersion),
    }
    if headers.contains_key("upload-concat") {
        return Err(Rejection::Forbidden {
            message: "concatenated uploads (Upload-Concat) are not accepted on this route: their \
                      parts could not be inspected as one file"
                .into(),
            missing_scopes: Vec::new(),
        });
    }
    let body_type = one(headers, "content-type")?;
    let octets = body_type
        .is_some_and(|t| crate::media::canonical(t.split(';').next().unwrap_or("")) == PATCH_TYPE);
    match method {
        "POST" => {
            let length = number(headers, "upload-length")?;
            let deferred = one(headers, "upload-defer-length")?;
            match (length, deferred) {
                (Some(_), None) | (None, Some("1")) => {}
                (Some(_), Some(_)) => {
                    return Err(Rejection::BadRequest(
                        "Upload-Length and Upload-Defer-Length are exclusive".into(),
                    ));
                }
                (None, _) => {
                    return Err(Rejection::BadRequest(
                        "a new upload needs Upload-Length (or Upload-Defer-Length: 1)".into(),
                    ));
                }
            }
            let meta = match one(headers, "upload-metadata")? {
                Some(v) => metadata(v).map_err(Rejection::BadRequest)?,
                None => Metadata::default(),
            };
            if body_type.is_some() && !octets {
                return Err(Rejection::UnsupportedMediaType(format!(
                    "a creation request's body must be {PATCH_TYPE}"
                )));
            }
            let with_upload = octets && content_length != Some(0);
            Ok(Ask::Create {
                length,
                meta,
                with_upload,
            })
        }
        "PATCH" => {
            if !octets {
                return Err(Rejection::UnsupportedMediaType(format!(
                    "a PATCH body must be {PATCH_TYPE}"
                )));
            }
            let offset = number(headers, "upload-offset")?
                .ok_or_else(|| Rejection::BadRequest("a PATCH needs Upload-Offset".to_string()))?;
            let length = number(headers, "upload-length")?;
            Ok(Ask::Patch { offset, length })
        }
        "HEAD" => Ok(Ask::Head),
        "DELETE" => Ok(Ask::Delete),
        _ => Ok(Ask::Other),
    }
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone has no value). Keys
/// are unique; values of `filename` and `filetype` must be UTF-8.
pub fn metadata(v: &str) -> Result<Metadata, String> {
    let mut seen = std::collections::HashSet::new();
    let mut meta = Metadata::default();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = pair.split(' ');
        let key = it.next().unwrap_or_default();
        let value = it.next();
        if it.next().is_some() || key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("Upload-Metadata pair {pair:?} is malformed"));
        }
        if !seen.insert(key) {
            return Err(format!("Upload-Metadata key {key:?} is sent twice"));
        }
        let decoded = match value {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| format!("Upload-Metadata value of {key:?} is not base64"))?,
            None => Vec::new(),
        };
        let text = || {
            String::from_utf8(decoded.clone())
                .map_err(|_| format!("Upload-Metadata {key} is not UTF-8"))
        };
        match key {
            "filename" => meta.filename = Some(text()?),
            "filetype" => meta.filetype = Some(text()?),
            _ => {}
        }
    }
    Ok(meta)
}

/// The gateway's record of one upload, kept in the store between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// The declared length, once known.
    pub length: Option<u64>,
    /// Bytes the upstream acknowledged.
    pub offset: u64,
    pub declared: Option<String>,
    pub filename: Option<String>,
    /// The type sniffed from the bytes at offset 0, once decided.
    pub detected: Option<String>,
    /// The SHA-256 state at `offset` (src/tus/hash.rs).
    pub hash: String,
    /// After a request cut mid-body: the offsets it released, each with its hash state, so
    /// the upload continues wherever the upstream stopped.
    #[serde(default)]
    pub cut: Vec<(u64, String)>,
    /// The quota hold of the whole length (committed when the upload completes).
    pub hold: Option<String>,
    /// Bytes that hold counts.
    pub held: u64,
    /// Why the upload was refused and terminated.
    pub gone: Option<String>,
    /// The whole file's SHA-256, once complete.
    pub sha256: Option<String>,
}

impl UploadState {
    /// The hash state a request starting at `offset` continues from, if the upload stands
    /// there (its acknowledged offset, or one a cut request may have left the upstream at).
    pub fn hash_at(&self, offset: u64) -> Option<&str> {
        if offset == self.offset {
            return Some(&self.hash);
        }
        self.cut
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, h)| h.as_str())
    }
}

/// The store key of an upload: its path, scoped to the tenant and the credential that created
/// it, so nobody else finds it (a lookup by another caller is a 404).
pub fn state_key(bucket: &str, principal: &str, path: &str) -> String {
    let key = crate::idempotency::Fingerprint::of(&[bucket, principal, path]);
    format!("tus:{key}")
}

/// The path of a `Location` (absolute URL or absolute path).
pub fn location_path(location: &str) -> Option<String> {
    let rest = match location.split_once("://") {
        Some((_, after)) => &after[after.find('/')?..],
        None => location,
    };
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    path.starts_with('/').then(|| path.to_string())
}

#[cfg(test)]
mod tests;
