//! Header-phase facts and rewrites: path sanity, upload framing (Content-Type, lengths,
//! encodings), the headers sent upstream and the ones added to the client's response.

use super::RequestCtx;
use crate::inspect::Framing;
use crate::multipart::boundary_from_content_type;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::request_id;
use pingora::http::{RequestHeader, ResponseHeader};

/// Headers the gateway owns on the way upstream; client-sent copies are removed.
const GATEWAY_UPSTREAM_HEADERS: &[&str] = &["x-upload-detected-type"];

/// Refuses paths a backend could normalise differently from the route match.
pub fn check_path(path: &str) -> Result<(), Rejection> {
    let lower = path.to_ascii_lowercase();
    let traversal = path.split('/').any(|seg| seg == ".." || seg == ".")
        || path.contains("//")
        || ["%2e", "%2f", "%5c", "\\"]
            .iter()
            .any(|s| lower.contains(s));
    if traversal {
        return Err(Rejection::BadRequest(
            "path contains dot segments, empty segments or encoded separators".into(),
        ));
    }
    Ok(())
}

fn header<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a [u8]> {
    let mut all = req.headers.get_all(name).iter();
    let first = all.next()?;
    Some(first.as_bytes())
}

fn count(req: &RequestHeader, name: &str) -> usize {
    req.headers.get_all(name).iter().count()
}

/// Checks an upload request's framing before any body byte is read: a multipart body's
/// boundary, or a raw body's declared type (allowed, and its length within its category).
pub fn upload_framing(req: &RequestHeader, policy: &UploadPolicy) -> Result<Framing, Rejection> {
    if count(req, "content-type") > 1 {
        return Err(Rejection::InvalidMultipart(
            "more than one Content-Type header".into(),
        ));
    }
    if let Some(enc) = header(req, "content-encoding")
        && !enc.eq_ignore_ascii_case(b"identity")
    {
        return Err(Rejection::UnsupportedMediaType(
            "compressed request bodies cannot be inspected; send them uncompressed".into(),
        ));
    }
    let te = header(req, "transfer-encoding");
    if let Some(te) = te
        && !te.eq_ignore_ascii_case(b"chunked")
    {
        return Err(Rejection::BadRequest(
            "only chunked Transfer-Encoding is accepted".into(),
        ));
    }
    let framing = if policy.raw_body {
        raw_framing(req)?
    } else {
        multipart_framing(req)?
    };
    let declared = match &framing {
        Framing::Raw { declared, .. } => declared.as_deref(),
        Framing::Multipart { .. } => None,
    };
    if policy.raw_body {
        policy.check_raw_declared(declared)?;
    }
    // Conflicting framing never gets here: pingora answers duplicate Content-Length with its own
    // 400 and drops Content-Length when Transfer-Encoding is present (tests/reject.rs).
    match header(req, "content-length") {
        Some(v) => {
            let len = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| Rejection::BadRequest("malformed Content-Length".into()))?;
            policy.check_content_length(len)?;
            if policy.raw_body {
                policy.check_raw_length(declared, len)?;
            }
            Ok(framing)
        }
        // HTTP/2 frames the body itself: no length is needed (and it is checked as it streams).
        None if te.is_none() && req.version != pingora::http::Version::HTTP_2 => {
            Err(Rejection::InvalidMultipart(
                "upload without a body (no Content-Length or Transfer-Encoding)".into(),
            ))
        }
        None => Ok(framing),
    }
}

fn multipart_framing(req: &RequestHeader) -> Result<Framing, Rejection> {
    let content_type = header(req, "content-type").ok_or_else(|| {
        Rejection::UnsupportedMediaType("uploads must be multipart/form-data".into())
    })?;
    match boundary_from_content_type(content_type) {
        Ok(Some(boundary)) => Ok(Framing::Multipart { boundary }),
        Ok(None) => Err(Rejection::UnsupportedMediaType(
            "uploads must be multipart/form-data".into(),
        )),
        Err(e) => Err(Rejection::InvalidMultipart(e)),
    }
}

