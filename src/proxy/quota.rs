//! Quota glue for the hooks (docs/ARCHITECTURE.md, "Quotas"): reserve after identity, grow the
//! hold while a body arrives, commit on the upstream's 2xx, release on every other outcome.
//! The rules themselves live in `quota` (pure state, stores).

use super::RequestCtx;
use crate::config::Route;
use crate::metrics;
use crate::quota::{self, Ask, Limits, Metric, Tier, Verdict, WindowState};
use crate::rejection::Rejection;
use crate::s3::multipart::Op;
use crate::stores::Quotas;
use pingora::http::{RequestHeader, ResponseHeader};
use std::sync::Arc;

/// Grow a chunked body's hold by at least this much at a time.
const GROW_STEP: u64 = 1 << 20;
/// The upload response body kept to find the object id in (bigger ones are not parsed).
const MAX_ID_BODY: usize = 64 * 1024;

/// One request's part in quotas.
pub struct QuotaHold {
    pub quotas: Arc<Quotas>,
    pub tenant: String,
    pub tier: Arc<Tier>,
    pub limits: Arc<Limits>,
    pub hold: String,
    /// Counts storage and files (upload routes).
    pub upload: bool,
    pub held_storage: u64,
    pub held_files: u64,
    /// Body bytes received so far (kept in `upload_bytes` windows on release with
    /// `count_transferred`).
    transferred: u64,
    pub windows: Vec<WindowState>,
    /// Renews the hold every third of its TTL while the request lives, however long the
    /// client or the upstream stalls: a hold cannot expire under a live upload and let the
    /// tenant pass its limit. Aborted when settled or dropped.
    keepalive: Option<KeepAlive>,
    /// Committed or released: nothing left to give back.
    pub settled: bool,
    /// The store failed and the request went on (fail-open): no more calls while it streams.
    degraded: bool,
    /// The committed size, kept for the ledger until the object id is known.
    committed: Option<u64>,
    /// The object's size when the request is not its bytes (an S3 CompleteMultipartUpload):
    /// committed as one file of this size on the upstream's 2xx.
    object: Option<u64>,
    /// A 2xx whose body tells whether it succeeded (an S3 Complete): the size and file count
    /// committed at the end of the request unless the body was an error.
    deferred: Option<(u64, u64)>,
    body: Vec<u8>,
}

fn metrics_of(upload: bool, limits: &Limits) -> Vec<Metric> {
    let mut m: Vec<Metric> = limits.windows.iter().map(|w| w.metric).collect();
    if upload {
        m.extend([Metric::StorageBytes, Metric::FileCount]);
    }
    m
}

/// Reserves what the request may add: one request, and on upload routes one file and the
/// declared Content-Length (chunked bodies grow the hold as they arrive).
pub async fn reserve(
    quotas: &Arc<Quotas>,
    route: &Route,
    req: &RequestHeader,
    ctx: &mut RequestCtx,
) -> Result<(), Rejection> {
    if ctx.identity.is_none() || !route.quota.enabled {
        return Ok(());
    };
    // A resumable upload holds its storage per upload, not per request (src/proxy/tus.rs);
    // an S3 multipart upload at its Complete (`reserve_object`), not per part or creation.
    let upload = route.upload.is_some()
        && route.tus.is_none()
        && ctx
            .s3
            .as_ref()
            .is_none_or(|c| matches!(c.op, Op::PutObject | Op::PostObject));
    let declared = super::read::content_length(req)?;
    let storage = if upload { declared.unwrap_or(0) } else { 0 };
    reserve_as(quotas, route, ctx, upload.then_some(storage), false).await
}

/// Reserves an object of `size` bytes whose request is not its bytes (an S3
/// CompleteMultipartUpload), committed as one file on the upstream's 2xx.
pub async fn reserve_object(
    quotas: &Arc<Quotas>,
    route: &Route,
    ctx: &mut RequestCtx,
    size: u64,
) -> Result<(), Rejection> {
    reserve_as(quotas, route, ctx, Some(size), true).await
}

