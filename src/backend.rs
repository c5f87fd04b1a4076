//! A reference media backend (`upload-gateway backend`): files on local disk with the API shape
//! media services commonly use. `POST /media` (multipart), `PUT /media/raw/{name}` (the body
//! is the file), `GET /media?page=&page_size=&type=&search=`,
//! `GET /media/{id}`, `GET /media/{id}/content`, `DELETE /media/{id}`. Meant to run a small
//! site and to be the demo's and tests' upstream.

mod raw;
pub mod store;
/// The reference backend's timestamps are the gateway's (src/clock.rs).
pub use crate::clock as time;
mod upload;

use crate::reply::send;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use store::{Query, Store, valid_id};
use tokio::io::AsyncReadExt;

/// The backend application.
pub struct Backend {
    store: Store,
    /// The gateway's verdict key: uploads must carry a valid signed verdict (src/verdict.rs).
    verdict_key: Option<Vec<u8>>,
}

impl Backend {
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            store: Store::open(data_dir)?,
            verdict_key: None,
        })
    }

    /// Verifies the gateway's signed verdict on every upload with `key`.
    pub fn with_verdict_key(mut self, key: Option<Vec<u8>>) -> Self {
        self.verdict_key = key;
        self
    }

    /// A pingora service serving the backend on `addr`.
    /// The backend alone as a pingora server listening on `listen` (`upload-gateway backend`).
    pub fn server(self, listen: &str) -> pingora::server::Server {
        let mut server = pingora::server::Server::new_with_opt_and_conf(None, Default::default());
        server.bootstrap();
        server.add_service(self.service(listen));
        server
    }

    pub fn service(self, addr: &str) -> pingora::services::listening::Service<Backend> {
        let mut svc = pingora::services::listening::Service::new("media-backend".into(), self);
        svc.add_tcp(addr);
        svc
    }

    async fn handle(&self, s: &mut ServerSession) -> pingora::Result<()> {
        let method = s.req_header().method.as_str().to_string();
        let path = s.req_header().uri.path().to_string();
        let query = s.req_header().uri.query().unwrap_or("").to_string();
        let tenant = s
            .get_header("x-auth-tenant")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let tenant = tenant.as_deref();
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        match (method.as_str(), segs.as_slice()) {
            ("POST", ["media"]) => {
                let stored = upload::receive(s, &self.store, self.verdict_key.as_deref()).await;
                send_stored(s, stored).await
            }
            ("PUT", ["media", "raw", name]) => {
                let key = self.verdict_key.as_deref();
                let stored = raw::receive(s, &self.store, name, key).await;
                send_stored(s, stored).await
            }
            ("GET", ["media"]) => {
                let q = parse_query(&query);
                let (data, total) = self.store.list(&q, tenant);
                let body = json!({"data": data, "meta": {"total": total, "page": q.page, "page_size": q.page_size}});
                send_json(s, 200, &body).await
            }
            ("GET", ["media", id]) if valid_id(id) => match self.store.get(id, tenant) {
                Some(r) => send_json(s, 200, &json!(r)).await,
                None => send_error(s, 404, "no such media").await,
            },
            ("GET" | "HEAD", ["media", id, "content"]) if valid_id(id) => {
                match self.store.get(id, tenant) {
                    Some(r) => self.send_file(s, &r).await,
                    None => send_error(s, 404, "no such media").await,
                }
            }
            ("DELETE", ["media", id]) if valid_id(id) => match self.store.delete(id, tenant) {
                Ok(true) => send(s, 204, "application/json", Bytes::new()).await,
                Ok(false) => send_error(s, 404, "no such media").await,
                Err(e) => send_error(s, 500, &e.to_string()).await,
            },
            ("GET", ["healthz"]) => send_json(s, 200, &json!({"status": "ok"})).await,
            (_, ["media", ..]) => send_error(s, 404, "no such media").await,
            _ => send_error(s, 404, "not found").await,
        }
    }

    async fn send_file(&self, s: &mut ServerSession, r: &store::Record) -> pingora::Result<()> {
        let Ok(mut file) = tokio::fs::File::open(self.store.file_path(&r.id)).await else {
            return send_error(s, 404, "no such media").await;
        };
        let mut h = ResponseHeader::build(200, Some(4))?;
        h.insert_header("Content-Type", r.content_type.as_str())?;
        h.insert_header("Content-Length", r.size.to_string())?;
        h.insert_header("ETag", format!("\"{}\"", r.sha256))?;
        // Stored bytes are served as data, never as a document of this origin.
        h.insert_header("X-Content-Type-Options", "nosniff")?;
        h.insert_header("Content-Security-Policy", "sandbox; default-src 'none'")?;
        s.write_response_header(Box::new(h)).await?;
        if s.req_header().method == "HEAD" {
            return Ok(());
        }
        let mut left = r.size;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = file.read(&mut buf).await.map_err(|e| {
                pingora::Error::explain(pingora::ErrorType::ReadError, e.to_string())
            })?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n as u64);
            s.write_response_body(Bytes::copy_from_slice(&buf[..n]), left == 0)
                .await?;
        }
        Ok(())
    }
}

/// `201` with the stored record, or the failure (and the connection is not reused: the body
/// may be unread).
async fn send_stored(
    s: &mut ServerSession,
    stored: Result<store::Record, upload::Failure>,
) -> pingora::Result<()> {
    match stored {
        Ok(r) => send_json(s, 201, &json!(r)).await,
        Err((status, msg)) => {
            s.set_keepalive(None);
            send_error(s, status, &msg).await
        }
    }
}

fn parse_query(q: &str) -> Query {
    let mut out = Query {
        page: 1,
        page_size: 20,
        ..Query::default()
    };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "page" => out.page = v.parse().unwrap_or(1).max(1),
            "page_size" => out.page_size = v.parse().unwrap_or(20).clamp(1, 100),
            "type" if !v.is_empty() => out.kind = Some(v),
            "search" if !v.is_empty() => out.search = Some(v),
            _ => {}
        }
    }
    out
}

fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(c) => {
                        out.push(c);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn send_json(
    s: &mut ServerSession,
    status: u16,
    v: &serde_json::Value,
) -> pingora::Result<()> {
    send(s, status, "application/json", Bytes::from(v.to_string())).await
}

async fn send_error(s: &mut ServerSession, status: u16, message: &str) -> pingora::Result<()> {
    let code = match status {
        400 => "bad_request",
        404 => "not_found",
        415 => "unsupported_media_type",
        422 => "validation_error",
        _ => "internal",
    };
    send_json(
        s,
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
    .await
}

#[async_trait]
impl HttpServerApp for Backend {
    async fn process_new_http(
        self: &Arc<Self>,
        mut s: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match s.read_request().await {
            Ok(true) => {}
            _ => return None,
        }
        s.set_keepalive(if *shutdown.borrow() { None } else { Some(60) });
        if let Err(e) = self.handle(&mut s).await {
            tracing::debug!("backend request failed: {e}");
            return None;
        }
        if !s.is_body_done() {
            // The request body was not consumed (e.g. an early error): do not reuse.
            return None;
        }
        let settings = pingora::apps::HttpPersistentSettings::for_session(&s);
        match s.finish().await {
            Ok(c) => c.map(|c| ReusedHttpStream::from_reusable_stream(c, settings)),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
