//! The storage's answers on a multipart upload (docs/ARCHITECTURE.md, "S3 routes"): a part it
//! took is recorded before the client hears of it, so a Complete cannot overtake it; a
//! Complete's records go once its body says the object exists. S3 may answer a Complete
//! `200 OK` and report an error in the body (SDKs then retry it): the records stay for the
//! retry, and its hold is given back instead of committed (src/proxy/quota.rs, `finish`).

use super::RequestCtx;
use crate::reload::Live;
use crate::s3::multipart::{self, Completion, Op, PartRecord};
use bytes::Bytes;
use pingora::http::ResponseHeader;

/// The storage's answer head: a part it took is recorded; a Complete's body is to be read.
pub async fn on_response(resp: &ResponseHeader, ctx: &mut RequestCtx, live: &Live) {
    if !resp.status.is_success() {
        return;
    }
    let file = ctx
        .upload
        .as_ref()
        .filter(|u| u.inspector().is_complete())
        .and_then(|u| u.inspector().files().first())
        .map(|f| (f.size, f.content_type.clone()));
    let Some(call) = ctx.s3.as_mut() else {
        return;
    };
    let Some((key, _)) = &call.record else {
        return;
    };
    if let Some(n) = call.part() {
        let etag = resp.headers.get("etag").and_then(|v| v.to_str().ok());
        let (Some((size, detected)), Some(etag)) = (file, etag) else {
            tracing::error!("a part the storage took was not recorded (no ETag or no file)");
            return;
        };
        let record = PartRecord {
            size,
            etag: multipart::unquote(etag).to_string(),
            detected: (n == 1).then_some(detected),
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        let part = multipart::part_key(key, n);
        if let Err(e) = live
            .uploads
            .save(&part, &text, multipart::RECORD_TTL_MS)
            .await
        {
            tracing::error!("part {n} was stored but not recorded: {e}; Complete will refuse it");
        }
    } else if matches!(call.op, Op::Complete { .. }) {
        call.answer = Some(Vec::new());
    }
}

/// A Complete's answer body: kept (bounded, leading spaces skipped) until it ends, then read
/// for its root. A completed upload's records go (in the background: one store call each); an
/// `<Error>` leaves them for the retry.
pub fn on_response_body(body: Option<&Bytes>, end: bool, ctx: &mut RequestCtx) {
    let Some(call) = ctx.s3.as_mut() else {
        return;
    };
    let Some(kept) = call.answer.as_mut() else {
        return;
    };
    if let Some(b) = body {
        let b = match kept.is_empty() {
            true => b.trim_ascii_start(),
            false => &b[..],
        };
        let room = multipart::MAX_COMPLETE_ANSWER.saturating_sub(kept.len());
        kept.extend_from_slice(&b[..b.len().min(room)]);
    }
    if !end {
        return;
    }
    let completion = multipart::completion(kept);
    call.answer = None;
    call.completion = Some(completion);
    if completion != Completion::Completed {
        tracing::warn!(
            ?completion,
            "a Complete answered 2xx did not complete the upload"
        );
        return;
    }
    let (Some((key, _)), Some(live)) = (&call.record, &ctx.live) else {
        return;
    };
    let mut keys = vec![key.clone()];
    keys.extend(call.parts.iter().map(|n| multipart::part_key(key, *n)));
    let store = live.uploads.clone();
    tokio::spawn(async move {
        for k in keys {
            if let Err(e) = store.remove(&k).await {
                tracing::warn!("a completed upload's records stay until they expire: {e}");
                return;
            }
        }
    });
}

/// The storage reported in a 2xx body that the Complete failed: nothing is counted.
pub fn complete_failed(ctx: &RequestCtx) -> bool {
    ctx.s3
        .as_ref()
        .is_some_and(|c| c.completion == Some(Completion::Failed))
}
