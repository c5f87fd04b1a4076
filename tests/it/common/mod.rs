//! Shared integration-test harness: a recording upstream, a raw HTTP/1.1 client and an
//! in-process gateway on reserved ports.
#![allow(dead_code)]

pub mod clamd;
pub mod client;
pub mod examples;
pub mod quota_support;
pub mod tls;
pub mod upstream;
pub mod wire;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use upload_gateway::config::Config;

#[allow(unused_imports)]
pub use client::{Request, Response, chunked};
pub use upstream::RecordingUpstream;

/// A command for the external tool `name` (scripts/prereqs.sh installs every one the tests use);
/// panics naming the tool when it is not on PATH, instead of failing obscurely later.
pub fn tool(name: &str) -> std::process::Command {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()));
    assert!(
        on_path,
        "{name} is missing: run scripts/prereqs.sh (it installs every tool the tests use)"
    );
    std::process::Command::new(name)
}

/// A free loopback port: bind `:0`, read it, release it.
/// A port nothing listens on, never handed out before in this process. The kernel may give a
/// just-released port again: two tests running at once then started two gateways on one port —
/// pingora retries a bind that finds its port in use, so the second test's requests, once the
/// port answered, went to the first test's gateway (a 201 from the wrong config).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn wait_until_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The test gateway config: `/media` uploads, `/media*` reads, `/notes` with a large text field
/// (to start a file part after the sniff window). `{UPSTREAM}` and `{LISTEN}` are filled in.
pub const TEST_CONFIG: &str = r#"
[server]
threads = 2
client_read_timeout_ms = 10000

[[listeners]]
address = "{LISTEN}"

[upstreams.media]
address = "{UPSTREAM}"
connect_timeout_ms = 1000
read_timeout_ms = 20000
write_timeout_ms = 20000

[[routes]]
name = "media-upload"
path = "/media"
methods = ["POST"]
upstream = "media"
[routes.upload]
allowed_types = ["image/*", "video/*", "audio/*", "application/pdf", "application/msword",
  "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.oasis.opendocument.text"]
max_parts = 6
max_file_parts = 2
max_part_header_bytes = 1024
[routes.upload.max_bytes]
image = 52428800
video = 524288000
audio = 104857600
document = 52428800
other = 1048576
[routes.upload.fields.client_reference_id]
max_bytes = 256
[routes.upload.fields.notes]
max_bytes = 200000

[[routes]]
name = "media-replace"
path = "/media/*"
methods = ["PUT"]
upstream = "media"
[routes.upload]
allowed_types = ["image/*"]

[[routes]]
name = "media-read"
path = "/media*"
methods = ["GET", "HEAD", "DELETE"]
upstream = "media"
"#;

/// [`TEST_CONFIG`] with `[routes.upload.scan]` on its upload route (`extra`: more scan keys).
pub fn with_scan(clamd: &str, timeout_ms: u64, extra: &str) -> String {
    let text = TEST_CONFIG.replace(
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n",
        &format!(
            "[routes.upload.fields.notes]\nmax_bytes = 200000\n\
             [routes.upload.scan]\nclamd = \"{clamd}\"\ntimeout_ms = {timeout_ms}\n{extra}"
        ),
    );
    assert!(
        text.contains("[routes.upload.scan]"),
        "the template changed"
    );
    text
}

/// Serves HTTP/1.1 on its own origin (`http://127.0.0.1:PORT`, returned) until the test ends:
/// each request's path goes to `answer`, which gives the content type and the body.
pub fn serve_http(answer: impl Fn(&str) -> (&'static str, String) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/");
            let (ctype, body) = answer(path);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    origin
}

/// Loads `url` in headless Chromium (Debian's `chromium`, from scripts/prereqs.sh) with a fresh
/// profile and `budget_ms` of virtual time for its scripts; returns the DOM it dumped.
pub fn chromium_dom(url: &str, budget_ms: u64) -> String {
    let profile = std::env::temp_dir().join(format!("ugw-chromium-{}", free_port()));
    let out = tool("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--virtual-time-budget={budget_ms}"),
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium must be installed (scripts/prereqs.sh installs it)");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A gateway running in this process, stopped when dropped.
pub struct TestGateway {
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl TestGateway {
    pub fn start(upstream: SocketAddr) -> Self {
        Self::start_with(TEST_CONFIG, upstream)
    }

    pub fn start_with(template: &str, upstream: SocketAddr) -> Self {
        Self::start_in(template, upstream, std::path::Path::new("."))
    }

    /// [`Self::start_with`], with the config's relative file paths resolved against `base`.
    pub fn start_in(template: &str, upstream: SocketAddr, base: &std::path::Path) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let text = template
            .replace("{LISTEN}", &addr.to_string())
            .replace("{UPSTREAM}", &upstream.to_string());
        let mut config = Config::parse_in(&text, base).unwrap();
        // Many gateways start and stop in one test process. pingora's no-steal runtime keeps
        // its handles in a process-wide thread-local keyed by (reused) thread ids, so a server
        // started after another stopped can hand its listener to a dead runtime
        // (docs/ARCHITECTURE.md). The binary runs one server per process; tests steal work.
        config.server.work_stealing = true;
        let config = Arc::new(config);
        let (stop, _thread) =
            upload_gateway::server::spawn(upload_gateway::server::build(config).unwrap());
        wait_until_listening(addr);
        Self { addr, stop }
    }

    pub fn request(&self) -> Request {
        Request::new(self.addr)
    }
}

/// A running gateway with its recording upstream.
pub fn setup() -> (TestGateway, RecordingUpstream) {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start(upstream.addr);
    (gw, upstream)
}
