//! Idempotency keys in the hooks (rules and store in src/idempotency.rs): the header phase
//! claims the key or answers a repeat itself (replay, 409, 422) without contacting the
//! upstream; the response hooks capture the upstream's answer; `logging` stores it for the TTL
//! or releases the claim.

use super::RequestCtx;
use crate::config::Route;
use crate::idempotency::{
    self, Fingerprint, Idempotency, IdempotencyStore, Record, StoredResponse,
};
use crate::inspect::{Framing, UploadStream};
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::sync::Arc;

/// How often, and how long apart, a pending key is looked at again before a 409.
const GRACE_TRIES: u32 = 10;
const GRACE_STEP: std::time::Duration = std::time::Duration::from_millis(25);

/// The header on replayed responses.
pub const REPLAYED: &str = "Idempotent-Replayed";

/// A claimed key and the response being captured for it.
pub struct KeyClaim {
    rules: Arc<Idempotency>,
    store: Arc<dyn IdempotencyStore>,
    key: String,
    /// Our pending record, as stored (replaced or deleted only while it is still there).
    owner: String,
    /// The payload's fingerprint when known up front; uploads compute it at their end.
    fingerprint: Option<String>,
    base: Fingerprint,
    response: Option<StoredResponse>,
    body: Vec<u8>,
    body_complete: bool,
    too_big: bool,
}

