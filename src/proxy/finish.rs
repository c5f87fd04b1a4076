//! The end of every request (pingora's `logging` hook, which always runs): the outcome goes to
//! the metrics and one access-log line.

use super::RequestCtx;
use crate::metrics;
use crate::rejection::Rejection;
use pingora::Error;
use pingora::proxy::Session;

fn route_and_upstream(ctx: &RequestCtx) -> Option<(&str, &str, std::time::Instant)> {
    let route = ctx.route.as_ref()?;
    let (up, since) = ctx.upstream.as_ref()?;
    Some((route.name.as_str(), up.name.as_str(), *since))
}

/// The upstream's response head arrived (response time; a 5xx counts as an upstream error).
pub fn upstream_answered(ctx: &RequestCtx) {
    if let Some((route, upstream, since)) = route_and_upstream(ctx) {
        let seconds = since.elapsed().as_secs_f64();
        metrics::upstream_response(route, upstream, ctx.status, seconds);
    }
}

/// The proxying failed with `e`: counted by kind when the upstream side failed.
pub fn upstream_failed(ctx: &RequestCtx, e: &Error) {
    if e.esource() != &pingora::ErrorSource::Upstream {
        return;
    }
    if let Some((route, upstream, _)) = route_and_upstream(ctx) {
        metrics::upstream_error(route, upstream, metrics::upstream_error_kind(e.etype()));
    }
}

/// The one outcome of a finished request: the refusal's code, `client_abort` when the client
/// went away, `upstream_error` for an unreachable or failing upstream (a relayed 5xx included),
/// `upstream_timeout`, else `ok`. An abort or an upstream failure is never counted as `ok`, and
/// neither is counted as a refusal (`upload_gateway_rejections_total`).
pub fn outcome(ctx: &RequestCtx, e: Option<&Error>, status: u16) -> &'static str {
    match &ctx.rejection {
        Some(Rejection::UpstreamTimeout) => return "upstream_timeout",
        Some(Rejection::StorageError(_)) => return "upstream_error",
        Some(r) => return r.code(),
        None => {}
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
    let upstream_failed = matches!(
        ctx.rejection,
        Some(Rejection::UpstreamTimeout | Rejection::StorageError(_))
    );
    let refused_in = ctx
        .refused_in
        .filter(|_| !upstream_failed)
        .map(|p| p.as_str());
    let mismatch = match &ctx.rejection {
        Some(Rejection::ContentMismatch { declared, detected }) => {
            Some((declared.as_str(), detected.as_str()))
        }
        _ => None,
    };
    let method = metrics::method_label(session.req_header().method.as_str());
    metrics::record(&metrics::Outcome {
        route,
        method,
        mismatch,
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
        files = %crate::logs::describe_files(files),
        error = e.map(|e| e.to_string()).unwrap_or_default(),
        elapsed_ms = (seconds * 1000.0) as u64,
        "request finished"
    );
}
