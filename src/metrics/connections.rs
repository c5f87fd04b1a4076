//! Client connection families: open connections, connections refused by a cap, connections
//! closed by a deadline (src/connections.rs). Every label value exists from the first scrape.

use prometheus::{IntCounterVec, IntGauge, Opts, register_int_counter_vec, register_int_gauge};
use std::sync::LazyLock;

struct Families {
    open: IntGauge,
    refused: IntCounterVec,
    expired: IntCounterVec,
}

const REASONS: [&str; 2] = ["max_connections", "max_connections_per_ip"];
const DEADLINES: [&str; 3] = ["first_byte", "head", "keepalive"];

static FAMILIES: LazyLock<Option<Families>> = LazyLock::new(|| {
    let f = Families {
        open: register_int_gauge!(
            "upload_gateway_connections_open",
            "Client connections open now"
        )
        .ok()?,
        refused: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_connections_refused_total",
                "Client connections closed on accept by a cap, by the cap"
            ),
            &["reason"]
        )
        .ok()?,
        expired: register_int_counter_vec!(
            Opts::new(
                "upload_gateway_connections_expired_total",
                "Client connections closed by a deadline (first byte, request head, keep-alive)"
            ),
            &["deadline"]
        )
        .ok()?,
    };
    for r in REASONS {
        f.refused.with_label_values(&[r]);
    }
    for d in DEADLINES {
        f.expired.with_label_values(&[d]);
    }
    Some(f)
});

/// Creates the families (at start, so they are in the first scrape).
pub fn prime() {
    LazyLock::force(&FAMILIES);
}

/// A connection was refused by the cap `reason`.
pub fn connection_refused(reason: &str) {
    if let Some(f) = FAMILIES.as_ref() {
        f.refused.with_label_values(&[reason]).inc();
    }
}

/// A connection was closed by the deadline `deadline`.
pub fn connection_expired(deadline: &str) {
    if let Some(f) = FAMILIES.as_ref() {
        f.expired.with_label_values(&[deadline]).inc();
    }
}

/// Counts an open client connection until dropped.
pub struct ConnectionOpen(());

impl ConnectionOpen {
    pub fn start() -> Self {
        if let Some(f) = FAMILIES.as_ref() {
            f.open.inc();
        }
        Self(())
    }
}

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        if let Some(f) = FAMILIES.as_ref() {
            f.open.dec();
        }
    }
}
