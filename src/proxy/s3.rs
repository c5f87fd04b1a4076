//! S3 multipart uploads through an inspected route (src/s3/multipart.rs; docs/ARCHITECTURE.md,
//! "S3 routes"). The creation is sent to the storage by the gateway itself and its answer
//! relayed once the upload's record is stored, so no part can arrive before its record; a
//! part's framing takes the type declared at creation (part 1 inspected, the others counted);
//! a part the storage took is recorded before its answer goes back; Complete is read whole and
//! gated on the records, and a refused upload is aborted at the storage (signed by the gateway
//! when it has the key).

use super::RequestCtx;
use crate::config::Route;
use crate::inspect::follows_stream;
use crate::rejection::Rejection;
use crate::reload::Live;
use crate::s3::multipart::{self, Op, PartRecord, UploadRecord};
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;

/// The largest creation answer relayed (S3's is a few hundred bytes).
const MAX_CREATE_ANSWER: usize = 64 * 1024;

/// An S3 request on an inspected route.
#[derive(Debug)]
pub struct S3Call {
    pub op: Op,
    pub access_key: String,
    pub region: String,
    /// The upload's record and its key (parts and Complete).
    pub record: Option<(String, UploadRecord)>,
    /// A presigned POST's form, once its fields are read.
    pub form: Option<crate::s3::post::Form>,
    /// The part numbers a Complete lists (their records go with the upload's).
    pub parts: Vec<u32>,
    /// A Complete the storage answered 2xx: its body so far (src/proxy/s3_answer.rs).
    pub answer: Option<Vec<u8>>,
    /// What that body reported, once it ended.
    pub completion: Option<multipart::Completion>,
}

impl S3Call {
    /// The call of a caller on an inspected route (`None` elsewhere).
    pub fn new(caller: crate::s3::Caller) -> Option<Self> {
        Some(Self {
            op: caller.op?,
            access_key: caller.access_key,
            region: caller.region,
            record: None,
            form: None,
            parts: Vec::new(),
            answer: None,
            completion: None,
        })
    }

    /// A presigned POST form.
    pub fn is_form(&self) -> bool {
        self.op == Op::PostObject
    }

    /// The part number of an UploadPart.
    pub fn part(&self) -> Option<u32> {
        match self.op {
            Op::Part { number, .. } => Some(number),
            _ => None,
        }
    }

    /// The type recorded at creation, for a part's framing.
    pub fn recorded_type(&self) -> Option<&str> {
        self.record.as_ref().map(|(_, r)| r.declared.as_str())
    }
}

fn record_key(ctx: &RequestCtx, upload_id: &str) -> String {
    let principal = ctx.identity.as_ref().map_or("", |i| i.principal.as_str());
    multipart::record_key(ctx.tenant.as_deref().unwrap_or(""), principal, upload_id)
}

fn store_down(what: &str, e: impl std::fmt::Display) -> Rejection {
    tracing::error!("multipart upload records: {e} ({what})");
    Rejection::QuotaUnavailable
}

/// The header phase of a multipart request: a creation or a Complete is handled here whole
/// (`true`: answered or ready to forward); a part gets its record.
pub async fn begin(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &Route,
    live: &Live,
) -> Result<bool, Rejection> {
    let Some(op) = ctx.s3.as_ref().map(|c| c.op.clone()) else {
        return Ok(false);
    };
    match op {
        Op::PutObject | Op::PostObject => Ok(false),
        Op::Create => {
            if let Some(q) = &live.quotas {
                super::quota::reserve(q, route, session.req_header(), ctx).await?;
            }
            create(session, ctx, route, live).await.map(|()| true)
        }
        Op::Part { upload_id, .. } => {
            load_record(session, ctx, live, &upload_id).await?;
            Ok(false)
        }
        Op::Complete { upload_id } => {
            load_record(session, ctx, live, &upload_id).await?;
            let checked = complete(session, ctx, route, live).await;
            // Refusals of the upload itself end it; a store or client failure leaves it be.
            if let Err(
                Rejection::Forbidden { .. }
                | Rejection::TooLarge(_)
                | Rejection::QuotaExceeded { .. },
            ) = &checked
            {
                abort(session, ctx, route, &upload_id).await;
            }
            checked.map(|()| true)
        }
    }
}

async fn load_record(
    session: &Session,
    ctx: &mut RequestCtx,
    live: &Live,
    upload_id: &str,
) -> Result<(), Rejection> {
    let key = record_key(ctx, upload_id);
    let text = live
        .uploads
        .load(&key)
        .await
        .map_err(|e| store_down("load", e))?;
    let record: UploadRecord = text
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|r: &UploadRecord| r.path == session.req_header().uri.path())
        .ok_or(Rejection::UploadNotFound)?;
    if let Some(call) = ctx.s3.as_mut() {
        call.record = Some((key, record));
    }
    Ok(())
}

