//! The end of every request (pingora's `logging` hook, which always runs): the outcome goes to
//! the metrics and one access-log line.

use super::RequestCtx;
use crate::metrics;
use pingora::Error;
use pingora::proxy::Session;

/// Records the finished request's outcome.
pub fn record(session: &Session, e: Option<&Error>, ctx: &RequestCtx) {
    let status = session
        .response_written()
        .map_or(ctx.status, |r| r.status.as_u16());
    let route = ctx.route.as_ref().map_or("-", |r| r.name.as_str());
    let files = ctx
        .upload
        .as_ref()
        .map_or(&[][..], |u| u.inspector().files());
    let body_bytes = ctx.body_bytes();
    let code = ctx.rejection.as_ref().map_or("ok", |r| r.code());
    let seconds = ctx.started.elapsed().as_secs_f64();
    metrics::record(&metrics::Outcome {
        route,
        status,
        code,
        body_bytes,
        files,
        seconds,
    });
    let _entered = ctx.span.enter();
    tracing::info!(
        method = %session.req_header().method,
        path = %session.req_header().uri.path(),
        status,
        code,
        body_bytes,
        files = files.len(),
        sha256 = files.first().map_or("-", |f| f.sha256.as_str()),
        error = e.map(|e| e.to_string()).unwrap_or_default(),
        elapsed_ms = (seconds * 1000.0) as u64,
        "request finished"
    );
}
