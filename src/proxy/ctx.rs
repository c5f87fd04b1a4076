//! The per-request state shared by the proxy hooks.

use crate::auth::Identity;
use crate::config::Route;
use crate::inspect::{Holdback, Inspector};
use crate::rejection::Rejection;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// Everything one request's hooks learn and hand to each other.
pub struct RequestCtx {
    pub request_id: String,
    /// The request's span: opened in the header phase, fields recorded as they become known.
    pub span: tracing::Span,
    pub started: Instant,
    pub route: Option<Arc<Route>>,
    /// The verified caller, on authenticated routes.
    pub identity: Option<Identity>,
    /// The tenant the request acts as.
    pub tenant: Option<String>,
    /// The stream-phase inspector (upload routes only).
    pub inspector: Option<Inspector>,
    /// Bytes received but not yet released upstream.
    pub holdback: Holdback,
    /// Sniff-window bytes to replay ourselves when pingora's retry buffer was truncated.
    pub replay: Option<Bytes>,
    /// Body bytes read in the sniff window (counted even when the window refused the request).
    pub window_bytes: u64,
    /// The first file part's detected type, when the sniff window decided it.
    pub sniffed_type: Option<String>,
    /// Why the request was refused, if it was.
    pub rejection: Option<Rejection>,
    /// The status answered to the client (for logs and metrics).
    pub status: u16,
}

impl RequestCtx {
    pub fn new() -> Self {
        Self {
            request_id: String::new(),
            span: tracing::Span::none(),
            started: Instant::now(),
            route: None,
            identity: None,
            tenant: None,
            inspector: None,
            holdback: Holdback::default(),
            replay: None,
            window_bytes: 0,
            sniffed_type: None,
            rejection: None,
            status: 0,
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
