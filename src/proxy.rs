//! The pingora `ProxyHttp` implementation. Hooks stay thin: they gather facts from the session,
//! call the pure policies and inspector, and keep per-request state in [`RequestCtx`].

mod cors;
mod ctx;
mod finish;
mod framing;
mod headers;
mod idempotency;
mod identity;
mod json;
mod quota;
mod read;
mod respond;
mod s3;
mod s3_answer;
mod tus;
mod usage;
mod window;

pub use ctx::{Phase, RequestCtx};

use crate::auth::Mode;
use crate::rejection::Rejection;
use crate::reload::{Live, Shared};
use crate::request_id;
use async_trait::async_trait;
use bytes::Bytes;
use idempotency::Payload;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{ErrorType, http::ResponseHeader};

/// The gateway's proxy logic over a validated configuration.
pub struct Gateway {
    live: Shared,
    /// Resumable uploads' inspections between their requests (src/proxy/tus/parked.rs).
    parked: std::sync::Arc<tus::Streams>,
    /// Requests in flight, over every connection and reload (`[server] max_requests`).
    in_flight: crate::connections::InFlight,
}

impl Gateway {
    /// Serves with whatever `live` holds when a request starts (src/reload.rs).
    pub fn new(live: Shared) -> Self {
        Self {
            live,
            parked: Default::default(),
            in_flight: Default::default(),
        }
    }

