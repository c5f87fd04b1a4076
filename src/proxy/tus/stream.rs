//! The inspection a tus request continues (docs/ARCHITECTURE.md, "Resumable uploads"): the
//! upload's own stream when this instance parked it where the request starts, a fresh one at
//! offset 0, else one following only size, limits and hash; the hash state the request starts
//! from; and the sniff window for the bytes at offset 0.

use super::super::RequestCtx;
use crate::inspect::{Ending, Framing, UploadStream, follows_stream};
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::tus::hash::ResumableHash;
use crate::tus::{LostStream, TusRules, UploadState};
use pingora::proxy::Session;
use std::sync::Arc;

fn framing(state: &UploadState) -> Framing {
    Framing::Raw {
        declared: state.declared.clone(),
        filename: state.filename.clone(),
        aws_chunked: None,
    }
}

fn ending(state: &UploadState) -> Ending {
    state.length.map_or(Ending::Open, Ending::Length)
}

pub(super) fn new_stream(policy: &Arc<UploadPolicy>, state: &UploadState) -> UploadStream {
    UploadStream::resumable(policy.clone(), &framing(state), ending(state))
}

/// The inspection a request at `offset` continues: this instance's own, when it read the
/// upload up to there; else, past offset 0, one that follows only size, limits and hash —
/// which the route allows (`lost_stream = "continue"`) or the type needs nothing more.
pub(super) fn stream_for(
    own: Option<UploadStream>,
    state: &UploadState,
    offset: u64,
    policy: &Arc<UploadPolicy>,
    rules: &TusRules,
) -> Result<UploadStream, Rejection> {
    if let Some(mut s) = own
        && s.resume(offset)
    {
        if let Some(len) = state.length {
            s.set_length(len);
        }
        return Ok(s);
    }
    match (&state.detected, offset) {
        (_, 0) => Ok(new_stream(policy, state)),
        (Some(d), _) if !follows_stream(policy, d) || rules.lost_stream == LostStream::Continue => {
            UploadStream::continued(policy.clone(), &framing(state), ending(state), offset, d)
        }
        _ => Err(Rejection::UploadGone(
            "the upload's checks read the whole file in one stream, and this gateway instance \
             did not read its start"
                .into(),
        )),
    }
}

/// The hash state a request at `offset` continues from: where the upload stands or a cut
/// request may have left it, else the nearest such offset before it, continued over the bytes
/// this instance released from there (a cut may leave the upstream inside a released chunk).
pub(super) fn hash_for(
    state: &UploadState,
    offset: u64,
    own: Option<&UploadStream>,
) -> Option<ResumableHash> {
    if let Some(h) = state.hash_at(offset) {
        return ResumableHash::from_hex(h);
    }
    let (from, h) = std::iter::once((state.offset, &state.hash))
        .chain(state.cut.iter().map(|(o, h)| (*o, h)))
        .filter(|(o, _)| *o <= offset)
        .max_by_key(|(o, _)| *o)?;
    let mut hash = ResumableHash::from_hex(h)?;
    hash.update(&own?.released_bytes(from, offset)?);
    Some(hash)
}

/// Reads the bytes at offset 0 until the type is decided (the upstream is not contacted yet).
pub(super) async fn read_window(
    session: &mut Session,
    ctx: &mut RequestCtx,
    stream: UploadStream,
    policy: &UploadPolicy,
) -> Result<(), Rejection> {
    super::super::window::start(session, ctx).await?;
    let declared = super::super::read::content_length(session.req_header())?;
    let deadline = super::super::window::deadline(ctx);
    let sniff = policy.sniff_bytes as u64;
    let s = ctx.upload.insert(stream);
    while !s.inspector().first_file_decided()
        && s.total() < sniff
        && super::super::window::replayable_after_next_read(s.total(), declared)
    {
        match super::super::window::read_before(session, deadline).await? {
            Ok(Some(chunk)) => s.window(chunk).await?,
            Ok(None) => break,
            Err(e) => return Err(super::super::window::read_error(&e)),
        }
    }
    Ok(())
}