/// `storage`: the bytes an upload request holds (`None`: not an upload).
async fn reserve_as(
    quotas: &Arc<Quotas>,
    route: &Route,
    ctx: &mut RequestCtx,
    storage: Option<u64>,
    known_object: bool,
) -> Result<(), Rejection> {
    let Some(identity) = ctx.identity.as_ref().filter(|_| route.quota.enabled) else {
        return Ok(());
    };
    let tenant = identity.bucket(ctx.tenant.as_deref());
    let tier = quotas
        .settings
        .tier_of(&tenant, identity.tier.as_deref())
        .clone();
    let limits = tier.limits(&route.name);
    let upload = storage.is_some();
    let ask = Ask {
        hold: format!("{}-{:016x}", ctx.request_id, rand::random::<u64>()),
        storage: storage.unwrap_or(0),
        files: u64::from(upload),
        request: true,
    };
    let mut hold = QuotaHold {
        quotas: quotas.clone(),
        tenant,
        tier,
        limits,
        hold: ask.hold.clone(),
        upload,
        held_storage: ask.storage,
        held_files: ask.files,
        transferred: 0,
        windows: Vec::new(),
        keepalive: None,
        settled: false,
        degraded: false,
        committed: None,
        deferred: None,
        object: known_object.then_some(ask.storage),
        body: Vec::new(),
    };
    let result = call(&hold, &ask).await;
    let exceeded = matches!(result, Ok(Verdict::Exceeded { .. }));
    let granted = decide(&mut hold, result);
    if exceeded {
        current_windows(&mut hold).await;
    }
    // A refused first reservation holds nothing; neither does one that only counted a request.
    hold.settled = granted.is_err() || !upload;
    if !hold.settled && !hold.degraded {
        hold.keepalive = Some(KeepAlive::start(&hold));
    }
    ctx.quota = Some(hold);
    granted
}

async fn call(h: &QuotaHold, ask: &Ask) -> Result<Verdict, quota::StoreError> {
    let ttl = h.quotas.settings.reservation_ttl.as_millis() as u64;
    h.quotas
        .store
        .reserve(&h.tenant, &h.limits, ask, quota::now_ms(), ttl)
        .await
}

/// A cumulative quota refusal counts no window, so the store's answer names none: the windows'
/// current state is read for the `RateLimit` headers every answer of a limited route carries.
async fn current_windows(h: &mut QuotaHold) {
    if h.limits.windows.is_empty() {
        return;
    }
    let now = quota::now_ms();
    let Ok(usage) = h
        .quotas
        .store
        .usage(&h.tenant, &h.limits.windows, now)
        .await
    else {
        return;
    };
    h.windows = h
        .limits
        .windows
        .iter()
        .zip(usage.windows)
        .map(|(w, count)| WindowState {
            window: w.clone(),
            remaining: w.limit.saturating_sub(count),
            reset_secs: w.remaining_ms(now).div_ceil(1000),
        })
        .collect();
}

/// Applies a store answer to the hold: granted (windows kept for the headers), refused, or the
/// store unreachable (fail open or closed per metric).
fn decide(h: &mut QuotaHold, r: Result<Verdict, quota::StoreError>) -> Result<(), Rejection> {
    match r {
        Ok(Verdict::Granted(windows)) => {
            if !windows.is_empty() {
                h.windows = windows;
            }
            Ok(())
        }
        Ok(v) => {
            if let Verdict::RateLimited {
                window,
                retry_after_secs,
            } = &v
            {
                h.windows = vec![WindowState {
                    window: window.clone(),
                    remaining: 0,
                    reset_secs: *retry_after_secs,
                }];
            }
            // Counted with every other refusal (upload_gateway_rejections_total).
            Err(quota::refusal(&v).unwrap_or(Rejection::QuotaUnavailable))
        }
        Err(e) => {
            metrics::quota_store_error("reserve");
            if h.quotas.fails_open(&metrics_of(h.upload, &h.limits)) {
                tracing::warn!(tenant = %h.tenant, "{e}; failing open");
                h.degraded = true;
                Ok(())
            } else {
                tracing::error!(tenant = %h.tenant, "{e}; failing closed");
                Err(Rejection::QuotaUnavailable)
            }
        }
    }
}

