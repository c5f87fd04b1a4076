//! The end of every request (pingora's `logging` hook, which always runs): the outcome goes to
//! the metrics and one access-log line.

use super::RequestCtx;
use crate::metrics;
use pingora::Error;
use pingora::proxy::Session;

/// The one outcome of a finished request: the refusal's code, `client_abort` when the client
/// went away, `upstream_error` for a relayed upstream 5xx, else `ok`. An abort or an upstream
/// failure is never counted as `ok`.
pub fn outcome(ctx: &RequestCtx, e: Option<&Error>, status: u16) -> &'static str {
    if let Some(r) = &ctx.rejection {
        return r.code();
    }
    match e {
        Some(e) if e.esource() == &pingora::ErrorSource::Downstream => "client_abort",
        Some(e) if e.esource() == &pingora::ErrorSource::Upstream => "upstream_error",
        Some(_) => "internal",
        None if status >= 500 => "upstream_error",
        None if status == 0 => "client_abort",
        None => "ok",
    }
}

/// Each file as `field:filename:detected type:size:sha256`, comma-separated (`-` when none).
fn describe(files: &[crate::inspect::FileReport]) -> String {
    if files.is_empty() {
        return "-".into();
    }
    files
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}:{}:{}",
                f.field,
                f.filename.as_deref().unwrap_or(""),
                f.content_type,
                f.size,
                f.sha256
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

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
    let code = outcome(ctx, e, status);
    let seconds = ctx.started.elapsed().as_secs_f64();
    let refused_in = ctx.refused_in.map(|p| p.as_str());
    metrics::record(&metrics::Outcome {
        route,
        status,
        code,
        refused_in,
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
        phase = refused_in.unwrap_or("-"),
        body_bytes,
        upstream_status = ctx.upstream_status.unwrap_or(0),
        files = %describe(files),
        error = e.map(|e| e.to_string()).unwrap_or_default(),
        elapsed_ms = (seconds * 1000.0) as u64,
        "request finished"
    );
}
