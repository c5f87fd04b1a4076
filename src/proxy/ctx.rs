//! The per-request state shared by the proxy hooks.

use crate::auth::Identity;
use crate::config::Route;
use crate::inspect::UploadStream;
use crate::rejection::Rejection;
use pingora::{Error, ErrorType};
use std::sync::Arc;
use std::time::Instant;

/// Where a request is: what a refusal there means for the backend (docs/ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before any body byte is read.
    Header,
    /// Reading the sniff window: the upstream is not contacted yet.
    Window,
    /// The upstream is contacted; a refusal leaves it an incomplete body.
    Stream,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Window => "window",
            Self::Stream => "stream",
        }
    }
}

/// Everything one request's hooks learn and hand to each other.
pub struct RequestCtx {
    /// The configuration this request is served with, from its start to its end.
    pub live: Option<Arc<crate::reload::Live>>,
    pub request_id: String,
    /// This request's place under `[server] max_requests`, given back when the context drops.
    pub request_slot: Option<crate::connections::RequestSlot>,
    /// The gateway's span in the W3C trace (src/trace.rs).
    pub trace: crate::trace::TraceContext,
    /// The request's span: opened in the header phase, fields recorded as they become known.
    pub span: tracing::Span,
    pub started: Instant,
    pub route: Option<Arc<Route>>,
    /// The verified caller, on authenticated routes.
    pub identity: Option<Identity>,
    /// The tenant the request acts as.
    pub tenant: Option<String>,
    /// The request's quota hold (limited routes, when `[quotas]` is configured).
    pub quota: Option<super::quota::QuotaHold>,
    /// The upload's bytes: inspection, hold-back and replay position (upload routes only).
    pub upload: Option<UploadStream>,
    /// Why the request was refused, if it was: recorded once, where it was decided, and written
    /// to the client by `fail_to_proxy` (proxy/respond.rs).
    pub rejection: Option<Rejection>,
    /// The phase the request is in, and the one it was refused in.
    pub phase: Phase,
    pub refused_in: Option<Phase>,
    /// The status answered to the client (for logs and metrics).
    pub status: u16,
    /// The upstream's response status, when it answered.
    pub upstream_status: Option<u16>,
    /// When the client last sent body bytes (tells a stalled client from a stalled upstream).
    pub last_body_at: Instant,
    /// The gateway answered the request itself (the usage endpoint): nothing is proxied.
    pub answered: bool,
    /// The upstream this request went to, and when it was first contacted.
    pub upstream: Option<(Arc<crate::config::Upstream>, Instant)>,
    /// Counts this upload in `upload_gateway_uploads_in_flight` until the request is dropped.
    pub in_flight: Option<crate::metrics::InFlight>,
    /// CORS headers for the response (an allowed origin on a route with `[routes.cors]`).
    pub cors: Vec<(&'static str, String)>,
    /// The idempotency key this request claimed, and the response captured for it.
    pub idempotency: Option<super::idempotency::KeyClaim>,
    /// This request's part in a resumable upload (tus routes).
    pub tus: Option<super::tus::TusRequest>,
    /// An S3 request on an inspected route: its operation and multipart upload record.
    pub s3: Option<super::s3::S3Call>,
}

impl RequestCtx {
    pub fn new() -> Self {
        Self {
            live: None,
            request_id: String::new(),
            request_slot: None,
            trace: Default::default(),
            span: tracing::Span::none(),
            started: Instant::now(),
            route: None,
            identity: None,
            tenant: None,
            upload: None,
            quota: None,
            rejection: None,
            phase: Phase::Header,
            refused_in: None,
            status: 0,
            upstream_status: None,
            answered: false,
            last_body_at: Instant::now(),
            upstream: None,
            in_flight: None,
            cors: Vec::new(),
            idempotency: None,
            tus: None,
            s3: None,
        }
    }

    /// Records why the request is refused (the first reason wins) and returns the error that
    /// makes pingora stop and call `fail_to_proxy`, which answers it.
    pub fn refuse(&mut self, rejection: Rejection) -> Box<Error> {
        let e = Error::explain(ErrorType::HTTPStatus(rejection.status()), rejection.code());
        if self.rejection.is_none() {
            self.rejection = Some(rejection);
            self.refused_in = Some(self.phase);
        }
        e
    }

    /// Body bytes inspected so far.
    pub fn body_bytes(&self) -> u64 {
        self.upload.as_ref().map_or(0, UploadStream::total)
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
