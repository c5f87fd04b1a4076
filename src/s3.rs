//! S3-compatible storage behind the gateway (`[routes.s3]`): presigned URLs and SDK requests
//! pass with their SigV4 signatures intact, so the storage still verifies them. The gateway
//! reads the credential scope's access key id (the caller's tenant, for quotas and metrics),
//! refuses any `x-amz-*` header the signature does not cover (an unsigned `x-amz-copy-source`
//! turns a presigned PUT into a CopyObject on some servers), and on an inspected route lets only
//! object uploads (PutObject) through: the raw body is inspected like any file
//! (src/inspect/framing.rs). It never adds or changes an `x-amz-*` header, the method, the raw
//! path, the query or `Host`. Pure: the proxy glue is in src/proxy.rs.

pub mod file;
pub mod multipart;
pub mod post;
mod sigv4;

use crate::config::error::ConfigError;
use crate::rejection::Rejection;
pub use file::S3File;
use std::collections::HashMap;

/// A route's validated S3 rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Rules {
    access_keys: HashMap<String, String>,
    /// Access key id → secret key, when the gateway verifies signatures itself.
    secrets: HashMap<String, Secret>,
    domains: Vec<String>,
    /// Multipart uploads pass an inspected route (src/s3/multipart.rs).
    pub multipart: bool,
    /// Presigned POST forms pass an inspected route (src/s3/post.rs).
    pub presigned_post: bool,
}

/// A secret access key; never printed.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Who signed a request, as its credential scope says (the storage checks the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key: String,
    pub tenant: String,
    /// The region of the credential scope.
    pub region: String,
    /// What the request does with bytes, on an inspected route.
    pub op: Option<multipart::Op>,
}

/// A request's SigV4 authorization, as read (verified by src/s3/sigv4.rs when configured).
#[derive(Debug, PartialEq, Eq)]
struct SigV4 {
    access_key: String,
    /// `yyyymmdd/region/service/aws4_request`.
    scope: String,
    /// Lower-case names of the signed headers, in the order signed.
    signed: Vec<String>,
    signature: String,
    /// `X-Amz-Date` (the query's when presigned, else the header's).
    date: Option<String>,
    /// `X-Amz-Expires` (presigned only).
    expires: Option<String>,
    presigned: bool,
}

fn denied(m: impl Into<String>) -> Rejection {
    Rejection::Forbidden {
        message: m.into(),
        missing_scopes: Vec::new(),
    }
}

