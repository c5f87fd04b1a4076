//! Prometheus metric families, registered once in the default registry (served by the admin
//! listener's `/metrics`). Labels are bounded: a route name, a status code, a rejection code,
//! a media category — never a tenant id or a raw MIME string.

use crate::file_report::FileReport;
use crate::media;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, register_histogram_vec,
    register_int_counter_vec, register_int_gauge_vec,
};
use std::sync::LazyLock;

mod connections;
mod prime;
pub use connections::{ConnectionOpen, connection_expired, connection_refused};
pub use prime::{RouteLabels, prime};

struct Families {
    requests: IntCounterVec,
    body_bytes: IntCounterVec,
    files: IntCounterVec,
    file_bytes: IntCounterVec,
    duration: HistogramVec,
    quota_store_errors: IntCounterVec,
    rejections: IntCounterVec,
    rejected_body_bytes: HistogramVec,
    mismatches: IntCounterVec,
    file_size: HistogramVec,
    uploads_in_flight: IntGaugeVec,
    upstream_seconds: HistogramVec,
    upstream_errors: IntCounterVec,
    scans: IntCounterVec,
}

/// Powers of 16 from 1 KiB to 16 GiB: file and body sizes.
fn size_buckets() -> Vec<f64> {
    (0..8).map(|i| 1024.0 * 16f64.powi(i)).collect()
}

static FAMILIES: LazyLock<Option<Families>> = LazyLock::new(|| {
    let families = Families {
        requests: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_requests_total",
                "Requests finished, by route, method, status and outcome code"
            ),
            &["route", "method", "status", "code"]
        )
        .ok()?,
        body_bytes: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_upload_body_bytes_total",
                "Upload body bytes inspected"
            ),
            &["route"]
        )
        .ok()?,
        files: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_files_total",
                "File parts accepted, by detected category"
            ),
            &["route", "category"]
        )
        .ok()?,
        file_bytes: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_file_bytes_total",
                "File part bytes accepted, by category"
            ),
            &["route", "category"]
        )
        .ok()?,
        duration: register_histogram_vec!(
            HistogramOpts::new(
                "upload_gateway_request_duration_seconds",
                "Time from request to log, by route and method (refusals included)"
            )
            .buckets(vec![0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0]),
            &["route", "method"]
        )
        .ok()?,
        rejections: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_rejections_total",
                "Refused requests by route, code and phase (header, window: the backend never \
                 saw the request; stream: it saw an incomplete body)"
            ),
            &["route", "code", "phase"]
        )
        .ok()?,
        rejected_body_bytes: register_histogram_vec!(
            HistogramOpts::new(
                "upload_gateway_rejected_body_bytes",
                "Body bytes read before a refusal, by route and phase"
            )
            .buckets(vec![
                0.0,
                4096.0,
                65536.0,
                1048576.0,
                16777216.0,
                268435456.0,
                4294967296.0
            ]),
            &["route", "phase"]
        )
        .ok()?,
        mismatches: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_content_mismatches_total",
                "Files refused because the detected type contradicts the declared one, by \
                 declared and detected media category"
            ),
            &["route", "declared", "detected"]
        )
        .ok()?,
        file_size: register_histogram_vec!(
            HistogramOpts::new(
                "upload_gateway_file_size_bytes",
                "Sizes of accepted files, by detected media category"
            )
            .buckets(size_buckets()),
            &["route", "category"]
        )
        .ok()?,
        uploads_in_flight: register_int_gauge_vec!(
            Opts::new(
                "upload_gateway_uploads_in_flight",
                "Upload requests being received or answered now"
            ),
            &["route"]
        )
        .ok()?,
        upstream_seconds: register_histogram_vec!(
            HistogramOpts::new(
                "upload_gateway_upstream_response_seconds",
                "Time from contacting the upstream to its response head (request body included)"
            )
            .buckets(vec![0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0]),
            &["route", "upstream"]
        )
        .ok()?,
        upstream_errors: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_upstream_errors_total",
                "Upstream failures by kind (connect_refused, connect_timeout, read_timeout, \
                 write_timeout, tls, reset, protocol, status_5xx, other)"
            ),
            &["route", "upstream", "kind"]
        )
        .ok()?,
        scans: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_scans_total",
                "Malware scans of file parts by result (clean, infected, over_limit, error) and, \
                 for errors, kind (connect, timeout, protocol, limit)"
            ),
            &["route", "result", "kind"]
        )
        .ok()?,
        quota_store_errors: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_quota_store_errors_total",
                "Quota store calls that failed (unreachable, timed out), by operation"
            ),
            &["op"]
        )
        .ok()?,
    };
    Some(families)
});

/// What one finished request contributes to the metrics.
pub struct Outcome<'a> {
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    /// The outcome: a rejection code, `ok`, `client_abort`, `upstream_error`.
    pub code: &'a str,
    /// The phase a refusal happened in (`None` when not refused).
    pub refused_in: Option<&'a str>,
    pub body_bytes: u64,
    pub files: &'a [FileReport],
    pub seconds: f64,
    /// Declared and detected types of a refused spoof.
    pub mismatch: Option<(&'a str, &'a str)>,
}

/// A method as a bounded label value.
pub fn method_label(m: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN.into_iter().find(|k| *k == m).unwrap_or("other")
}

