//! JSON routes in the header phase: the whole (small) body is read with pingora's retry
//! buffering on, checked (src/json_body.rs) and its URL fields resolved and judged
//! (src/ssrf.rs) before the upstream is contacted; pingora then replays it unchanged. The
//! bytes are returned for the idempotency fingerprint.

use super::RequestCtx;
use crate::json_body::JsonPolicy;
use crate::rejection::Rejection;
use pingora::proxy::Session;

pub async fn read(
    session: &mut Session,
    ctx: &mut RequestCtx,
    policy: &JsonPolicy,
) -> Result<Vec<u8>, Rejection> {
    let req = session.req_header();
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let json = header("content-type").is_some_and(|ct| {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    });
    if !json || req.headers.get_all("content-type").iter().count() > 1 {
        return Err(Rejection::UnsupportedMediaType(
            "the body must be application/json".into(),
        ));
    }
    if header("content-encoding").is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
        return Err(Rejection::UnsupportedMediaType(
            "compressed request bodies cannot be inspected; send them uncompressed".into(),
        ));
    }
    let too_large = || {
        Rejection::TooLarge(format!(
            "the JSON body exceeds this route's limit of {} bytes",
            policy.max_bytes
        ))
    };
    let body = super::window::read_whole(session, ctx, policy.max_bytes, too_large).await?;
    for (field, url, rule) in policy.check(&body)? {
        rule.check(&url).await.map_err(|why| {
            Rejection::field(
                field,
                false,
                "invalid",
                format!("the {field} field must be a public http or https URL: {why}"),
            )
        })?;
    }
    Ok(body)
}