/// Grows the hold to cover the body bytes and file parts seen so far (chunked bodies); refuses
/// the moment a quota would be crossed. (The hold is renewed by its [`KeepAlive`].)
pub async fn grow(ctx: &mut RequestCtx) -> Result<(), Rejection> {
    let (Some(h), Some(up)) = (ctx.quota.as_mut(), ctx.upload.as_ref()) else {
        return Ok(());
    };
    if !h.upload || h.settled || h.degraded {
        return Ok(());
    }
    let seen = up.total();
    h.transferred = seen;
    let files = up.inspector().file_parts() as u64;
    if seen <= h.held_storage && files <= h.held_files {
        return Ok(());
    }
    let needed = seen.saturating_sub(h.held_storage);
    let mut ask = Ask {
        hold: h.hold.clone(),
        storage: if needed > 0 { needed.max(GROW_STEP) } else { 0 },
        files: files.saturating_sub(h.held_files),
        request: false,
    };
    let mut result = call(h, &ask).await;
    if matches!(result, Ok(Verdict::Exceeded { .. })) && ask.storage > needed {
        // The step would cross the limit; the bytes actually seen may still fit.
        ask.storage = needed;
        result = call(h, &ask).await;
    }
    let granted = matches!(result, Ok(Verdict::Granted(_)));
    if matches!(result, Ok(Verdict::Exceeded { .. })) {
        current_windows(h).await;
    }
    decide(h, result)?;
    if granted {
        h.held_storage += ask.storage;
        h.held_files += ask.files;
    }
    Ok(())
}

/// On the upstream's answer: a 2xx commits the real file sizes (uploads) or gives a deleted
/// object back (DELETE routes); anything else releases the hold. (`RateLimit` headers:
/// `headers::decorate`.)
pub async fn on_response(
    route: &Route,
    path: &str,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
) -> pingora::Result<()> {
    let Some(h) = ctx.quota.as_mut() else {
        return Ok(());
    };
    // A presigned POST with `success_action_redirect` is answered 303 when the object is
    // stored: counted like any success, or the redirect would store outside the quota.
    let ok = resp.status.is_success()
        || (resp.status == 303 && ctx.s3.as_ref().is_some_and(|c| c.is_form()));
    if h.upload && !h.settled {
        let complete = h.object.is_some()
            || ctx
                .upload
                .as_ref()
                .is_some_and(|u| u.inspector().is_complete());
        if ok && complete {
            let files = ctx
                .upload
                .as_ref()
                .map_or(&[][..], |u| u.inspector().files());
            let (size, count) = match h.object {
                Some(size) => (size, 1),
                None => (files.iter().map(|f| f.size).sum(), files.len() as u64),
            };
            // An S3 Complete's 200 may carry an error: counted at the end, unless it did.
            if ctx
                .s3
                .as_ref()
                .is_some_and(|c| matches!(c.op, Op::Complete { .. }))
            {
                h.deferred = Some((size, count));
            } else {
                commit(h, size, count).await;
            }
        } else {
            release(h).await;
        }
    }
    if let (true, Some(i)) = (ok, route.quota.frees_object) {
        let id = path.split('/').nth(i).unwrap_or_default();
        let reported = route
            .quota
            .freed_bytes_header
            .as_ref()
            .and_then(|name| resp.headers.get(name))
            .and_then(|v| v.to_str().ok()?.trim().parse().ok());
        if let Err(e) = h.quotas.store.free_object(&h.tenant, id, reported).await {
            store_failed("free", &h.tenant, &e);
        }
    }
    Ok(())
}

