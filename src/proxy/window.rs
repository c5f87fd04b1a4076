//! The sniff window: with pingora's retry buffering on, read the start of the body before the
//! upstream is contacted, until the first file part is decided, the body ends or the window is
//! full. A rejection here means the backend never sees the request.

use super::RequestCtx;
use super::headers::expects_continue;
use crate::inspect::Inspector;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use bytes::BytesMut;
use pingora::proxy::Session;
use std::sync::Arc;

pub async fn read(
    session: &mut Session,
    ctx: &mut RequestCtx,
    policy: Arc<UploadPolicy>,
    boundary: &str,
) -> Result<(), Rejection> {
    if expects_continue(session.req_header()) {
        session
            .write_continue_response()
            .await
            .map_err(|e| Rejection::BadRequest(format!("could not send 100 Continue: {e}")))?;
    }
    session.enable_retry_buffering();
    let mut probe = Inspector::new(policy.clone(), boundary);
    let mut seen = BytesMut::new();
    let mut ended = false;
    while !probe.first_file_decided() && (seen.len() < policy.sniff_bytes) {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                seen.extend_from_slice(&chunk);
                probe.feed(&chunk)?;
            }
            Ok(None) => {
                probe.finish()?;
                ended = true;
                break;
            }
            Err(e) => return Err(read_error(&e)),
        }
    }
    if !ended && session.is_body_done() {
        probe.finish()?;
        ended = true;
    }
    ctx.sniffed_type = probe.first_type().map(str::to_string);
    if session.retry_buffer_truncated() {
        if ended {
            return Err(Rejection::Internal(
                "the sniffed body could not be replayed upstream".into(),
            ));
        }
        ctx.replay = Some(seen.freeze());
    }
    ctx.inspector = Some(Inspector::new(policy, boundary));
    Ok(())
}

fn read_error(e: &pingora::Error) -> Rejection {
    match e.etype() {
        pingora::ErrorType::ReadTimedout => Rejection::ClientTimeout,
        _ => Rejection::BadRequest(format!("could not read the request body: {e}")),
    }
}
