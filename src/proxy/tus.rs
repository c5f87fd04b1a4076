//! tus glue for the hooks (docs/ARCHITECTURE.md, "Resumable uploads"): the header phase reads
//! what a request asks and checks it against the upload's record (owner, offset, length), the
//! body goes through the upload's one [`UploadStream`] (continued from the request before, on
//! this instance), the upstream's answer moves the record forward, and the end of a request
//! that got no answer records where the upstream may have stopped — or, for a refused upload,
//! terminates it upstream. The rules that are pure live in src/tus.rs.

mod parked;
mod stream;

pub use parked::Streams;
mod quota;
mod terminate;

use super::RequestCtx;
use crate::config::Route;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::reload::Live;
use crate::tus::hash::ResumableHash;
use crate::tus::store::UploadStore;
use crate::tus::{self, Ask, TusRules, UploadState};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use quota::{commit, give_back, hold};
use std::collections::VecDeque;
use std::sync::Arc;
use stream::{hash_for, new_stream, read_window, stream_for};

/// Hash states kept per request at the offsets it released (where a cut may leave the upstream).
const SNAPSHOTS: usize = 64;

/// One request's part in a resumable upload.
pub struct TusRequest {
    rules: Arc<TusRules>,
    ask: Ask,
    store: Arc<dyn UploadStore>,
    parked: Arc<Streams>,
    /// The record's key and the record (a creation's key is known from the upstream's answer).
    key: Option<String>,
    state: Option<UploadState>,
    /// The caller (tenant bucket, credential principal): the record's owner.
    owner: (String, String),
    /// SHA-256 of the file up to `released`, and the hash states at this request's releases.
    hash: ResumableHash,
    released: u64,
    snapshots: VecDeque<(u64, ResumableHash)>,
    /// The answer moved the record forward: nothing to record at the end.
    settled: bool,
    /// This request marked the upload busy on this instance (`parked::Streams::take`).
    taken: bool,
    /// The whole file once this request completed it: SHA-256, detected type, size.
    pub report: Option<(String, String, u64)>,
}

fn ttl_ms(rules: &TusRules) -> u64 {
    rules.expiry.as_millis() as u64
}

fn store_failed(e: impl std::fmt::Display) -> Rejection {
    tracing::error!("upload store: {e}");
    crate::metrics::quota_store_error("uploads");
    Rejection::QuotaUnavailable
}