    /// Everything decided before the upstream is contacted.
    async fn header_phase(
        &self,
        live: &Live,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<(), Rejection> {
        let req = session.req_header();
        headers::check_path(req.uri.path())?;
        if let (Some(q), Some(auth)) = (&live.quotas, &live.config.auth)
            && usage::is_usage_request(q, req)
        {
            return usage::serve(session, ctx, auth, q).await;
        }
        if cors::preflight(&live.config, session, ctx).await? {
            return Ok(());
        }
        let req = session.req_header();
        let route = live
            .config
            .route(&req.method, req.uri.path())
            .ok_or(Rejection::NotFound)?
            .clone();
        ctx.route = Some(route.clone());
        ctx.span.record("route", route.name.as_str());
        cors::record(session, ctx);
        if let Some(s3) = &route.s3 {
            identity::s3(s3, &route, session.req_header(), ctx)?;
        } else if let Some(auth) = &live.config.auth
            && !route.public
        {
            let (id, tenant) = identity::authorize(auth, &route, session.req_header())?;
            route.upstream_for(id.mode)?;
            ctx.span.record("subject", id.subject.as_str());
            if let Some(t) = &tenant {
                ctx.span.record("tenant", t.as_str());
            }
            ctx.identity = Some(id);
            ctx.tenant = tenant;
        }
        let query = session.req_header().uri.query().unwrap_or("");
        route.query.check(query)?;
        if s3::begin(session, ctx, &route, live).await? {
            return Ok(());
        }
        if let Some(rules) = &route.tus {
            if let Some(q) = &live.quotas {
                quota::reserve(q, &route, session.req_header(), ctx).await?;
            }
            return tus::begin(session, ctx, &route, rules, live, &self.parked).await;
        }
        let form = ctx.s3.as_ref().is_some_and(|c| c.is_form());
        let upload = match route.upload.clone() {
            // A presigned POST is a form on a raw-body S3 route (src/s3/post.rs).
            Some(p) if form => {
                let p = std::sync::Arc::new(p.for_s3_form());
                Some((
                    framing::upload_framing(session.req_header(), &p, true, None)?,
                    p,
                ))
            }
            Some(p) => {
                let recorded = ctx.s3.as_ref().and_then(|c| c.recorded_type());
                let framing =
                    framing::upload_framing(session.req_header(), &p, route.s3.is_some(), recorded);
                Some((framing?, p))
            }
            None => None,
        };
        if upload.is_some() {
            ctx.in_flight = Some(crate::metrics::InFlight::start(&route.name));
        }
        if let Some(q) = &live.quotas {
            quota::reserve(q, &route, session.req_header(), ctx).await?;
        }
        let store = &live.idempotency;
        if let Some(policy) = &route.json {
            if idempotency::begin(session, ctx, &route, store, Payload::Json(policy)).await? {
                return Ok(());
            }
            let body = json::read(session, ctx, policy).await?;
            if ctx.idempotency.is_some() {
                idempotency::read_json(ctx, &body);
            } else {
                idempotency::begin(session, ctx, &route, store, Payload::Read(&body)).await?;
            }
            return Ok(());
        }
        match upload {
            Some((framing, policy)) => {
                let payload = Payload::Upload(&policy, &framing);
                if !idempotency::begin(session, ctx, &route, store, payload).await? {
                    window::read(session, ctx, policy, &framing).await?;
                    s3::after_form_window(session, ctx, &route, live).await?;
                }
                Ok(())
            }
            None => idempotency::begin(session, ctx, &route, store, Payload::Uninspected)
                .await
                .map(drop),
        }
    }
}

impl Gateway {
    /// Whether the client stopped sending its body for as long as the upstream's read timeout:
    /// the upstream then times out waiting for a body that is not coming, and the client is
    /// the one too slow (408, not 504).
    fn client_stalled(&self, session: &mut Session, ctx: &RequestCtx) -> bool {
        let mode = ctx.identity.as_ref().map_or(Mode::Live, |i| i.mode);
        let timeout = ctx
            .route
            .as_ref()
            .and_then(|r| r.upstream_for(mode).ok())
            .map(|u| u.read_timeout);
        !session.is_body_done()
            && timeout.is_some_and(|t| ctx.last_body_at.elapsed() >= t.mul_f32(0.9))
    }
}

/// The peer of an upstream, with its TLS settings and timeouts.
fn peer_for(up: &crate::config::Upstream) -> HttpPeer {
    let mut peer = match &up.tls {
        None => HttpPeer::new(up.address, false, String::new()),
        Some(tls) => {
            let mut p = HttpPeer::new(up.address, true, tls.sni.clone());
            p.options.ca = tls.ca.clone();
            p
        }
    };
    peer.options.connection_timeout = Some(up.connect_timeout);
    peer.options.read_timeout = Some(up.read_timeout);
    peer.options.write_timeout = Some(up.write_timeout);
    peer
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.request_id =
            request_id::from_client(session.get_header(request_id::HEADER).map(|v| v.as_bytes()));
        ctx.trace = crate::trace::TraceContext::from_client(
            session
                .get_header(crate::trace::HEADER)
                .map(|v| v.as_bytes()),
        );
        ctx.span = tracing::info_span!(
            "request",
            request_id = %ctx.request_id,
            trace_id = %ctx.trace.trace_id,
            route = tracing::field::Empty,
            subject = tracing::field::Empty,
            tenant = tracing::field::Empty,
        );
        // One snapshot per request: a reload affects only requests that start after it.
        let live = self.live.load_full();
        ctx.live = Some(live.clone());
        session.set_read_timeout(Some(live.config.server.client_read_timeout));
        crate::connections::mark_head_read(session.stream());
        let cap = live.config.server.connections.max_requests;
        ctx.request_slot = Some(
            self.in_flight
                .enter(cap)
                .ok_or_else(|| ctx.refuse(Rejection::Overloaded))?,
        );
        self.header_phase(&live, session, ctx)
            .await
            .map_err(|r| ctx.refuse(r))?;
        Ok(ctx.answered)
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        // Called once per attempt: pingora replays its (untruncated) retry buffer to each.
        ctx.phase = Phase::Stream;
        if let Some(upload) = ctx.upload.as_mut() {
            upload.begin_attempt(!session.retry_buffer_truncated());
        }
        let route = ctx
            .route
            .clone()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no route selected"))?;
        let mode = ctx.identity.as_ref().map_or(Mode::Live, |i| i.mode);
        let up = route.upstream_for(mode).map_err(|r| ctx.refuse(r))?;
        if ctx.upstream.is_none() {
            ctx.upstream = Some((up.clone(), std::time::Instant::now()));
        }
        Ok(Box::new(peer_for(up)))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut pingora::http::RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(auth) = ctx.live.as_ref().and_then(|l| l.config.auth.clone()) {
            identity::to_upstream(upstream, &auth, ctx)?;
        }
        headers::to_upstream(upstream, ctx)
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.last_body_at = std::time::Instant::now();
        let Some(upload) = ctx.upload.as_mut() else {
            return Ok(());
        };
        let release = upload
            .push(body.take(), end_of_stream)
            .await
            .map_err(|r| ctx.refuse(r))?;
        s3::check_form_size(ctx, end_of_stream).map_err(|r| ctx.refuse(r))?;
        quota::grow(ctx).await.map_err(|r| ctx.refuse(r))?;
        tus::on_body(ctx, &release).map_err(|r| ctx.refuse(r))?;
        *body = Some(release);
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.status = resp.status.as_u16();
        ctx.upstream_status = Some(ctx.status);
        finish::upstream_answered(ctx);
        idempotency::on_response(resp, ctx);
        if ctx.status >= 500 {
            // Not kept: released before the client can repeat the request.
            idempotency::finish(ctx).await;
        }
        if let Some(route) = ctx.route.clone() {
            let path = session.req_header().uri.path();
            quota::on_response(&route, path, resp, ctx).await?;
        }
        tus::on_response(resp, ctx).await;
        if let Some(live) = ctx.live.clone() {
            s3_answer::on_response(resp, ctx, &live).await;
        }
        headers::to_client(resp, ctx)
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(route) = ctx.route.clone() {
            quota::on_response_body(&route, body.as_ref(), end_of_stream, ctx);
        }
        idempotency::on_response_body(body.as_ref(), end_of_stream, ctx);
        s3_answer::on_response_body(body.as_ref(), end_of_stream, ctx);
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        // Released before the refusal is written: the client may retry at once.
        idempotency::finish(ctx).await;
        tus::finish(session, ctx).await;
        if ctx.rejection.is_none() {
            let stalled = self.client_stalled(session, ctx);
            if !stalled {
                finish::upstream_failed(ctx, e);
            }
            ctx.rejection = respond::classify(e, stalled);
            ctx.refused_in = ctx.rejection.as_ref().map(|_| ctx.phase);
        }
        FailToProxy {
            error_code: respond::rejection(session, ctx).await,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _e: &Error) -> bool {
        // Refusing a client is not a gateway error: logged at debug level by `respond`.
        ctx.rejection.as_ref().is_some_and(|r| r.status() < 500)
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        quota::finish(ctx).await;
        tus::finish(session, ctx).await;
        idempotency::finish(ctx).await;
        finish::record(session, e, ctx);
        crate::connections::mark_request_done(session.stream());
    }
}