impl S3Rules {
    /// Validates `[routes.s3]` (`at` is its dotted path).
    /// `base`: the directory relative secret files are read from.
    pub fn from_config(
        f: &S3File,
        at: &str,
        base: &std::path::Path,
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if f.access_keys.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.access_keys"),
                "name at least one access key id and its tenant",
            ));
        }
        for (key, tenant) in &f.access_keys {
            if !crate::auth::valid_name(tenant) {
                errors.push(ConfigError::new(
                    format!("{at}.access_keys.{key}"),
                    format!("{tenant:?} is not a valid tenant name"),
                ));
            }
        }
        let mut secrets = HashMap::new();
        for (key, source) in &f.secrets {
            let at = format!("{at}.secrets.{key}");
            if !f.access_keys.contains_key(key) {
                errors.push(ConfigError::new(
                    at,
                    "not an access key listed in access_keys",
                ));
                continue;
            }
            match read_secret(source, base) {
                Ok(secret) => {
                    secrets.insert(key.clone(), Secret(secret));
                }
                Err(why) => errors.push(ConfigError::new(at, why)),
            }
        }
        if !f.secrets.is_empty() {
            for key in f.access_keys.keys().filter(|k| !f.secrets.contains_key(*k)) {
                errors.push(ConfigError::new(
                    format!("{at}.secrets"),
                    format!(
                        "{key} has no secret: a gateway that verifies signatures verifies every \
                         key's"
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            access_keys: f.access_keys.clone().into_iter().collect(),
            secrets,
            multipart: f.multipart,
            presigned_post: f.presigned_post,
            domains: f.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        })
    }

    /// Header phase: the caller (a known access key), no unsigned `x-amz-*` header, and, on a
    /// route that inspects uploads (`inspected`), only an object upload.
    pub fn check(
        &self,
        req: &pingora::http::RequestHeader,
        inspected: bool,
    ) -> Result<Caller, Rejection> {
        let query = req.uri.query().unwrap_or("");
        if inspected && self.presigned_post && is_form_post(req, query) {
            return self.check_form_post(req);
        }
        let sig = sigv4(query, req)?;
        for name in req.headers.keys() {
            // `x-amz-` in any spelling (`_` for `-`), compared in place: no copy per header.
            let amz = name.as_str().as_bytes().get(..6).is_some_and(|p| {
                p.iter()
                    .zip(b"x-amz-")
                    .all(|(a, b)| a == b || (*a == b'_' && *b == b'-'))
            });
            if amz && !sig.signed.iter().any(|s| *s == name.as_str()) {
                return Err(denied(format!(
                    "the header {name} is not covered by the request's signature"
                )));
            }
        }
        let tenant = self
            .access_keys
            .get(&sig.access_key)
            .ok_or_else(|| denied("the access key is not known to this gateway"))?;
        if let Some(secret) = self.secrets.get(&sig.access_key) {
            sigv4::verify(&sig, req, query, &secret.0, crate::clock::now_unix())?;
        }
        let op = match inspected {
            true => Some(self.check_upload(req, query)?),
            false => None,
        };
        Ok(Caller {
            region: sig.scope.split('/').nth(1).unwrap_or_default().to_string(),
            access_key: sig.access_key,
            tenant: tenant.clone(),
            op,
        })
    }

    /// Only PutObject — and with `multipart`, the multipart upload's creation, parts and
    /// completion — carries bytes the gateway inspects: copies and bucket or sub-resource writes
    /// are refused on an inspected route.
    fn check_upload(
        &self,
        req: &pingora::http::RequestHeader,
        query: &str,
    ) -> Result<multipart::Op, Rejection> {
        let op = match multipart::op(&req.method, query) {
            Some(multipart::Op::PutObject) => multipart::Op::PutObject,
            Some(multipart::Op::PostObject) => {
                return Err(denied(match self.presigned_post {
                    true => "a presigned POST must be a multipart/form-data form",
                    false => "presigned POST forms are not inspected on this route",
                }));
            }
            Some(op) if self.multipart => op,
            Some(_) => {
                return Err(denied(
                    "multipart uploads are not inspected on this route; upload the object with \
                     one PUT",
                ));
            }
            None if query.contains("uploadId") || query.contains("partNumber") => {
                return Err(denied("not a multipart upload request this route takes"));
            }
            None => {
                return Err(denied(
                    "only object uploads (PutObject) pass this route, not this operation",
                ));
            }
        };
        if req.headers.contains_key("x-amz-copy-source") {
            return Err(denied(
                "CopyObject would store bytes this gateway never inspected",
            ));
        }
        if self.object_key(req).is_empty() {
            return Err(denied("only object uploads (PutObject) pass this route"));
        }
        Ok(op)
    }

    /// The object key of the request's path: all of it on a virtual-hosted request
    /// (`bucket.DOMAIN`), after the bucket otherwise; empty for the bucket itself.
    fn object_key<'r>(&self, req: &'r pingora::http::RequestHeader) -> &'r str {
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .or(req.uri.host())
            .unwrap_or("");
        let host = host
            .rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .to_ascii_lowercase();
        let virtual_hosted = self.domains.iter().any(|d| {
            host.strip_suffix(d.as_str())
                .is_some_and(|b| b.ends_with('.'))
        });
        let path = req.uri.path().trim_start_matches('/');
        if virtual_hosted {
            path
        } else {
            path.split_once('/').map_or("", |(_, k)| k)
        }
    }
}