/// The header phase of a request on a tus route (after identity, query and the request's own
/// quota count). A request carrying bytes gets its [`UploadStream`] in `ctx.upload`; bytes at
/// offset 0 are read into the sniff window before the upstream is contacted.
pub async fn begin(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &Route,
    rules: &Arc<TusRules>,
    live: &Live,
    parked: &Arc<Streams>,
) -> Result<(), Rejection> {
    let req = session.req_header();
    let content_length = super::read::content_length(req)?;
    let ask = tus::ask(req.method.as_str(), &req.headers, content_length)?;
    let path = req.uri.path().to_string();
    let policy = route
        .upload
        .clone()
        .ok_or_else(|| Rejection::Internal("a tus route without [upload]".into()))?;
    let id = ctx
        .identity
        .as_ref()
        .ok_or_else(|| Rejection::Unauthorized("a credential is required".into()))?;
    let owner = (id.bucket(ctx.tenant.as_deref()), id.principal.clone());
    let key = tus::state_key(&owner.0, &owner.1, &path);
    ctx.tus = Some(TusRequest {
        rules: rules.clone(),
        ask: ask.clone(),
        store: live.uploads.clone(),
        parked: parked.clone(),
        key: None,
        state: None,
        owner,
        hash: ResumableHash::default(),
        released: 0,
        snapshots: VecDeque::new(),
        settled: false,
        taken: false,
        report: None,
    });
    match ask {
        Ask::Create {
            length,
            meta,
            with_upload,
        } => {
            let declared = meta.filetype.as_deref().map(crate::media::canonical);
            policy.check_raw_declared(declared.as_deref())?;
            if let Some(len) = length {
                check_length(&policy, declared.as_deref(), len)?;
            }
            if let (Some(len), Some(cl)) = (length, content_length)
                && cl > len
            {
                return Err(past_length(len));
            }
            let mut state = UploadState {
                length,
                declared,
                filename: meta.filename,
                hash: ResumableHash::default().to_hex(),
                ..Default::default()
            };
            hold(ctx, &mut state, length.unwrap_or(0), 1).await?;
            let stream = with_upload.then(|| new_stream(&policy, &state));
            set_state(ctx, None, state);
            if let Some(stream) = stream {
                read_window(session, ctx, stream, &policy).await?;
            }
        }
        Ask::Patch { offset, length } => {
            let mut state = load(&live.uploads, &key).await?;
            set_state(ctx, Some(key.clone()), state.clone());
            if let Some(why) = &state.gone {
                return Err(Rejection::UploadGone(why.clone()));
            }
            if state.sha256.is_some() {
                return Err(Rejection::OffsetMismatch("the upload is complete".into()));
            }
            ctx.upload = parked.take(&key).map_err(|_| Rejection::UploadLocked)?;
            if let Some(t) = ctx.tus.as_mut() {
                t.taken = true;
            }
            let hash = hash_for(&state, offset, ctx.upload.as_ref()).ok_or_else(|| {
                Rejection::OffsetMismatch(format!("the upload stands at offset {}", state.offset))
            })?;
            if let Some(len) = length {
                declare_length(ctx, &policy, &mut state, len).await?;
            } else {
                hold(ctx, &mut state, 0, 0).await?;
            }
            // What the hold now covers is kept whatever happens next.
            set_state(ctx, Some(key.clone()), state.clone());
            if let (Some(len), Some(cl)) = (state.length, content_length)
                && offset + cl > len
            {
                return Err(past_length(len));
            }
            if let Some(t) = ctx.tus.as_mut() {
                (t.hash, t.released) = (hash, offset);
            }
            let own = ctx.upload.take();
            let stream = stream_for(own, &state, offset, &policy, rules)?;
            set_state(ctx, Some(key), state);
            ctx.in_flight = Some(crate::metrics::InFlight::start(&route.name));
            match offset {
                0 => read_window(session, ctx, stream, &policy).await?,
                _ => ctx.upload = Some(stream),
            }
        }
        Ask::Head | Ask::Get | Ask::Delete => {
            let state = load(&live.uploads, &key).await?;
            let gone = state.gone.clone();
            set_state(ctx, Some(key), state);
            if let (Some(why), Ask::Head | Ask::Get) = (gone, &ask) {
                return Err(Rejection::UploadGone(why));
            }
        }
        Ask::Other => {}
    }
    Ok(())
}

fn set_state(ctx: &mut RequestCtx, key: Option<String>, state: UploadState) {
    if let Some(t) = ctx.tus.as_mut() {
        if key.is_some() {
            t.key = key;
        }
        t.state = Some(state);
    }
}

fn past_length(len: u64) -> Rejection {
    Rejection::TooLarge(format!(
        "the request's bytes go past the upload's length of {len} bytes"
    ))
}

/// A declared length against the route's total and the declared type's category limit.
fn check_length(policy: &UploadPolicy, declared: Option<&str>, len: u64) -> Result<(), Rejection> {
    policy.check_total(len)?;
    policy.check_raw_length(declared, len)
}