/// CreateMultipartUpload: the declared type must be allowed and checkable part by part; the
/// storage's answer is relayed after the record is stored.
async fn create(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &Route,
    live: &Live,
) -> Result<(), Rejection> {
    let policy = route
        .upload
        .as_ref()
        .ok_or_else(|| Rejection::Internal("an inspected S3 route without [upload]".into()))?;
    let req = session.req_header();
    let declared = super::framing::declared_type(req)?;
    policy.check_raw_declared(declared.as_deref())?;
    let declared = declared.ok_or_else(|| {
        Rejection::UnsupportedMediaType("the upload must declare its Content-Type".into())
    })?;
    if follows_stream(policy, &declared) {
        return Err(Rejection::UnsupportedMediaType(format!(
            "{declared} files are checked whole, in one stream: upload them with one PUT, not \
             in parts"
        )));
    }
    if super::read::content_length(req)?.is_some_and(|n| n > 0)
        || req.headers.contains_key("transfer-encoding")
    {
        return Err(Rejection::BadRequest(
            "CreateMultipartUpload has no body".into(),
        ));
    }
    let mut up = req.clone();
    super::headers::to_upstream(&mut up, ctx)
        .map_err(|e| Rejection::Internal(format!("the creation request: {e}")))?;
    let peer = upstream_peer(ctx, route)?;
    let (mut header, body) = send(&peer, up).await.map_err(|e| {
        tracing::error!("CreateMultipartUpload: {e}");
        Rejection::StorageError("the storage could not be reached".into())
    })?;
    ctx.upstream_status = Some(header.status.as_u16());
    if header.status.is_success() {
        let id = multipart::created_upload_id(&body).ok_or_else(|| {
            Rejection::StorageError("the storage's answer named no upload id".into())
        })?;
        let record = UploadRecord {
            path: session.req_header().uri.path().to_string(),
            declared,
        };
        let text =
            serde_json::to_string(&record).map_err(|e| Rejection::Internal(e.to_string()))?;
        live.uploads
            .save(&record_key(ctx, &id), &text, multipart::RECORD_TTL_MS)
            .await
            .map_err(|e| store_down("save", e))?;
    }
    for h in ["transfer-encoding", "connection", "keep-alive"] {
        header.remove_header(h);
    }
    header
        .insert_header("content-length", body.len().to_string())
        .map_err(|e| Rejection::Internal(e.to_string()))?;
    super::respond::answer(session, ctx, header, Some(body)).await;
    Ok(())
}

fn upstream_peer(
    ctx: &RequestCtx,
    route: &Route,
) -> Result<pingora::upstreams::peer::HttpPeer, Rejection> {
    let mode = ctx
        .identity
        .as_ref()
        .map_or(crate::auth::Mode::Live, |i| i.mode);
    Ok(super::peer_for(route.upstream_for(mode)?))
}

/// One request without a body, on a connection of its own; the answer with its (bounded) body.
async fn send(
    peer: &pingora::upstreams::peer::HttpPeer,
    req: RequestHeader,
) -> pingora::Result<(ResponseHeader, Bytes)> {
    let (mut s, _) = Connector::new(None).get_http_session(peer).await?;
    s.write_request_header(Box::new(req)).await?;
    s.finish_request_body().await?;
    s.read_response_header().await?;
    let header = s
        .response_header()
        .cloned()
        .ok_or_else(|| pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "none"))?;
    let mut body = Vec::new();
    while let Some(chunk) = s.read_response_body().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_CREATE_ANSWER {
            return Err(pingora::Error::explain(
                pingora::ErrorType::InvalidHTTPHeader,
                "the storage's answer is too long",
            ));
        }
    }
    s.shutdown().await;
    Ok((header, body.into()))
}

/// CompleteMultipartUpload: its body read whole (pingora replays it), every listed part
/// recorded, part 1 accepted, the total within the type's limit and the tenant's quota.
async fn complete(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &Route,
    live: &Live,
) -> Result<(), Rejection> {
    let body = read_body(session, ctx).await?;
    let listed = multipart::complete_parts(&body)?;
    let Some((key, _)) = ctx.s3.as_ref().and_then(|c| c.record.clone()) else {
        return Err(Rejection::UploadNotFound);
    };
    let mut records = Vec::with_capacity(listed.len());
    for (n, _) in &listed {
        let text = live
            .uploads
            .load(&multipart::part_key(&key, *n))
            .await
            .map_err(|e| store_down("load part", e))?;
        records.push(text.and_then(|t| serde_json::from_str::<PartRecord>(&t).ok()));
    }
    let (total, detected) = multipart::check_complete(&listed, &records)?;
    if let Some(call) = ctx.s3.as_mut() {
        call.parts = listed.iter().map(|(n, _)| *n).collect();
    }
    if let Some(policy) = &route.upload {
        let category = crate::media::category(&detected);
        let limit = policy.limit_for(category);
        if total > limit {
            return Err(Rejection::TooLarge(format!(
                "the upload's {total} bytes exceed the {} limit of {limit} bytes",
                category.as_str()
            )));
        }
    }
    if let Some(q) = &live.quotas {
        super::quota::reserve_object(q, route, ctx, total).await?;
    }
    Ok(())
}

