//! The admin listener: `/metrics` (Prometheus text format from the default registry),
//! `/healthz` (alive), `/readyz` (upstreams reachable, quota store answering; admin/ready.rs),
//! and with quotas and `[admin].token_env` the usage endpoints (admin/usage.rs).

mod ready;
mod usage;

use crate::reload::{Reloader, Shared};
use crate::reply::send;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpServerApp, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use prometheus::Encoder;
use std::sync::Arc;

pub struct Admin {
    live: Shared,
    reloader: Option<Arc<Reloader>>,
}

impl Admin {
    /// With a `reloader`, `POST /reload` (admin token) reloads the configuration.
    pub fn new(live: Shared, reloader: Option<Arc<Reloader>>) -> Self {
        Self { live, reloader }
    }

    /// A pingora service for the admin endpoints on `addr`.
    pub fn service(self, addr: &str) -> pingora::services::listening::Service<Admin> {
        let mut svc = pingora::services::listening::Service::new("admin".into(), self);
        svc.add_tcp(addr);
        svc
    }
}

/// Every upstream a route uses (probed by `/readyz`).
fn upstreams(config: &crate::config::Config) -> Vec<(String, std::net::SocketAddr)> {
    let mut all: Vec<(String, std::net::SocketAddr)> = config
        .routes
        .iter()
        .flat_map(|r| std::iter::once(&r.upstream).chain(r.sandbox.as_ref()))
        .map(|u| (u.name.clone(), u.address))
        .collect();
    all.sort();
    all.dedup();
    all
}

async fn not_found(s: &mut ServerSession) -> pingora::Result<()> {
    send(s, 404, "text/plain", Bytes::from_static(b"not found\n")).await
}

/// `POST /reload`: validates the configuration source again and swaps it in (200 with what
/// needs a restart), or keeps the running one (422 with every error).
async fn reload(s: &mut ServerSession, r: Arc<Reloader>, token: &str) -> pingora::Result<()> {
    let (status, body) = if !usage::authorized(s, token) {
        (
            401,
            serde_json::json!({"error": {"code": "unauthorized", "message": "admin token required"}}),
        )
    } else if s.req_header().method != pingora::http::Method::POST {
        (
            405,
            serde_json::json!({"error": {"code": "method_not_allowed", "message": "use POST"}}),
        )
    } else {
        match tokio::task::spawn_blocking(move || r.reload()).await {
            Ok(Ok(restart)) => {
                tracing::info!(?restart, "configuration reloaded (POST /reload)");
                (
                    200,
                    serde_json::json!({"reloaded": true, "restart_needed": restart}),
                )
            }
            Ok(Err(e)) => {
                tracing::error!("reload refused, the running configuration stays:\n{e}");
                (
                    422,
                    serde_json::json!({"reloaded": false, "error": {"code": "invalid_config", "message": e}}),
                )
            }
            Err(e) => (
                500,
                serde_json::json!({"reloaded": false, "error": {"code": "internal", "message": e.to_string()}}),
            ),
        }
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    send(s, status, "application/json", body.into()).await
}

/// The default registry in the Prometheus text format.
pub fn encode_metrics() -> Vec<u8> {
    let mut out = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut out);
    out
}

#[async_trait]
impl HttpServerApp for Admin {
    async fn process_new_http(
        self: &Arc<Self>,
        mut s: ServerSession,
        _shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if !matches!(s.read_request().await, Ok(true)) {
            return None;
        }
        s.set_keepalive(None);
        let live = self.live.load_full();
        let quotas = live.quotas.as_deref();
        let result = match s.req_header().uri.path() {
            "/metrics" => {
                send(
                    &mut s,
                    200,
                    "text/plain; version=0.0.4",
                    encode_metrics().into(),
                )
                .await
            }
            "/healthz" => send(&mut s, 200, "text/plain", Bytes::from_static(b"ok\n")).await,
            "/readyz" => {
                let (status, body) = ready::check(&upstreams(&live.config), quotas).await;
                let body = serde_json::to_vec(&body).unwrap_or_default();
                send(&mut s, status, "application/json", body.into()).await
            }
            "/reload" => match (&self.reloader, &live.config.admin_token) {
                (Some(r), Some(t)) => reload(&mut s, r.clone(), t).await,
                _ => not_found(&mut s).await,
            },
            p if p == "/usage" || p.starts_with("/usage/") => {
                match (quotas, &live.config.admin_token) {
                    (Some(q), Some(t)) => usage::handle(&mut s, q, t).await,
                    _ => not_found(&mut s).await,
                }
            }
            _ => not_found(&mut s).await,
        };
        if result.is_ok() {
            let _ = s.finish().await;
        }
        None
    }
}
