//! A real HTTP/1.1 upstream that records exactly what it received: head, body bytes, SHA-256
//! and whether the body completed (by Content-Length or the chunked terminator).

use super::wire::{header_pairs, read_chunked, read_head, read_length};
use sha2::{Digest, Sha256};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Body bytes kept in memory per request; the hash covers everything.
const KEEP_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub body_len: u64,
    pub sha256: String,
    pub complete: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct RecordingUpstream {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<Received>>>,
    /// When set, the next request that arrives on a reused connection is read completely and
    /// then the connection is closed without an answer (once): the stale keep-alive connection
    /// pingora retries idempotent requests on.
    pub hang_up_on_reuse: Arc<std::sync::atomic::AtomicBool>,
    /// Numbers the `"id":"obj-N"` of each answer.
    pub objects: Arc<AtomicUsize>,
}

/// The answer a request's query string asks for: `?status=500`, `?delay_ms=3000` (default
/// 201 at once).
fn behaviour(path: &str) -> (u16, Duration) {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let status = param("status").map_or(201, |s| s as u16);
    (
        status,
        Duration::from_millis(param("delay_ms").unwrap_or(0)),
    )
}

impl RecordingUpstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let up = Self {
            addr: listener.local_addr().unwrap(),
            connections: Arc::default(),
            requests: Arc::default(),
            hang_up_on_reuse: Arc::default(),
            objects: Arc::default(),
        };
        let me = up.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                me.connections.fetch_add(1, Ordering::SeqCst);
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        up
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests were recorded (complete or cut off).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "upstream recorded {} of {n} requests",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts no request ever reached the upstream (not even a connection).
    pub fn assert_untouched(&self) {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(self.connection_count(), 0, "upstream was contacted");
        assert!(self.received().is_empty());
    }

    /// Asserts the upstream never received a complete body (nothing, or a cut-off one).
    pub fn assert_no_complete_body(&self) {
        std::thread::sleep(Duration::from_millis(300));
        for r in self.received() {
            assert!(
                !r.complete,
                "upstream received a complete body for {} {}",
                r.method, r.path
            );
        }
    }

    fn serve(&self, stream: TcpStream) {
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        for served in 0.. {
            let Some(head) = read_head(&mut reader) else {
                return;
            };
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut hs);
            if req.parse(&head).is_err() {
                return;
            }
            let mut rec = Received {
                method: req.method.unwrap_or("").to_string(),
                path: req.path.unwrap_or("").to_string(),
                headers: header_pairs(req.headers),
                body: Vec::new(),
                body_len: 0,
                sha256: String::new(),
                complete: false,
            };
            let mut hasher = Sha256::new();
            let chunked = rec
                .header("transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
            let length: u64 = rec
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut keep = |data: &[u8], rec: &mut Received| {
                hasher.update(data);
                rec.body_len += data.len() as u64;
                let room = KEEP_BYTES.saturating_sub(rec.body.len()).min(data.len());
                rec.body.extend_from_slice(&data[..room]);
            };
            let complete = if chunked {
                read_chunked(&mut reader, |d| keep(d, &mut rec))
            } else {
                read_length(&mut reader, length, |d| keep(d, &mut rec))
            };
            rec.complete = complete;
            rec.sha256 = hex::encode(hasher.finalize());
            let method = rec.method.clone();
            let body_len = rec.body_len;
            self.requests.lock().unwrap().push(rec);
            if !complete {
                return;
            }
            if served > 0 && self.hang_up_on_reuse.swap(false, Ordering::SeqCst) {
                return;
            }
            let (status, delay) = behaviour(&self.requests.lock().unwrap().last().unwrap().path);
            std::thread::sleep(delay);
            let id = self.objects.fetch_add(1, Ordering::SeqCst);
            let body = format!(
                "{{\"upstream\":\"ok\",\"id\":\"obj-{id}\",\"method\":\"{method}\",\"received\":{body_len}}}"
            );
            let resp = format!(
                // A forged X-Upload-Sha256: the gateway must replace what upstreams say.
                "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nX-Upload-Sha256: forged-by-upstream\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if writer.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    }
}