async fn read_body(session: &mut Session, ctx: &mut RequestCtx) -> Result<Vec<u8>, Rejection> {
    let max = multipart::MAX_COMPLETE_BODY;
    super::window::read_whole(session, ctx, max, || {
        Rejection::TooLarge(format!(
            "a CompleteMultipartUpload body over {max} bytes is not read"
        ))
    })
    .await
}

/// The identity of an S3 caller (its access key names the tenant).
pub fn set_caller(ctx: &mut RequestCtx, caller: crate::s3::Caller) {
    let principal = format!("s3:{}", caller.access_key);
    ctx.span.record("subject", principal.as_str());
    ctx.span.record("tenant", caller.tenant.as_str());
    ctx.identity = Some(crate::auth::Identity {
        subject: principal.clone(),
        principal,
        tenant: Some(caller.tenant.clone()),
        orgs: Vec::new(),
        tier: None,
        scopes: Vec::new(),
        mode: crate::auth::Mode::Live,
        key_label: None,
    });
    ctx.tenant = Some(caller.tenant.clone());
    let form = ctx.s3.take().and_then(|c| c.form);
    ctx.s3 = S3Call::new(caller);
    if let Some(call) = ctx.s3.as_mut() {
        call.form = form;
    }
}

/// A presigned POST once its sniff window is read: every field before `file` is in it (the
/// file is the last part), so the caller, the policy and the file's detected type are known
/// before the storage is contacted. Then the quota is reserved for the caller's tenant.
pub async fn after_form_window(
    session: &Session,
    ctx: &mut RequestCtx,
    route: &Route,
    live: &Live,
) -> Result<(), Rejection> {
    if !ctx.s3.as_ref().is_some_and(|c| c.is_form()) {
        return Ok(());
    }
    let rules = route
        .s3
        .as_ref()
        .ok_or_else(|| Rejection::Internal("a form on a route without [routes.s3]".into()))?;
    let inspector = ctx
        .upload
        .as_ref()
        .map(|u| u.inspector())
        .ok_or_else(|| Rejection::Internal("a form without its inspection".into()))?;
    let detected = inspector.first_type().map(str::to_string).ok_or_else(|| {
        Rejection::BadRequest(
            "a presigned POST form: the fields before the file exceed what is read before the \
             storage is contacted, or there is no file"
                .into(),
        )
    })?;
    let (caller, form) = rules.check_form(inspector.kept_fields(), crate::clock::now_unix())?;
    form.check_type(&detected)?;
    form.check_size(inspector.file_bytes(), inspector.is_complete())?;
    set_caller(ctx, caller);
    if let Some(call) = ctx.s3.as_mut() {
        call.form = Some(form);
    }
    if let Some(q) = &live.quotas {
        super::quota::reserve(q, route, session.req_header(), ctx).await?;
    }
    Ok(())
}

/// A presigned POST's file against the policy's `content-length-range` as it streams: checked
/// after each chunk is inspected and before it is released, so a file out of range never
/// reaches the storage whole.
pub fn check_form_size(ctx: &RequestCtx, end: bool) -> Result<(), Rejection> {
    let (Some(form), Some(upload)) = (
        ctx.s3.as_ref().and_then(|c| c.form.as_ref()),
        ctx.upload.as_ref(),
    ) else {
        return Ok(());
    };
    let inspector = upload.inspector();
    form.check_size(inspector.file_bytes(), end && inspector.is_complete())
}

/// Aborts a refused upload at the storage, signed with the caller's key when the gateway has
/// it (`[routes.s3] secrets`); without it the parts stay until the bucket's lifecycle rule
/// (AbortIncompleteMultipartUpload) removes them — no object exists either way. Awaited: the
/// client hears of the refusal after the upload is gone.
async fn abort(session: &Session, ctx: &RequestCtx, route: &Route, upload_id: &str) {
    let (Some(rules), Some(call)) = (route.s3.as_ref(), ctx.s3.as_ref()) else {
        return;
    };
    let req = session.req_header();
    let path = req.uri.path().to_string();
    let host = req
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .or(req.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_string();
    let Some(signed) = rules.abort_request(&call.access_key, &call.region, &host, &path, upload_id)
    else {
        tracing::warn!(
            %path,
            "a refused multipart upload was not aborted: the gateway has no key to sign with"
        );
        return;
    };
    let Ok(peer) = upstream_peer(ctx, route) else {
        return;
    };
    match send(&peer, signed).await {
        Ok((h, _)) if h.status.is_success() => {
            tracing::info!(%path, "aborted a refused multipart upload");
        }
        Ok((h, body)) => tracing::error!(
            %path,
            status = h.status.as_u16(),
            answer = %String::from_utf8_lossy(&body),
            "the storage did not abort a refused multipart upload"
        ),
        Err(e) => tracing::error!(%path, "could not abort a refused multipart upload: {e}"),
    }
}