/// A deferred length, declared by a PATCH: checked, held in the quota, fixed from then on.
async fn declare_length(
    ctx: &mut RequestCtx,
    policy: &UploadPolicy,
    state: &mut UploadState,
    len: u64,
) -> Result<(), Rejection> {
    match state.length {
        Some(l) if l == len => return hold(ctx, state, 0, 0).await,
        Some(l) => {
            return Err(Rejection::BadRequest(format!(
                "the upload's length is already {l}"
            )));
        }
        None => {}
    }
    if len < state.offset {
        return Err(Rejection::BadRequest(format!(
            "Upload-Length {len} is below the upload's offset {}",
            state.offset
        )));
    }
    let kind = state.detected.clone().or(state.declared.clone());
    check_length(policy, kind.as_deref(), len)?;
    hold(ctx, state, len, 0).await?;
    state.length = Some(len);
    Ok(())
}

async fn load(store: &Arc<dyn UploadStore>, key: &str) -> Result<UploadState, Rejection> {
    let raw = store.load(key).await.map_err(store_failed)?;
    let raw = raw.ok_or(Rejection::UploadNotFound)?;
    serde_json::from_str(&raw).map_err(|e| Rejection::Internal(format!("upload record: {e}")))
}

async fn save(t: &TusRequest, key: &str, state: &UploadState) {
    let Ok(json) = serde_json::to_string(state) else {
        return;
    };
    if let Err(e) = t.store.save(key, &json, ttl_ms(&t.rules)).await {
        tracing::error!("upload store: {e}; the upload's record was not written");
        crate::metrics::quota_store_error("uploads");
    }
}

/// After each body chunk is inspected, before it is released: the bytes stay within the
/// upload's length, and the hash follows what is released.
pub fn on_body(ctx: &mut RequestCtx, release: &Bytes) -> Result<(), Rejection> {
    let (Some(t), Some(up)) = (ctx.tus.as_mut(), ctx.upload.as_ref()) else {
        return Ok(());
    };
    if let Some(len) = t.state.as_ref().and_then(|s| s.length)
        && up.total() > len
    {
        return Err(past_length(len));
    }
    if release.is_empty() {
        return Ok(());
    }
    t.hash.update(release);
    t.released += release.len() as u64;
    // A copy of the hasher (~200 bytes, no allocation beyond the queue's): serialized only if
    // a cut makes it part of the record.
    t.snapshots.push_back((t.released, t.hash.clone()));
    if t.snapshots.len() > SNAPSHOTS {
        t.snapshots.pop_front();
    }
    Ok(())
}

fn upload_offset(resp: &ResponseHeader) -> Option<u64> {
    resp.headers
        .get("upload-offset")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The upstream answered: a created upload gets its record; an accepted PATCH moves the
/// record to the offset the upstream acknowledged (completing the upload at its length); a
/// termination removes it.
pub async fn on_response(resp: &ResponseHeader, ctx: &mut RequestCtx) {
    let Some(t) = ctx.tus.as_mut() else {
        return;
    };
    let status = resp.status.as_u16();
    let ok = resp.status.is_success();
    let Some(mut state) = t.state.take() else {
        return;
    };
    let key = match (&t.ask, status) {
        (Ask::Create { .. }, 201) => resp
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(tus::location_path)
            .map(|p| tus::state_key(&t.owner.0, &t.owner.1, &p)),
        _ => t.key.clone(),
    };
    let Some(key) = key else {
        t.state = Some(state);
        return;
    };
    match &t.ask {
        Ask::Create { .. } | Ask::Patch { .. } if ok => {
            let offset = upload_offset(resp).unwrap_or(0);
            let Some(hash) = t.hash_at(offset) else {
                tracing::warn!(offset, "the upstream acknowledged an offset never released");
                t.state = Some(state);
                return;
            };
            state.offset = offset;
            state.hash = hash;
            state.cut.clear();
            if let Some(d) = ctx.upload.as_ref().and_then(|u| u.inspector().first_type()) {
                state.detected = Some(d.to_string());
            }
            t.settled = true;
            t.key = Some(key.clone());
            if state.length == Some(offset) && offset > 0 {
                let sha = t.hash.hex_digest();
                state.sha256 = Some(sha.clone());
                let kind = state.detected.clone().unwrap_or_default();
                t.report = Some((sha, kind, offset));
                commit(ctx.quota.as_ref(), &state, &key).await;
            } else if let Some(mut stream) = ctx.upload.take() {
                if offset == t.released {
                    stream.acknowledged();
                }
                t.parked.park(&key, stream, t.rules.expiry);
            }
            save(t, &key, &state).await;
        }
        Ask::Head if ok => {
            if let Some(offset) = upload_offset(resp)
                && offset != state.offset
                && let Some(hash) = state.hash_at(offset).map(str::to_string)
            {
                (state.offset, state.hash) = (offset, hash);
                state.cut.clear();
                save(t, &key, &state).await;
            }
        }
        Ask::Delete if ok => {
            t.settled = true;
            t.parked.forget(&key);
            if let Err(e) = t.store.remove(&key).await {
                tracing::error!("upload store: {e}; the record expires by itself");
            }
            give_back(ctx.quota.as_ref(), &state, &key).await;
        }
        _ => {}
    }
    t.state = Some(state);
}

impl TusRequest {
    /// The hash state at file offset `offset`, if this request released up to there.
    fn hash_at(&self, offset: u64) -> Option<String> {
        if offset == self.released {
            return Some(self.hash.to_hex());
        }
        self.snapshots
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, h)| h.to_hex())
    }
}