/// What the body is, for the payload fingerprint.
pub enum Payload<'a> {
    /// Read whole already (JSON routes): its bytes.
    Read(&'a [u8]),
    /// An upload under `policy`, not read yet.
    Upload(&'a Arc<UploadPolicy>, &'a Framing),
    /// A JSON body under `policy`, not read yet: a key the client sent is claimed before the
    /// body arrives (a repeat meanwhile is 409); derived keys wait for the body ([`Self::Read`]).
    Json(&'a crate::json_body::JsonPolicy),
    /// No body is inspected on this route: method, path and query are the payload.
    Uninspected,
}

/// Claims the request's key, or answers a repeat. `Ok(true)`: answered (replayed).
pub async fn begin(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &Route,
    store: &Arc<dyn IdempotencyStore>,
    payload: Payload<'_>,
) -> Result<bool, Rejection> {
    let Some(rules) = route.idempotency.clone() else {
        return Ok(false);
    };
    // Without a verified credential there is nobody to scope a record to: nothing is stored
    // (config refuses idempotency on routes without auth).
    let Some(identity) = ctx.identity.as_ref() else {
        return Ok(false);
    };
    let bucket = identity.bucket(ctx.tenant.as_deref());
    let principal = identity.principal.clone();
    let req = session.req_header();
    let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let base = Fingerprint::of_request(req.method.as_str(), target);
    let fingerprint = match payload {
        Payload::Read(body) => {
            let mut f = base.clone();
            f.add(body);
            Some(f.hex())
        }
        Payload::Upload(..) | Payload::Json(_) => None,
        Payload::Uninspected => Some(base.clone().hex()),
    };
    let Some(key) = key_of(req, &rules, fingerprint.as_deref())? else {
        return Ok(false);
    };
    let store_key = idempotency::store_key(&route.name, &bucket, &principal, &key);
    let owner = Record::Pending {
        owner: hex::encode(rand::random::<[u8; 16]>()),
    }
    .encode();
    let Some(held) = claim(store, &store_key, &owner, rules.lock_ms).await? else {
        ctx.idempotency = Some(KeyClaim {
            rules,
            store: store.clone(),
            key: store_key,
            owner,
            fingerprint,
            base,
            response: None,
            body: Vec::new(),
            body_complete: false,
            too_big: false,
        });
        return Ok(false);
    };
    let Record::Done {
        fingerprint: first,
        response,
    } = Record::decode(&held).map_err(unavailable)?
    else {
        return Err(Rejection::IdempotencyConflict);
    };
    let this = match (fingerprint, payload) {
        (Some(fp), _) => fp,
        (None, Payload::Upload(policy, framing)) => {
            read_upload(session, ctx, policy.clone(), framing, base).await?
        }
        (None, Payload::Json(policy)) => {
            let mut f = base;
            f.add(&super::json::read(session, ctx, policy).await?);
            f.hex()
        }
        (None, _) => return Err(Rejection::Internal("no payload fingerprint".into())),
    };
    if this != first {
        return Err(Rejection::IdempotencyMismatch);
    }
    tracing::debug!(key = %key, "idempotent replay");
    replay(session, ctx, &response).await;
    Ok(true)
}

fn unavailable(e: crate::quota::StoreError) -> Rejection {
    tracing::error!("{e} (idempotency)");
    Rejection::QuotaUnavailable
}

/// The request's key: the one it sent, else one derived from a known payload fingerprint when
/// the route derives keys; `None` when the request has no key (and needs none).
fn key_of(
    req: &pingora::http::RequestHeader,
    rules: &Idempotency,
    fingerprint: Option<&str>,
) -> Result<Option<String>, Rejection> {
    let sent: Vec<&[u8]> = req
        .headers
        .get_all(&rules.header)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    match (
        rules.key_of(&sent).map_err(Rejection::BadRequest)?,
        fingerprint,
    ) {
        (Some(k), _) => Ok(Some(k)),
        (None, _) if rules.required => Err(Rejection::BadRequest(format!(
            "this route requires an {} header",
            rules.header
        ))),
        (None, Some(fp)) if rules.derive => Ok(Some(idempotency::derived_key(fp))),
        (None, _) => Ok(None),
    }
}

/// Claims `key` for `owner`: `None` when claimed, else the record that holds it. A first
/// request's answer reaches its client just before its record is written (pingora's body hook
/// cannot await the store): a pending key is looked at again for a short grace before it
/// counts as in flight.
async fn claim(
    store: &Arc<dyn IdempotencyStore>,
    key: &str,
    owner: &str,
    lock_ms: u64,
) -> Result<Option<String>, Rejection> {
    for _ in 0..GRACE_TRIES {
        let held = store
            .claim(key, owner, lock_ms)
            .await
            .map_err(unavailable)?;
        match held.as_deref().map(Record::decode) {
            Some(Ok(Record::Pending { .. })) => tokio::time::sleep(GRACE_STEP).await,
            _ => return Ok(held),
        }
    }
    store.claim(key, owner, lock_ms).await.map_err(unavailable)
}

/// A JSON body read after its key was claimed: the claim's payload fingerprint.
pub fn read_json(ctx: &mut RequestCtx, body: &[u8]) {
    if let Some(c) = ctx.idempotency.as_mut() {
        let mut f = c.base.clone();
        f.add(body);
        c.fingerprint = Some(f.hex());
    }
}

/// Reads (and inspects, under the route's policy) a repeated upload to fingerprint it; its
/// bytes are dropped as they pass: the first request's response answers it.
async fn read_upload(
    session: &mut Session,
    ctx: &mut RequestCtx,
    policy: Arc<UploadPolicy>,
    framing: &Framing,
    base: Fingerprint,
) -> Result<String, Rejection> {
    super::window::start(session, ctx).await?;
    let mut stream = UploadStream::new(policy, framing);
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => stream.drain(chunk).await?,
            Ok(None) => break,
            Err(e) => return Err(super::window::read_error(&e)),
        }
    }
    stream.end()?;
    stream.fingerprint(base).await
}

async fn replay(session: &mut Session, ctx: &mut RequestCtx, r: &StoredResponse) {
    let body = hex::decode(&r.body).unwrap_or_default();
    let header = (|| {
        let mut h = ResponseHeader::build(r.status, Some(r.headers.len() + 4))?;
        for (k, v) in &r.headers {
            h.append_header(k.clone(), v.as_str())?;
        }
        h.insert_header("Content-Length", body.len().to_string())?;
        h.insert_header(REPLAYED, "true")?;
        Ok::<_, Box<pingora::Error>>(h)
    })();
    match header {
        Ok(h) => {
            super::respond::answer(session, ctx, h, Some(body.into())).await;
        }
        Err(e) => {
            tracing::debug!("could not build the replayed answer: {e}");
            (ctx.status, ctx.answered) = (r.status, true);
        }
    }
}

