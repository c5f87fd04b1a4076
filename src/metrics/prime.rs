//! Label values known from the configuration, initialised at start and on reload so every
//! family the alerting rules and the dashboard query (conf/monitoring/) is in the first scrape,
//! at zero, instead of appearing with its first event (a `rate()` over nothing, and a typo that
//! cannot be told apart from a quiet gateway).

use super::FAMILIES;

/// What one route contributes to the initial series.
pub struct RouteLabels<'a> {
    pub route: &'a str,
    pub methods: Vec<&'a str>,
    pub upstream: &'a str,
    pub upload: bool,
    pub scan: bool,
}

const PHASES: [&str; 3] = ["header", "window", "stream"];
const CATEGORIES: [&str; 5] = ["image", "video", "audio", "document", "other"];
const UPSTREAM_KINDS: [&str; 9] = [
    "connect_refused",
    "connect_timeout",
    "read_timeout",
    "write_timeout",
    "tls",
    "reset",
    "protocol",
    "status_5xx",
    "other",
];
const SCAN_ERRORS: [&str; 4] = ["connect", "timeout", "protocol", "limit"];
const STORE_OPS: [&str; 5] = ["reserve", "commit", "free", "record", "release"];

/// Initialises the series of `routes`, and of the quota store's operations when one is set.
pub fn prime(routes: &[RouteLabels<'_>], quota_store: bool) {
    super::connections::prime();
    let Some(f) = FAMILIES.as_ref() else {
        return;
    };
    for r in routes {
        for m in &r.methods {
            let m = super::method_label(m);
            // A request the client abandoned before any answer: status 0, a real outcome.
            f.requests
                .with_label_values(&[r.route, m, "0", "client_abort"]);
            f.duration.with_label_values(&[r.route, m]);
        }
        f.body_bytes.with_label_values(&[r.route]);
        for phase in PHASES {
            // A size limit can be crossed in every phase.
            f.rejections
                .with_label_values(&[r.route, "too_large", phase]);
            f.rejected_body_bytes.with_label_values(&[r.route, phase]);
        }
        f.upstream_seconds.with_label_values(&[r.route, r.upstream]);
        for kind in UPSTREAM_KINDS {
            f.upstream_errors
                .with_label_values(&[r.route, r.upstream, kind]);
        }
        if r.upload {
            f.uploads_in_flight.with_label_values(&[r.route]);
            for cat in CATEGORIES {
                f.files.with_label_values(&[r.route, cat]);
                f.file_bytes.with_label_values(&[r.route, cat]);
                f.file_size.with_label_values(&[r.route, cat]);
                f.mismatches.with_label_values(&[r.route, cat, cat]);
            }
        }
        if r.scan {
            for result in ["clean", "infected", "over_limit"] {
                f.scans.with_label_values(&[r.route, result, ""]);
            }
            for kind in SCAN_ERRORS {
                f.scans.with_label_values(&[r.route, "error", kind]);
            }
        }
    }
    if quota_store {
        for op in STORE_OPS {
            f.quota_store_errors.with_label_values(&[op]);
        }
    }
}
