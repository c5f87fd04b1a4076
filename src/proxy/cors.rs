//! CORS in the hooks (rules in src/cors.rs): preflights are answered here, before any
//! credential is asked for; an allowed origin's real request gets its headers recorded for the
//! response (proxy/headers.rs, proxy/respond.rs).

use super::RequestCtx;
use crate::config::Config;
use crate::rejection::Rejection;
use pingora::http::{Method, ResponseHeader};
use pingora::proxy::Session;

fn header<'a>(session: &'a Session, name: &str) -> Option<&'a str> {
    session.get_header(name).and_then(|v| v.to_str().ok())
}

/// Answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) for the
/// route the real request would take; `Ok(false)` when the request is not a preflight.
pub async fn preflight(
    config: &Config,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<bool, Rejection> {
    let req = session.req_header();
    let (Some(origin), Some(asked)) = (
        header(session, "origin"),
        header(session, "access-control-request-method"),
    ) else {
        return Ok(false);
    };
    if req.method != Method::OPTIONS {
        return Ok(false);
    }
    let method = Method::from_bytes(asked.trim().as_bytes())
        .map_err(|_| Rejection::BadRequest("malformed Access-Control-Request-Method".into()))?;
    let route = config
        .route(&method, req.uri.path())
        .ok_or(Rejection::NotFound)?
        .clone();
    ctx.route = Some(route.clone());
    let forbidden = |message: String| Rejection::Forbidden {
        message,
        missing_scopes: Vec::new(),
    };
    let cors = route
        .cors
        .as_ref()
        .ok_or_else(|| forbidden("this route does not allow cross-origin requests".into()))?;
    let requested = header(session, "access-control-request-headers").unwrap_or("");
    let headers = cors
        .preflight(origin, method.as_str(), requested)
        .map_err(|m| forbidden(format!("CORS preflight refused: {m}")))?;
    let mut h = ResponseHeader::build(204, Some(headers.len() + 2))
        .map_err(|e| Rejection::Internal(e.to_string()))?;
    for (k, v) in headers {
        h.insert_header(k, v)
            .map_err(|e| Rejection::Internal(e.to_string()))?;
    }
    h.insert_header("Content-Length", "0")
        .map_err(|e| Rejection::Internal(e.to_string()))?;
    super::respond::answer(session, ctx, h, None).await;
    Ok(true)
}

/// Records the CORS headers of an allowed origin's real request.
pub fn record(session: &Session, ctx: &mut RequestCtx) {
    if let (Some(cors), Some(origin)) = (
        ctx.route.as_ref().and_then(|r| r.cors.clone()),
        header(session, "origin"),
    ) && cors.allows_origin(origin)
    {
        ctx.cors = cors.response_headers(origin);
    }
}