/// The upstream's response header: kept (status and the route's replay headers).
pub fn on_response(resp: &ResponseHeader, ctx: &mut RequestCtx) {
    let Some(c) = ctx.idempotency.as_mut() else {
        return;
    };
    let headers = c
        .rules
        .replay_headers
        .iter()
        .flat_map(|name| {
            resp.headers.get_all(name).iter().filter_map(move |v| {
                Some((name.as_str().to_string(), v.to_str().ok()?.to_string()))
            })
        })
        .collect();
    c.response = Some(StoredResponse {
        status: resp.status.as_u16(),
        headers,
        body: String::new(),
    });
}

/// A response body chunk: kept up to the route's cap. At the body's end the outcome is
/// written at once (before pingora sends the last bytes), so a client repeating the request
/// right after the answer finds it stored or released, not still pending.
pub fn on_response_body(body: Option<&Bytes>, end: bool, ctx: &mut RequestCtx) {
    let Some(c) = ctx.idempotency.as_mut() else {
        return;
    };
    if let Some(b) = body {
        if c.body.len() + b.len() > c.rules.max_response_bytes {
            c.too_big = true;
            c.body = Vec::new();
        } else if !c.too_big {
            c.body.extend_from_slice(b);
        }
    }
    c.body_complete |= end;
    if end && let Some(outcome) = outcome(ctx) {
        tokio::spawn(outcome.write());
    }
}

/// Settles the claim now (refusals, upstream failures, a 5xx head, the end of the request):
/// stored or released, see [`outcome`].
pub async fn finish(ctx: &mut RequestCtx) {
    if let Some(outcome) = outcome(ctx) {
        outcome.write().await;
    }
}

/// A claim's outcome, to write to the store.
struct Outcome {
    store: Arc<dyn IdempotencyStore>,
    key: String,
    owner: String,
    /// The record to store and its TTL; `None`: release the key.
    record: Option<(String, u64)>,
}

impl Outcome {
    async fn write(self) {
        let written = match &self.record {
            Some((record, ttl)) => {
                self.store
                    .replace(&self.key, &self.owner, record, *ttl)
                    .await
            }
            None => self.store.release(&self.key, &self.owner).await,
        };
        if let Err(e) = written {
            tracing::error!("{e} (idempotency)");
        }
    }
}

/// Takes the claim: a complete upstream answer below 500 to a complete payload is stored for
/// the TTL; anything else (refusals, upstream failures, 5xx, client aborts, bodies over the
/// cap) releases the key so the client may retry.
fn outcome(ctx: &mut RequestCtx) -> Option<Outcome> {
    let c = ctx.idempotency.take()?;
    let fingerprint = match (&c.fingerprint, &ctx.upload) {
        (Some(fp), _) => Some(fp.clone()),
        // Complete uploads have settled their digests before their last bytes were released.
        (None, Some(upload)) => upload.inspector().fingerprint(c.base.clone()),
        (None, None) => None,
    };
    let record = match (c.response, fingerprint) {
        (Some(mut response), Some(fingerprint))
            if ctx.rejection.is_none()
                && response.status < 500
                && c.body_complete
                && !c.too_big =>
        {
            response.body = hex::encode(&c.body);
            let record = Record::Done {
                fingerprint,
                response,
            };
            Some((record.encode(), c.rules.ttl_ms))
        }
        (response, _) => {
            if response.is_some_and(|r| r.status < 500) && c.too_big {
                tracing::warn!(
                    "response over max_response_bytes ({}): not stored for idempotent replay",
                    c.rules.max_response_bytes
                );
            }
            None
        }
    };
    Some(Outcome {
        store: c.store,
        key: c.key,
        owner: c.owner,
        record,
    })
}
