//! The sniff window: with pingora's retry buffering on, read the start of the body before the
//! upstream is contacted, until the first file part is decided, the body ends or the window is
//! full. A rejection here means the backend never sees the request. The bytes read go into the
//! request's [`UploadStream`], which keeps the inspection for the stream phase.

use super::RequestCtx;
use super::headers::expects_continue;
use crate::inspect::{Framing, UploadStream};
use crate::policy::{MAX_SNIFF_BYTES, UploadPolicy};
use crate::rejection::Rejection;
use pingora::proxy::Session;
use std::sync::Arc;

pub async fn read(
    session: &mut Session,
    ctx: &mut RequestCtx,
    policy: Arc<UploadPolicy>,
    framing: &Framing,
) -> Result<(), Rejection> {
    start(session, ctx).await?;
    let declared = declared_length(session);
    let sniff_bytes = policy.sniff_bytes as u64;
    // An S3 multipart upload's later part: only its size is followed (part 1 carries the
    // file's start and is inspected; src/proxy/s3.rs).
    let later_part = ctx
        .s3
        .as_ref()
        .and_then(|c| c.part().filter(|n| *n > 1).and(c.recorded_type()));
    let mut stream = match later_part {
        Some(declared) => UploadStream::counted(policy, framing, declared)?,
        None => UploadStream::new(policy, framing),
    };
    if let Some(settings) = ctx.route.as_ref().and_then(|r| r.verdict.clone()) {
        let verdict = crate::verdict::VerdictContext {
            request_id: ctx.request_id.clone(),
            route: ctx.route.as_ref().map_or(String::new(), |r| r.name.clone()),
            subject: ctx.identity.as_ref().map(|i| i.subject.clone()),
            tenant: ctx.tenant.clone(),
        };
        stream = stream.with_verdict(settings, verdict);
    }
    let deadline = deadline(ctx);
    let stream = ctx.upload.insert(stream);
    while !stream.inspector().first_file_decided()
        && stream.total() < sniff_bytes
        && replayable_after_next_read(stream.total(), declared)
    {
        match read_before(session, deadline).await? {
            Ok(Some(chunk)) => stream.window(chunk).await?,
            Ok(None) => break,
            Err(e) => return Err(read_error(&e)),
        }
    }
    if session.is_body_done() {
        stream.end()?;
        if session.retry_buffer_truncated() {
            // Unreachable by `replayable_after_next_read`: no body-filter call would follow.
            return Err(Rejection::Internal(
                "the sniffed body could not be replayed upstream".into(),
            ));
        }
    }
    Ok(())
}

/// Starts reading a body before the upstream is contacted: `100 Continue` if the client
/// waits for it, pingora's retry buffering on (what is read is replayed upstream).
pub(super) async fn start(session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Rejection> {
    if expects_continue(session.req_header()) {
        session
            .write_continue_response()
            .await
            .map_err(|e| Rejection::BadRequest(format!("could not send 100 Continue: {e}")))?;
    }
    session.enable_retry_buffering();
    ctx.phase = super::Phase::Window;
    Ok(())
}

/// pingora replays at most 64 KiB; past that the [`UploadStream`] keeps the window and releases
/// it in the first body-filter call, which only happens while body remains. So read again only
/// if the next read (up to 64 KiB) cannot both overflow the replay buffer and end the body.
pub(super) fn replayable_after_next_read(seen: u64, declared: Option<u64>) -> bool {
    const REPLAY: u64 = MAX_SNIFF_BYTES as u64;
    match declared {
        Some(len) => len <= REPLAY || len.saturating_sub(seen) > REPLAY,
        None => seen == 0,
    }
}

fn declared_length(session: &Session) -> Option<u64> {
    super::read::content_length(session.req_header())
        .ok()
        .flatten()
}

/// When the window (or a JSON body) must have arrived: `[server] window_timeout_ms` after the
/// request's start.
pub(super) fn deadline(ctx: &RequestCtx) -> tokio::time::Instant {
    let limit = ctx
        .live
        .as_ref()
        .map_or(std::time::Duration::from_secs(30), |l| {
            l.config.server.window_timeout
        });
    tokio::time::Instant::from_std(ctx.started + limit)
}

/// Reads the next body chunk, unless `deadline` passes first: then 408.
pub(super) async fn read_before(
    session: &mut Session,
    deadline: tokio::time::Instant,
) -> Result<pingora::Result<Option<bytes::Bytes>>, Rejection> {
    tokio::time::timeout_at(deadline, session.read_request_body())
        .await
        .map_err(|_| Rejection::ClientTimeout)
}

/// A small body read whole before the upstream is contacted (a JSON body, an S3
/// `CompleteMultipartUpload`; pingora replays it): refused with `too_large` when its declared
/// length or what arrives passes `max` bytes, 408 when the window's deadline passes first.
pub(super) async fn read_whole(
    session: &mut Session,
    ctx: &mut RequestCtx,
    max: usize,
    too_large: impl Fn() -> Rejection,
) -> Result<Vec<u8>, Rejection> {
    if super::read::content_length(session.req_header())?.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    start(session, ctx).await?;
    let deadline = deadline(ctx);
    let mut body = Vec::new();
    loop {
        match read_before(session, deadline).await? {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > max {
                    return Err(too_large());
                }
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(read_error(&e)),
        }
    }
}

pub(super) fn read_error(e: &pingora::Error) -> Rejection {
    match e.etype() {
        pingora::ErrorType::ReadTimedout => Rejection::ClientTimeout,
        _ => Rejection::BadRequest(format!("could not read the request body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::replayable_after_next_read as ok;

    #[test]
    fn never_risks_an_unreplayable_body() {
        let k = 1024;
        assert!(ok(0, Some(200 * k)) && ok(30 * k, Some(64 * k)) && ok(0, None));
        assert!(
            !ok(30 * k, Some(90 * k)),
            "the next read could overflow and end the body"
        );
        assert!(ok(30 * k, Some(200 * k)));
        assert!(!ok(1, None));
    }
}
