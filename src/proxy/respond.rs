//! Writing the gateway's own answers: a [`Rejection`] (the one place error responses are
//! produced) and, through [`answer`], the usage report, CORS preflights and idempotent replays
//! — all decorated alike (`headers::decorate`) and recorded in `ctx.status` here.

use super::RequestCtx;
use super::headers::expects_continue;
use crate::rejection::Rejection;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType};

/// Maps a pingora error with no rejection attached to the rejection it means for the client.
/// `None` when the client is gone and no answer can be written. `client_stalled`: the client
/// stopped sending its body, so an upstream read timeout is the client's delay.
pub fn classify(e: &Error, client_stalled: bool) -> Option<Rejection> {
    use ErrorType::*;
    match (e.esource(), e.etype()) {
        (ErrorSource::Upstream, ReadTimedout) if client_stalled => Some(Rejection::ClientTimeout),
        (_, HTTPStatus(code)) => Some(match code {
            400 => Rejection::BadRequest("malformed request".into()),
            413 => Rejection::TooLarge("request too large".into()),
            _ => Rejection::Internal(format!("failed with status {code}")),
        }),
        (ErrorSource::Upstream, ConnectTimedout | ReadTimedout | WriteTimedout) => {
            Some(Rejection::UpstreamTimeout)
        }
        (ErrorSource::Upstream, _) => Some(Rejection::StorageError(
            "the storage backend is unreachable or failed".into(),
        )),
        (ErrorSource::Downstream, ReadTimedout) => Some(Rejection::ClientTimeout),
        (ErrorSource::Downstream, WriteError | ReadError | ConnectionClosed) => None,
        (ErrorSource::Downstream, _) => Some(Rejection::BadRequest("malformed request".into())),
        _ => Some(Rejection::Internal("internal gateway error".into())),
    }
}

/// Answers the recorded rejection in the error format and closes the connection afterwards;
/// returns the status written (0 when there is nothing to answer or nobody to answer to).
pub async fn rejection(session: &mut Session, ctx: &mut RequestCtx) -> u16 {
    let Some(rejection) = &ctx.rejection else {
        return 0;
    };
    let status = rejection.status();
    ctx.span.in_scope(|| {
        if status >= 500 {
            tracing::error!(code = rejection.code(), "{}", rejection.message());
        } else {
            tracing::debug!(code = rejection.code(), "{}", rejection.message());
        }
    });
    let out = super::headers::profile(ctx).render(rejection, &ctx.request_id);
    let Ok(header) = build(out.status, rejection, out.content_type, out.body.len()) else {
        ctx.status = out.status;
        return out.status;
    };
    session.set_keepalive(None);
    let status = answer(session, ctx, header, Some(out.body.into())).await;
    if client_still_sends(session, ctx) {
        linger(session).await;
    }
    status
}

/// Writes an answer the gateway makes itself (the upstream is not asked), decorated like every
/// other (`headers::decorate`: CORS, `RateLimit`, the profile's request id), and records its
/// status. Write failures are the client's going away: logged, never retried.
pub async fn answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut header: ResponseHeader,
    body: Option<bytes::Bytes>,
) -> u16 {
    let status = header.status.as_u16();
    ctx.status = status;
    ctx.answered = true;
    if let Err(e) = super::headers::decorate(&mut header, ctx) {
        tracing::debug!(request_id = %ctx.request_id, "could not decorate the answer: {e}");
    }
    let write = async {
        session
            .write_response_header(Box::new(header), body.is_none())
            .await?;
        if let Some(body) = body {
            session.write_response_body(Some(body), true).await?;
        }
        Ok::<_, Box<Error>>(())
    };
    if let Err(e) = write.await {
        tracing::debug!(request_id = %ctx.request_id, "could not write the answer: {e}");
    }
    status
}

/// Whether body bytes may still be on their way: not when the body is read, the client stalled
/// (a timeout is the refusal), or it waits for a `100 Continue` that was never sent.
fn client_still_sends(session: &mut Session, ctx: &RequestCtx) -> bool {
    let waits = ctx.phase == super::Phase::Header && expects_continue(session.req_header());
    !session.is_body_done() && !waits && !matches!(ctx.rejection, Some(Rejection::ClientTimeout))
}

/// How long, and how many body bytes, a refusal keeps reading what the client is still sending
/// (each byte dropped, none forwarded).
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 8 << 20;

/// The refusal is written whole, but a client still uploading may never read it. HTTP/1.1:
/// closing a socket with unread bytes sends a TCP reset, which discards the answer in the
/// client's receive buffer, and a client that writes its whole body before reading (Python's
/// http.client, requests) fails its next write. HTTP/2: the stream ends with a `NO_ERROR` reset
/// (RFC 9113 §8.1) that some clients take as a failure (curl before 8.x: "Stream error in the
/// HTTP/2 framing layer"). So, as nginx's lingering close does, the rest of the body is read and
/// dropped for a moment: a client that finishes in time reads the refusal. Bounded in time and
/// bytes; never forwarded.
async fn linger(session: &mut Session) {
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut left = LINGER_BYTES;
    while !session.is_body_done() {
        match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Ok(Ok(Some(chunk))) if chunk.len() <= left => left -= chunk.len(),
            _ => break,
        }
    }
}

fn build(
    status: u16,
    r: &Rejection,
    content_type: &'static str,
    len: usize,
) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build(status, Some(6))?;
    h.insert_header("Content-Type", content_type)?;
    h.insert_header("Content-Length", len.to_string())?;
    h.insert_header("Connection", "close")?;
    h.insert_header("Cache-Control", "no-store")?;
    for (k, v) in r.extra_headers() {
        h.insert_header(k, v)?;
    }
    Ok(h)
}