/// A raw body: the declared type is the `Content-Type` essence (none: the detected type
/// decides, unless the route requires one); the file name is the path's last segment.
fn raw_framing(req: &RequestHeader) -> Result<Framing, Rejection> {
    let declared = match header(req, "content-type") {
        None => None,
        Some(v) => {
            let v = std::str::from_utf8(v)
                .map_err(|_| Rejection::BadRequest("Content-Type is not valid UTF-8".into()))?;
            let essence = v.split(';').next().unwrap_or("").trim();
            if essence.is_empty() {
                return Err(Rejection::BadRequest("empty Content-Type".into()));
            }
            Some(crate::media::canonical(essence))
        }
    };
    let filename = req.uri.path().rsplit('/').next().filter(|s| !s.is_empty());
    Ok(Framing::Raw {
        declared,
        filename: filename.map(str::to_string),
    })
}

/// Whether the client asked for `100 Continue`.
pub fn expects_continue(req: &RequestHeader) -> bool {
    header(req, "expect").is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
}

fn internal(e: impl std::fmt::Display) -> Box<pingora::Error> {
    pingora::Error::explain(pingora::ErrorType::InternalError, e.to_string())
}

/// Whether two header names are one to a backend: CGI, WSGI, Rack and PHP turn `-` into `_`
/// and fold case, so `X_Auth_Tenant` and `x-auth-tenant` are one name to them.
fn same_spelling(a: &str, b: &str) -> bool {
    let norm = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// Removes every header whose name is one of `owned` in any spelling a backend might read
/// (case, `_` for `-`), except the exact name `keep`. The gateway vouches for these headers.
pub fn remove_every_spelling(up: &mut RequestHeader, owned: &[&str], keep: Option<&str>) {
    let doomed: Vec<String> = up
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| Some(*n) != keep && owned.iter().any(|o| same_spelling(n, o)))
        .map(str::to_string)
        .collect();
    for name in doomed {
        up.remove_header(name.as_str());
    }
}

/// Rewrites the request sent upstream.
pub fn to_upstream(up: &mut RequestHeader, ctx: &RequestCtx) -> pingora::Result<()> {
    up.remove_header("expect");
    let mut owned = GATEWAY_UPSTREAM_HEADERS.to_vec();
    owned.extend([request_id::HEADER, crate::trace::HEADER]);
    remove_every_spelling(up, &owned, None);
    up.insert_header(request_id::HEADER, ctx.request_id.as_str())?;
    up.insert_header(crate::trace::HEADER, ctx.trace.header_value())?;
    if ctx.route.as_ref().is_some_and(|r| r.verdict.is_some()) && ctx.upload.is_some() {
        // The verdict's parts make the body longer than the client said (src/verdict.rs).
        up.remove_header("content-length");
        up.insert_header("transfer-encoding", "chunked")?;
    }
    if let Some(t) = ctx.upload.as_ref().and_then(|u| u.inspector().first_type()) {
        up.insert_header("x-upload-detected-type", t)
            .map_err(internal)?;
    }
    Ok(())
}

/// Adds what the gateway learned to the client's response.
pub fn to_client(resp: &mut ResponseHeader, ctx: &RequestCtx) -> pingora::Result<()> {
    for h in ["x-upload-sha256", "x-upload-content-type", "x-upload-size"] {
        resp.remove_header(h);
    }
    for (k, v) in &ctx.cors {
        // The backend's own Vary stays: Origin is added to it.
        if *k == "Vary" {
            resp.append_header(*k, v.as_str())?;
        } else {
            resp.insert_header(*k, v.as_str())?;
        }
    }
    let profile = ctx.route.as_ref().map(|r| &r.errors);
    if profile.is_some_and(|p| !p.response_headers) {
        // The backend's own X-Request-Id (if any) passes; the gateway adds nothing.
        return Ok(());
    }
    let id = profile.map_or_else(|| ctx.request_id.clone(), |p| p.request_id(&ctx.request_id));
    resp.insert_header(request_id::HEADER, id)?;
    if let Some(upload) = &ctx.upload {
        for f in upload.inspector().files() {
            resp.append_header("x-upload-sha256", f.sha256.as_str())?;
            resp.append_header("x-upload-content-type", f.content_type.as_str())?;
            resp.append_header("x-upload-size", f.size.to_string())?;
        }
    }
    Ok(())
}