/// A browser form upload to a bucket: `POST` with no sub-resource, `multipart/form-data`.
fn is_form_post(req: &pingora::http::RequestHeader, query: &str) -> bool {
    multipart::op(&req.method, query) == Some(multipart::Op::PostObject)
        && req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
            })
}

impl S3Rules {
    /// Header phase of a presigned POST: its credential is in the form (read with the sniff
    /// window, [`Self::check_form`]); no `x-amz-*` header (nothing signs headers), and the path
    /// names the bucket, not an object (the key is a field).
    fn check_form_post(&self, req: &pingora::http::RequestHeader) -> Result<Caller, Rejection> {
        if let Some(name) = req.headers.keys().find(|n| {
            let n = n.as_str().as_bytes();
            n.len() > 6
                && n[..6]
                    .iter()
                    .map(|b| if *b == b'_' { b'-' } else { *b })
                    .eq(*b"x-amz-")
        }) {
            return Err(denied(format!(
                "the header {name} is not covered by a POST form's signature"
            )));
        }
        if !self.object_key(req).is_empty() {
            return Err(denied(
                "a presigned POST goes to the bucket; the key is a form field",
            ));
        }
        Ok(Caller {
            access_key: String::new(),
            tenant: String::new(),
            region: String::new(),
            op: Some(multipart::Op::PostObject),
        })
    }

    /// A presigned POST's fields, read before its file: the credential's access key must be
    /// listed (it names the tenant), the policy unexpired at `now`, and — when the gateway has
    /// the key — the signature right.
    pub fn check_form(
        &self,
        fields: &[(String, Vec<u8>)],
        now: u64,
    ) -> Result<(Caller, post::Form), Rejection> {
        let form = post::read_form(fields)?;
        let tenant = self
            .access_keys
            .get(&form.access_key)
            .ok_or_else(|| denied("the access key is not known to this gateway"))?;
        if let Some(secret) = self.secrets.get(&form.access_key) {
            sigv4::verify_post(&form, &secret.0)?;
        }
        if now > form.expires {
            return Err(denied("Invalid according to Policy: Policy expired"));
        }
        let caller = Caller {
            access_key: form.access_key.clone(),
            tenant: tenant.clone(),
            region: form.day_and_region().1.to_string(),
            op: Some(multipart::Op::PostObject),
        };
        Ok((caller, form))
    }

    /// `AbortMultipartUpload` for `upload_id` at `path`, signed with `access_key`'s secret and
    /// the caller's `region`; `None` when the gateway has no secret for the key.
    pub fn abort_request(
        &self,
        access_key: &str,
        region: &str,
        host: &str,
        path: &str,
        upload_id: &str,
    ) -> Option<pingora::http::RequestHeader> {
        let secret = self.secrets.get(access_key)?;
        let uri = format!("{path}?uploadId={}", sigv4::encode_value(upload_id));
        let mut req = pingora::http::RequestHeader::build("DELETE", uri.as_bytes(), None).ok()?;
        req.insert_header("host", host).ok()?;
        sigv4::sign(
            &mut req,
            access_key,
            &secret.0,
            region,
            crate::clock::now_unix(),
        )?;
        Some(req)
    }
}

/// A secret key from its environment variable or file; never empty.
fn read_secret(source: &file::SecretFile, base: &std::path::Path) -> Result<String, String> {
    let secret = match (&source.env, &source.file) {
        (Some(var), None) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
        }
        (None, Some(path)) => {
            let p = base.join(path);
            std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .trim()
                .to_string()
        }
        _ => return Err("set exactly one of env or file".into()),
    };
    if secret.is_empty() {
        return Err("the secret key is empty".into());
    }
    Ok(secret)
}