/// Keeps the upload response body (bounded) and, at its end, records the object's committed
/// size under the id the response names. The write is issued before the client receives the
/// last byte; it completes asynchronously.
pub fn on_response_body(
    route: &Route,
    body: Option<&bytes::Bytes>,
    end: bool,
    ctx: &mut RequestCtx,
) {
    let Some(h) = ctx.quota.as_mut() else {
        return;
    };
    let (Some(size), Some(pointer)) = (h.committed, route.quota.object_id_pointer.as_ref()) else {
        return;
    };
    if let Some(b) = body
        && h.body.len() + b.len() <= MAX_ID_BODY
    {
        h.body.extend_from_slice(b);
    }
    if !end {
        return;
    }
    h.committed = None;
    let id = serde_json::from_slice::<serde_json::Value>(&h.body)
        .ok()
        .and_then(|v| match v.pointer(pointer)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let Some(id) = id else {
        tracing::warn!(tenant = %h.tenant, "no object id at {pointer} in the upload response");
        return;
    };
    let (store, tenant) = (h.quotas.store.clone(), h.tenant.clone());
    tokio::spawn(async move {
        if let Err(e) = store.record_object(&tenant, &id, size).await {
            store_failed("record", &tenant, &e);
        }
    });
}

/// The end of the request: a hold not committed is given back (rejections, upstream errors and
/// timeouts, client aborts).
pub async fn finish(ctx: &mut RequestCtx) {
    let failed = super::s3_answer::complete_failed(ctx);
    if let Some(h) = ctx.quota.as_mut()
        && !h.settled
    {
        if let Some((size, count)) = h.deferred.take()
            && !failed
        {
            return commit(h, size, count).await;
        }
        if let Some(up) = &ctx.upload {
            h.transferred = h.transferred.max(up.total());
        }
        release(h).await;
    }
}

async fn commit(h: &mut QuotaHold, size: u64, count: u64) {
    h.settle();
    let store = &h.quotas.store;
    match store
        .commit(&h.tenant, &h.hold, size, count, &h.tier.name)
        .await
    {
        Ok(()) => h.committed = Some(size),
        Err(e) => store_failed("commit", &h.tenant, &e),
    }
}

async fn release(h: &mut QuotaHold) {
    h.settle();
    let keep = if h.quotas.settings.count_transferred {
        h.transferred
    } else {
        0
    };
    if let Err(e) = h.quotas.store.release(&h.tenant, &h.hold, keep).await {
        store_failed("release", &h.tenant, &e);
    }
}

fn store_failed(op: &'static str, tenant: &str, e: &quota::StoreError) {
    metrics::quota_store_error(op);
    tracing::error!(tenant, "{e} ({op}); a hold left behind expires by itself");
}

impl QuotaHold {
    fn settle(&mut self) {
        self.settled = true;
        self.keepalive = None;
    }
}

/// The task renewing a live hold; aborted when dropped.
struct KeepAlive(tokio::task::JoinHandle<()>);

impl KeepAlive {
    fn start(h: &QuotaHold) -> Self {
        let (quotas, tenant, limits) = (h.quotas.clone(), h.tenant.clone(), h.limits.clone());
        let ask = Ask {
            hold: h.hold.clone(),
            storage: 0,
            files: 0,
            request: false,
        };
        let ttl = quotas.settings.reservation_ttl;
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                let now = quota::now_ms();
                let ttl_ms = ttl.as_millis() as u64;
                if let Err(e) = quotas
                    .store
                    .reserve(&tenant, &limits, &ask, now, ttl_ms)
                    .await
                {
                    store_failed("reserve", &tenant, &e);
                }
            }
        }))
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Adds `RateLimit-Policy` and `RateLimit` to a response.
pub fn add_headers(resp: &mut ResponseHeader, h: &QuotaHold) -> pingora::Result<()> {
    if let (Some(policy), Some(state)) =
        (&h.limits.policy_header, quota::rate_limit_state(&h.windows))
    {
        resp.insert_header("RateLimit-Policy", policy.as_str())?;
        resp.insert_header("RateLimit", state)?;
    }
    Ok(())
}
