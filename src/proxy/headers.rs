//! Header-phase facts and rewrites: path sanity, the headers sent upstream and the ones added
//! to the client's response (upload framing: src/proxy/framing.rs).

use super::RequestCtx;
use super::read::header;
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

/// Adds what the gateway learned to the client's response from the upstream: the headers
/// every answer carries ([`decorate`]) and, per file part in order, its SHA-256, detected type
/// and size (upstream copies removed).
pub fn to_client(resp: &mut ResponseHeader, ctx: &RequestCtx) -> pingora::Result<()> {
    for h in ["x-upload-sha256", "x-upload-content-type", "x-upload-size"] {
        resp.remove_header(h);
    }
    decorate(resp, ctx)?;
    if !profile(ctx).response_headers {
        return Ok(());
    }
    if let Some(t) = &ctx.tus {
        // A resumable upload's file spans requests: reported once, by the request completing it.
        if let Some((sha256, kind, size)) = &t.report {
            resp.append_header("x-upload-sha256", sha256.as_str())?;
            resp.append_header("x-upload-content-type", kind.as_str())?;
            resp.append_header("x-upload-size", size.to_string())?;
        }
    } else if let Some(upload) = &ctx.upload {
        for f in upload.inspector().files() {
            resp.append_header("x-upload-sha256", f.sha256.as_str())?;
            resp.append_header("x-upload-content-type", f.content_type.as_str())?;
            resp.append_header("x-upload-size", f.size.to_string())?;
        }
    }
    Ok(())
}

/// What every answer carries, the upstream's and the gateway's own (refusals, usage, CORS
/// preflights, idempotent replays) alike: `Access-Control-*` for an allowed origin, the
/// `RateLimit` headers where quotas apply, and `X-Request-Id` in the error profile's spelling —
/// unless the profile sends no gateway headers (`response_headers = false`: the backend's own
/// `X-Request-Id`, if any, passes).
pub fn decorate(resp: &mut ResponseHeader, ctx: &RequestCtx) -> pingora::Result<()> {
    for (k, v) in &ctx.cors {
        // The backend's own Vary stays: Origin is added to it.
        if *k == "Vary" {
            resp.append_header(*k, v.as_str())?;
        } else {
            resp.insert_header(*k, v.as_str())?;
        }
    }
    if let Some(q) = &ctx.quota {
        super::quota::add_headers(resp, q)?;
    }
    let profile = profile(ctx);
    if profile.response_headers {
        resp.insert_header(request_id::HEADER, profile.request_id(&ctx.request_id))?;
    }
    if ctx.route.as_ref().is_some_and(|r| r.tus.is_some()) {
        // tus clients expect the version on every answer, the gateway's own included.
        if !resp.headers.contains_key("tus-resumable") {
            resp.insert_header("Tus-Resumable", crate::tus::VERSION)?;
        }
        if resp.status.as_u16() == 412 {
            resp.insert_header("Tus-Version", crate::tus::VERSION)?;
        }
    }
    Ok(())
}

/// The error profile answering for this request: its route's, else the server's.
pub fn profile(ctx: &RequestCtx) -> &crate::errors::ErrorProfile {
    static DEFAULT: std::sync::OnceLock<crate::errors::ErrorProfile> = std::sync::OnceLock::new();
    match (&ctx.route, &ctx.live) {
        (Some(r), _) => &r.errors,
        (None, Some(l)) => &l.config.errors,
        (None, None) => DEFAULT.get_or_init(Default::default),
    }
}