/// The request's SigV4 authorization: presigned (query) or header, exactly one of them.
fn sigv4(query: &str, req: &pingora::http::RequestHeader) -> Result<SigV4, Rejection> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = crate::query::decode(k).ok_or_else(|| bad("a malformed query string"))?;
        if k.to_ascii_lowercase().starts_with("x-amz-") {
            let v = crate::query::decode(v).ok_or_else(|| bad("a malformed query string"))?;
            params.push((k, v));
        }
    }
    let param = |name: &str| -> Result<Option<&str>, Rejection> {
        let mut found = params.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
        let first = found.next().map(|(_, v)| v.as_str());
        match found.next() {
            Some(_) => Err(bad(format!("{name} is sent more than once"))),
            None => Ok(first),
        }
    };
    let headers: Vec<&[u8]> = req
        .headers
        .get_all("authorization")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    match (param("X-Amz-Credential")?, headers.as_slice()) {
        (Some(_), [_, ..]) => Err(bad("both a presigned query and an Authorization header")),
        (Some(credential), []) => {
            if param("X-Amz-Algorithm")? != Some("AWS4-HMAC-SHA256") {
                return Err(denied("only AWS4-HMAC-SHA256 presigned URLs are accepted"));
            }
            let signed = param("X-Amz-SignedHeaders")?.unwrap_or("");
            let (access_key, scope) = access_key(credential)?;
            Ok(SigV4 {
                access_key,
                scope,
                signed: signed_list(signed),
                signature: param("X-Amz-Signature")?.unwrap_or("").to_string(),
                date: param("X-Amz-Date")?.map(str::to_string),
                expires: param("X-Amz-Expires")?.map(str::to_string),
                presigned: true,
            })
        }
        (None, [one]) => {
            let mut sig = header_auth(one)?;
            sig.date = match req.headers.get_all("x-amz-date").iter().collect::<Vec<_>>()[..] {
                [] => None,
                [d] => Some(
                    d.to_str()
                        .map_err(|_| bad("a malformed x-amz-date"))?
                        .to_string(),
                ),
                _ => return Err(bad("x-amz-date is sent more than once")),
            };
            Ok(sig)
        }
        (None, []) => Err(Rejection::Unauthorized(
            "an S3 request must be signed (SigV4)".into(),
        )),
        (None, _) => Err(bad("more than one Authorization header")),
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/date/region/s3/aws4_request, SignedHeaders=a;b, Signature=…`
fn header_auth(value: &[u8]) -> Result<SigV4, Rejection> {
    let value = std::str::from_utf8(value).map_err(|_| bad("a malformed Authorization header"))?;
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| denied("only AWS4-HMAC-SHA256 (SigV4) requests are accepted"))?;
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for item in rest.split(',') {
        let (k, v) = item
            .trim()
            .split_once('=')
            .ok_or_else(|| bad("a malformed Authorization header"))?;
        if fields.insert(k, v).is_some() {
            return Err(bad(format!(
                "{k} appears twice in the Authorization header"
            )));
        }
    }
    let credential = fields
        .get("Credential")
        .ok_or_else(|| bad("no Credential in the Authorization header"))?;
    let (access_key, scope) = access_key(credential)?;
    Ok(SigV4 {
        access_key,
        scope,
        signed: signed_list(fields.get("SignedHeaders").copied().unwrap_or("")),
        signature: fields.get("Signature").copied().unwrap_or("").to_string(),
        date: None,
        expires: None,
        presigned: false,
    })
}

/// The access key id and the scope of a credential `AKID/yyyymmdd/region/service/aws4_request`.
fn access_key(credential: &str) -> Result<(String, String), Rejection> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, _, _, _, "aws4_request"] if !key.is_empty() => {
            Ok(((*key).to_string(), credential[key.len() + 1..].to_string()))
        }
        _ => Err(bad("a malformed SigV4 credential scope")),
    }
}

fn signed_list(s: &str) -> Vec<String> {
    s.split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn bad(m: impl Into<String>) -> Rejection {
    Rejection::BadRequest(m.into())
}

#[cfg(test)]
mod tests;