/// The end of a request the upstream's answer did not settle: a refused upload is terminated
/// (record marked gone, hold released, DELETE upstream); a creation's hold is released; a PATCH
/// cut mid-body records where the upstream may have stopped and parks its inspection.
///
/// Called before a refusal is written (a client retrying at once finds the hold released and
/// the record gone) and again at the end of every request; the second call finds it settled.
pub async fn finish(session: &Session, ctx: &mut RequestCtx) {
    unsettled(session, ctx).await;
    if let Some(t) = ctx.tus.as_mut() {
        t.settled = true;
    }
    if let Some(t) = ctx.tus.as_ref()
        && t.taken
        && let Some(key) = &t.key
    {
        t.parked.release(key);
    }
}

async fn unsettled(session: &Session, ctx: &mut RequestCtx) {
    let Some(t) = ctx.tus.as_mut() else {
        return;
    };
    if t.settled {
        return;
    }
    let Some(mut state) = t.state.take() else {
        return;
    };
    match (&t.ask, t.key.clone()) {
        (Ask::Create { .. }, _) => give_back(ctx.quota.as_ref(), &state, "").await,
        (Ask::Patch { .. }, Some(key)) => {
            let refused = ctx.rejection.as_ref().filter(|r| ends_upload(r));
            if let (Some(r), None) = (refused, &state.gone) {
                state.gone = Some(r.message());
                t.parked.forget(&key);
                save(t, &key, &state).await;
                give_back(ctx.quota.as_ref(), &state, &key).await;
                terminate::upstream(session, ctx);
                return;
            }
            for (offset, hash) in t.snapshots.drain(..) {
                if offset > state.offset && state.hash_at(offset).is_none() {
                    state.cut.push((offset, hash.to_hex()));
                }
            }
            let excess = state.cut.len().saturating_sub(SNAPSHOTS);
            state.cut.drain(..excess);
            if let Some(stream) = ctx.upload.take() {
                t.parked.park(&key, stream, t.rules.expiry);
            }
            save(t, &key, &state).await;
        }
        _ => {}
    }
}

/// Refusals about the file itself: the upload cannot go on.
fn ends_upload(r: &Rejection) -> bool {
    matches!(
        r,
        Rejection::TooLarge(_)
            | Rejection::UnsupportedMediaType(_)
            | Rejection::ContentMismatch { .. }
            | Rejection::InvalidFile(_)
            | Rejection::Malware
            | Rejection::Validation { .. }
            | Rejection::UploadGone(_)
    )
}
