//! A raw HTTP/1.1 test client: exact control of framing (Content-Length, chunked, Expect) and
//! of what is sent, with the response read even if the gateway stops reading the body.

use super::wire;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;
use upload_gateway::multipart::Form;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Interim `100 Continue` responses seen before the final one.
    pub continues: usize,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The stable error code of an error response.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts status and code, and that the error body carries the response's request id.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let rid = self.header("x-request-id").expect("x-request-id on errors");
        assert_eq!(self.json()["error"]["request_id"], rid);
    }
}

pub type BodyWriter = Box<dyn FnOnce(&mut TcpStream) -> std::io::Result<()> + Send>;

pub struct Request {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            method: "POST".into(),
            path: "/media".into(),
            headers: Vec::new(),
        }
    }

    pub fn method(mut self, m: &str) -> Self {
        self.method = m.into();
        self
    }

    pub fn path(mut self, p: &str) -> Self {
        self.path = p.into();
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    fn head(&self) -> String {
        let mut s = format!(
            "{} {} HTTP/1.1\r\nHost: gateway.test\r\n",
            self.method, self.path
        );
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    /// Sends a multipart form with Content-Length.
    pub fn form(self, form: Form) -> Response {
        let ct = form.content_type();
        self.header("Content-Type", &ct).body(&form.finish())
    }

    /// Sends `body` with a Content-Length.
    pub fn body(self, body: &[u8]) -> Response {
        let len = body.len().to_string();
        let body = body.to_vec();
        self.header("Content-Length", &len)
            .stream(Box::new(move |s| s.write_all(&body)))
    }

    /// Sends the head, then lets `write` send the body on another thread while the response is
    /// read; a gateway that stops reading ends the writer with an error, not the test.
    pub fn stream(self, write: BodyWriter) -> Response {
        let mut stream = self.connect();
        stream.write_all(self.head().as_bytes()).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let t = std::thread::spawn(move || {
            let _ = write(&mut writer);
        });
        let head_only = self.method == "HEAD";
        let resp = read_response(&mut BufReader::new(stream.try_clone().unwrap()), head_only);
        let _ = stream.shutdown(Shutdown::Both);
        let _ = t.join();
        resp
    }

    /// `Expect: 100-continue`: sends the body only after `100 Continue`. Returns the final
    /// response and whether the body was sent.
    pub fn expect_continue(self, body: &[u8]) -> (Response, bool) {
        let len = body.len();
        self.expect_continue_declared(len, body)
    }

    /// Like [`Request::expect_continue`] with a declared Content-Length that may differ from
    /// what would be sent (to declare a huge body that is never produced).
    pub fn expect_continue_declared(self, declared: usize, body: &[u8]) -> (Response, bool) {
        let req = self
            .header("Expect", "100-continue")
            .header("Content-Length", &declared.to_string());
        let mut stream = req.connect();
        stream.write_all(req.head().as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let first = read_head(&mut reader);
        if first.status != 100 {
            let resp = finish_response(&mut reader, first, false);
            return (resp, false);
        }
        stream.write_all(body).unwrap();
        let mut resp = read_response(&mut reader, false);
        resp.continues += 1;
        (resp, true)
    }
}

/// Chunked transfer encoding: `n` chunks produced by `chunk(i)`.
pub fn chunked(n: usize, chunk: impl Fn(usize) -> Vec<u8> + Send + 'static) -> BodyWriter {
    Box::new(move |s| {
        for i in 0..n {
            let c = chunk(i);
            if c.is_empty() {
                continue;
            }
            s.write_all(format!("{:x}\r\n", c.len()).as_bytes())?;
            s.write_all(&c)?;
            s.write_all(b"\r\n")?;
        }
        s.write_all(b"0\r\n\r\n")
    })
}

fn read_head(r: &mut impl BufRead) -> Response {
    let head = wire::read_head(r).expect("connection closed before a response");
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut hs);
    resp.parse(&head).unwrap();
    Response {
        status: resp.code.unwrap(),
        headers: wire::header_pairs(resp.headers),
        body: Vec::new(),
        continues: 0,
    }
}

fn finish_response(r: &mut impl BufRead, mut resp: Response, head_only: bool) -> Response {
    // RFC 9112 §6.3: these answers have no body, whatever their headers say.
    if head_only || resp.status == 204 || resp.status == 304 {
        return resp;
    }
    if let Some(len) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        resp.body = body;
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        assert!(
            wire::read_chunked(r, |d| body.extend_from_slice(d)),
            "truncated chunked response"
        );
        resp.body = body;
    } else {
        let _ = r.read_to_end(&mut resp.body);
    }
    resp
}

pub fn read_response(r: &mut impl BufRead, head_only: bool) -> Response {
    let mut continues = 0;
    loop {
        let head = read_head(r);
        if head.status == 100 {
            continues += 1;
            continue;
        }
        let mut resp = finish_response(r, head, head_only);
        resp.continues = continues;
        return resp;
    }
}
