//! The admin listener: `/metrics` (Prometheus text format from the default registry) and
//! `/healthz`.

use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use prometheus::Encoder;
use std::sync::Arc;

pub struct Admin;

impl Admin {
    /// A pingora service for the admin endpoints on `addr`.
    pub fn service(addr: &str) -> pingora::services::listening::Service<Admin> {
        let mut svc = pingora::services::listening::Service::new("admin".into(), Admin);
        svc.add_tcp(addr);
        svc
    }
}

/// The default registry in the Prometheus text format.
pub fn encode_metrics() -> Vec<u8> {
    let mut out = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut out);
    out
}

async fn reply(s: &mut ServerSession, status: u16, ct: &str, body: Vec<u8>) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(status, Some(2))?;
    h.insert_header("Content-Type", ct)?;
    h.insert_header("Content-Length", body.len().to_string())?;
    s.write_response_header(Box::new(h)).await?;
    s.write_response_body(Bytes::from(body), true).await
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
        let result = match s.req_header().uri.path() {
            "/metrics" => reply(&mut s, 200, "text/plain; version=0.0.4", encode_metrics()).await,
            "/healthz" => reply(&mut s, 200, "text/plain", b"ok\n".to_vec()).await,
            _ => reply(&mut s, 404, "text/plain", b"not found\n".to_vec()).await,
        };
        if result.is_ok() {
            let _ = s.finish().await;
        }
        None
    }
}
