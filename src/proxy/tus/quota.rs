//! A resumable upload's part in quotas: one hold for the whole length, made at creation (grown
//! when a deferred length is declared) and renewed to the upload's expiry by each request;
//! committed when the upload completes (and recorded under the upload's key, so terminating a
//! completed upload gives its size back); released when it is refused or terminated.

use super::super::RequestCtx;
use super::super::quota::QuotaHold;
use super::ttl_ms;
use crate::quota::{self, Metric, Verdict};
use crate::rejection::Rejection;
use crate::tus::UploadState;

/// Reserves `storage` bytes and `files` files more on the upload's hold (renewing its expiry
/// to the upload's); refuses past a quota.
pub(super) async fn hold(
    ctx: &mut RequestCtx,
    state: &mut UploadState,
    storage: u64,
    files: u64,
) -> Result<(), Rejection> {
    let (Some(h), Some(t)) = (ctx.quota.as_ref(), ctx.tus.as_ref()) else {
        return Ok(());
    };
    let id = state
        .hold
        .get_or_insert_with(|| format!("tus-{}-{:016x}", ctx.request_id, rand::random::<u64>()))
        .clone();
    let ask = quota::Ask {
        hold: id,
        storage,
        files,
        request: false,
    };
    let r = h
        .quotas
        .store
        .reserve(
            &h.tenant,
            &h.limits,
            &ask,
            quota::now_ms(),
            ttl_ms(&t.rules),
        )
        .await;
    match r {
        Ok(Verdict::Granted(_)) => {
            state.held += storage;
            Ok(())
        }
        Ok(v) => Err(quota::refusal(&v).unwrap_or(Rejection::QuotaUnavailable)),
        Err(e)
            if h.quotas
                .fails_open(&[Metric::StorageBytes, Metric::FileCount]) =>
        {
            tracing::warn!(tenant = %h.tenant, "{e}; failing open");
            Ok(())
        }
        Err(e) => {
            tracing::error!(tenant = %h.tenant, "{e}; failing closed");
            Err(Rejection::QuotaUnavailable)
        }
    }
}

/// The upload completed: its size and one file become the tenant's usage, recorded under the
/// upload's key so a termination gives them back.
pub(super) async fn commit(h: Option<&QuotaHold>, state: &UploadState, key: &str) {
    let (Some(h), Some(hold)) = (h, &state.hold) else {
        return;
    };
    let size = state.offset;
    let store = &h.quotas.store;
    if let Err(e) = store.commit(&h.tenant, hold, size, 1, &h.tier.name).await {
        tracing::error!(tenant = %h.tenant, "quota store: {e} (commit)");
    }
    if let Err(e) = store.record_object(&h.tenant, key, size).await {
        tracing::error!(tenant = %h.tenant, "quota store: {e} (record)");
    }
}

/// The upload ended without completing (or a completed one was terminated): its hold, or its
/// committed size, goes back to the tenant.
pub(super) async fn give_back(h: Option<&QuotaHold>, state: &UploadState, key: &str) {
    let (Some(h), Some(hold)) = (h, &state.hold) else {
        return;
    };
    let store = &h.quotas.store;
    let r = match state.sha256 {
        Some(_) => store.free_object(&h.tenant, key, None).await.map(drop),
        None => store.release(&h.tenant, hold, 0).await,
    };
    if let Err(e) = r {
        tracing::error!(tenant = %h.tenant, "quota store: {e}; a hold left behind expires");
    }
}
