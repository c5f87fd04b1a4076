//! The signed verdict for the backend (`[routes.verdict]`): when every file of an upload has
//! passed, the gateway appends two form fields before the closing delimiter it holds back —
//! the verdict (JSON: request id, time, route, subject, tenant, and per file its field, name,
//! detected type, size, SHA-256, dimensions, scan result) and its HMAC-SHA256 signature — so an
//! unmodified backend reads them with its ordinary multipart parser; the upstream body is then
//! sent chunked. A backend that checks the signature, the request id (`X-Request-Id`) and each
//! stored file's SHA-256 knows the bytes it stored are the bytes the gateway verified.

use crate::config::error::ConfigError;
use crate::file_report::FileReport;
use crate::multipart::{Event, Parser, boundary_from_content_type};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `[routes.verdict]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictFile {
    /// A file holding the HMAC key (≥ 32 bytes), relative to the config file.
    pub key_file: Option<String>,
    /// Or an environment variable holding it.
    pub key_env: Option<String>,
    /// The verdict's form field (default `upload_gateway_verdict`); the signature's is
    /// `<field>_signature`.
    pub field: Option<String>,
}

/// A route's validated verdict settings.
#[derive(Clone, PartialEq, Eq)]
pub struct VerdictSettings {
    key: Vec<u8>,
    pub field: String,
    pub signature_field: String,
}

impl std::fmt::Debug for VerdictSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictSettings")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// Reads an HMAC key from a file (trailing whitespace trimmed); at least 32 bytes.
pub fn read_key(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = text.trim_ascii_end().to_vec();
    if key.len() < 32 {
        return Err("the verdict key must have at least 32 bytes".into());
    }
    Ok(key)
}

impl VerdictSettings {
    pub fn from_config(
        f: &VerdictFile,
        at: &str,
        base: &std::path::Path,
    ) -> Result<Self, Vec<ConfigError>> {
        let err = |field: &str, m: String| vec![ConfigError::new(format!("{at}.{field}"), m)];
        let key = match (&f.key_file, &f.key_env) {
            (Some(file), None) => read_key(&base.join(file)).map_err(|m| err("key_file", m))?,
            (None, Some(env)) => {
                let k =
                    std::env::var(env).map_err(|_| err("key_env", format!("${env} is not set")))?;
                if k.len() < 32 {
                    return Err(err("key_env", "the key must have at least 32 bytes".into()));
                }
                k.into_bytes()
            }
            _ => {
                return Err(err(
                    "key_file",
                    "set key_file or key_env (one of them)".into(),
                ));
            }
        };
        let field = f
            .field
            .clone()
            .unwrap_or_else(|| "upload_gateway_verdict".into());
        let token = |c: u8| c.is_ascii_alphanumeric() || b"-_.".contains(&c);
        if field.is_empty() || !field.bytes().all(token) {
            return Err(err("field", "use letters, digits, -, _ and .".into()));
        }
        Ok(Self {
            key,
            signature_field: format!("{field}_signature"),
            field,
        })
    }

    /// Whether a client's part uses one of the verdict's field names.
    pub fn reserves(&self, name: &str) -> bool {
        name == self.field || name == self.signature_field
    }
}

/// Who and what the verdict is about (known in the header phase).
#[derive(Debug, Clone, Default)]
pub struct VerdictContext {
    pub request_id: String,
    pub route: String,
    pub subject: Option<String>,
    pub tenant: Option<String>,
}

/// The HMAC-SHA256 of `verdict`, as the signature field carries it: `sha256=<hex>`.
pub fn sign(key: &[u8], verdict: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(verdict);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The verdict JSON for `files`, issued at `now` (Unix seconds).
pub fn verdict_json(ctx: &VerdictContext, files: &[FileReport], now: u64) -> Vec<u8> {
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "field": f.field,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "width": f.dimensions.map(|d| d.0),
                "height": f.dimensions.map(|d| d.1),
                "scan": f.scan.as_ref().map(|v| v.as_str()),
            })
        })
        .collect();
    let v = json!({
        "version": 1,
        "request_id": ctx.request_id,
        "issued_at": now,
        "route": ctx.route,
        "subject": ctx.subject,
        "tenant": ctx.tenant,
        "files": files,
    });
    serde_json::to_vec(&v).expect("JSON")
}

/// The bytes inserted before the closing delimiter (`CRLF--boundary--`): two more parts.
pub fn parts(s: &VerdictSettings, boundary: &str, verdict: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(verdict.len() + 400);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\
             Content-Type: application/json\r\n\r\n",
            s.field
        )
        .as_bytes(),
    );
    out.extend_from_slice(verdict);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}",
            s.signature_field,
            sign(&s.key, verdict)
        )
        .as_bytes(),
    );
    out
}

/// What a backend checks, given the key: the signature over the verdict's exact bytes, its
/// age, the request id it was sent with, and that the files it received are the ones listed.
pub struct Expect<'a> {
    pub request_id: Option<&'a str>,
    pub max_age_secs: u64,
    pub now: u64,
}

/// Checks a signed verdict against the received files (field, SHA-256 and size, in order);
/// returns the verdict.
pub fn check(
    key: &[u8],
    verdict: &[u8],
    signature: &str,
    received: &[(String, String, u64)],
    expect: &Expect<'_>,
) -> Result<Value, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(verdict);
    let sig = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or("the signature is not sha256=<hex>")?;
    mac.verify_slice(&sig)
        .map_err(|_| "the signature does not match the verdict")?;
    let v: Value = serde_json::from_slice(verdict).map_err(|e| format!("bad verdict: {e}"))?;
    let issued = v["issued_at"]
        .as_u64()
        .ok_or("the verdict has no issued_at")?;
    if expect.now.abs_diff(issued) > expect.max_age_secs {
        return Err(format!(
            "the verdict was issued {issued}, not within {}s",
            expect.max_age_secs
        ));
    }
    if let Some(id) = expect.request_id
        && v["request_id"].as_str() != Some(id)
    {
        return Err("the verdict was issued for another request".into());
    }
    let listed: Vec<(String, String, u64)> = v["files"]
        .as_array()
        .ok_or("the verdict lists no files")?
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or("").to_string(),
                f["sha256"].as_str().unwrap_or("").to_string(),
                f["size"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    if listed != received {
        return Err("the files received are not the files the gateway verified".into());
    }
    Ok(v)
}

/// [`check`] over a whole received multipart body (what `upload-gateway verify` does).
pub fn check_body(
    key: &[u8],
    field: &str,
    content_type: &str,
    body: &[u8],
    expect: &Expect<'_>,
) -> Result<Value, String> {
    let boundary = boundary_from_content_type(content_type.as_bytes())?
        .ok_or("not a multipart/form-data content type")?;
    let mut parser = Parser::new(&boundary, 64 * 1024);
    parser.push(bytes::Bytes::copy_from_slice(body));
    let signature_field = format!("{field}_signature");
    let (mut files, mut verdict, mut signature) = (Vec::new(), None, None);
    let mut part: Option<(String, bool, Sha256, u64, Vec<u8>)> = None;
    while let Some(ev) = parser.poll()? {
        match ev {
            Event::PartStart(h) => {
                part = Some((h.name, h.filename.is_some(), Sha256::new(), 0, Vec::new()))
            }
            Event::Data(d) => {
                if let Some((name, file, hash, size, value)) = &mut part {
                    hash.update(&d);
                    *size += d.len() as u64;
                    if !*file && (name == field || *name == signature_field) {
                        value.extend_from_slice(&d);
                    }
                }
            }
            Event::PartEnd => {
                let Some((name, file, hash, size, value)) = part.take() else {
                    continue;
                };
                if file {
                    files.push((name, hex::encode(hash.finalize()), size));
                } else if name == field {
                    verdict = Some(value);
                } else if name == signature_field {
                    signature = Some(String::from_utf8_lossy(&value).into_owned());
                }
            }
            Event::Finished => {}
        }
    }
    parser.finish()?;
    let verdict = verdict.ok_or(format!("no {field} field"))?;
    let signature = signature.ok_or(format!("no {signature_field} field"))?;
    check(key, &verdict, &signature, &files, expect)
}

#[cfg(test)]
mod tests;