/// Records a finished request.
pub fn record(o: &Outcome<'_>) {
    let Some(f) = FAMILIES.as_ref() else {
        return;
    };
    f.requests
        .with_label_values(&[o.route, o.method, &o.status.to_string(), o.code])
        .inc();
    f.body_bytes
        .with_label_values(&[o.route])
        .inc_by(o.body_bytes);
    if o.code == "ok" && o.status < 400 {
        for file in o.files {
            let cat = media::category(&file.content_type).as_str();
            f.files.with_label_values(&[o.route, cat]).inc();
            f.file_bytes
                .with_label_values(&[o.route, cat])
                .inc_by(file.size);
            f.file_size
                .with_label_values(&[o.route, cat])
                .observe(file.size as f64);
        }
    }
    for verdict in o.files.iter().filter_map(|file| file.scan.as_ref()) {
        let kind = match verdict {
            crate::scan::Verdict::Failed(kind, _) => kind,
            _ => "",
        };
        f.scans
            .with_label_values(&[o.route, verdict.as_str(), kind])
            .inc();
    }
    if let Some((declared, detected)) = o.mismatch {
        let (d, t) = (media::category(declared), media::category(detected));
        f.mismatches
            .with_label_values(&[o.route, d.as_str(), t.as_str()])
            .inc();
    }
    f.duration
        .with_label_values(&[o.route, o.method])
        .observe(o.seconds);
    if let Some(phase) = o.refused_in {
        f.rejections
            .with_label_values(&[o.route, o.code, phase])
            .inc();
        f.rejected_body_bytes
            .with_label_values(&[o.route, phase])
            .observe(o.body_bytes as f64);
    }
}

/// Counts an upload in flight on `route` until dropped.
pub struct InFlight(Option<prometheus::IntGauge>);

impl InFlight {
    pub fn start(route: &str) -> Self {
        let gauge = FAMILIES
            .as_ref()
            .map(|f| f.uploads_in_flight.with_label_values(&[route]));
        if let Some(g) = &gauge {
            g.inc();
        }
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(g) = &self.0 {
            g.dec();
        }
    }
}

/// The upstream answered `route`'s request with a response head after `seconds`.
pub fn upstream_response(route: &str, upstream: &str, status: u16, seconds: f64) {
    if let Some(f) = FAMILIES.as_ref() {
        f.upstream_seconds
            .with_label_values(&[route, upstream])
            .observe(seconds);
        if status >= 500 {
            upstream_error(route, upstream, "status_5xx");
        }
    }
}

/// An upstream failure of `kind` (see [`upstream_error_kind`]).
pub fn upstream_error(route: &str, upstream: &str, kind: &str) {
    if let Some(f) = FAMILIES.as_ref() {
        f.upstream_errors
            .with_label_values(&[route, upstream, kind])
            .inc();
    }
}

/// The bounded kind of an upstream error.
pub fn upstream_error_kind(e: &pingora::ErrorType) -> &'static str {
    use pingora::ErrorType::*;
    match e {
        ConnectRefused => "connect_refused",
        ConnectTimedout => "connect_timeout",
        ReadTimedout => "read_timeout",
        WriteTimedout => "write_timeout",
        TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError
        | TLSWantX509Lookup => "tls",
        ConnectionClosed | ReadError | WriteError | ConnectError | ConnectNoRoute | SocketError => {
            "reset"
        }
        InvalidHTTPHeader | H1Error | H2Error | H2Downgrade | InvalidH2 => "protocol",
        _ => "other",
    }
}

/// A quota store call that failed.
pub fn quota_store_error(op: &'static str) {
    if let Some(f) = FAMILIES.as_ref() {
        f.quota_store_errors.with_label_values(&[op]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Encoder;

    #[test]
    fn encodes_exact_lines() {
        let files = [FileReport {
            field: "file".into(),
            filename: None,
            content_type: "image/png".into(),
            size: 10,
            sha256: String::new(),
            dimensions: None,
            scan: None,
        }];
        record(&Outcome {
            route: "metrics-test",
            method: "POST",
            mismatch: None,
            status: 201,
            code: "ok",
            refused_in: None,
            body_bytes: 99,
            files: &files,
            seconds: 0.01,
        });
        record(&Outcome {
            route: "metrics-test",
            method: "POST",
            mismatch: Some(("image/png", "application/pdf")),
            status: 415,
            code: "content_mismatch",
            refused_in: Some("window"),
            body_bytes: 5,
            files: &[],
            seconds: 0.01,
        });
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&prometheus::gather(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            "upload_gateway_requests_total{code=\"ok\",method=\"POST\",route=\"metrics-test\",status=\"201\"} 1",
            "upload_gateway_requests_total{code=\"content_mismatch\",method=\"POST\",route=\"metrics-test\",status=\"415\"} 1",
            "upload_gateway_content_mismatches_total{declared=\"image\",detected=\"document\",route=\"metrics-test\"} 1",
            "upload_gateway_file_size_bytes_bucket{category=\"image\",route=\"metrics-test\",le=\"1024\"} 1",
            "upload_gateway_request_duration_seconds_count{method=\"POST\",route=\"metrics-test\"} 2",
            "upload_gateway_upload_body_bytes_total{route=\"metrics-test\"} 104",
            "upload_gateway_files_total{category=\"image\",route=\"metrics-test\"} 1",
            "upload_gateway_file_bytes_total{category=\"image\",route=\"metrics-test\"} 10",
            "upload_gateway_rejections_total{code=\"content_mismatch\",phase=\"window\",route=\"metrics-test\"} 1",
            "upload_gateway_rejected_body_bytes_bucket{phase=\"window\",route=\"metrics-test\",le=\"4096\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
