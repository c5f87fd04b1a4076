//! Complete, small responses on a plain pingora `ServerSession` (the admin listener and the
//! reference backend; the proxy's error responses go through `proxy::respond`).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;

/// Writes `status` with a `Content-Type`, a `Content-Length` and `body`.
pub async fn send(
    s: &mut ServerSession,
    status: u16,
    content_type: &str,
    body: Bytes,
) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(status, Some(3))?;
    h.insert_header("Content-Type", content_type)?;
    h.insert_header("Content-Length", body.len().to_string())?;
    s.write_response_header(Box::new(h)).await?;
    if !body.is_empty() {
        s.write_response_body(body, true).await?;
    }
    Ok(())
}
