//! `/readyz`: ready when every upstream accepts a TCP connection within a short timeout and the
//! quota store (if any) answers; `200 {"ready":true,…}` or `503` naming what is not ready.

use crate::quota::now_ms;
use crate::stores::Quotas;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Checks everything concurrently; returns the status and the JSON body.
pub async fn check(upstreams: &[(String, SocketAddr)], quotas: Option<&Quotas>) -> (u16, Value) {
    let probes = upstreams.iter().cloned().map(|(name, addr)| async move {
        let ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
            Ok(Ok(_))
        );
        (format!("upstream:{name}"), ok)
    });
    let mut checks: Vec<(String, bool)> = futures_join(probes).await;
    if let Some(q) = quotas {
        let ok = q.store.usage("-readyz-", &[], now_ms()).await.is_ok();
        checks.push(("quota_store".into(), ok));
    }
    let not_ready: Vec<&str> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n.as_str())
        .collect();
    let body = json!({
        "ready": not_ready.is_empty(),
        "checks": checks.iter().map(|(n, ok)| (n.clone(), json!(ok))).collect::<serde_json::Map<_, _>>(),
        "not_ready": not_ready,
    });
    (if not_ready.is_empty() { 200 } else { 503 }, body)
}

/// Runs the probes concurrently (each bounded by its own timeout).
async fn futures_join<F: std::future::Future<Output = (String, bool)> + Send + 'static>(
    probes: impl Iterator<Item = F>,
) -> Vec<(String, bool)> {
    let handles: Vec<_> = probes.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(r) = h.await {
            out.push(r);
        }
    }
    out
}
