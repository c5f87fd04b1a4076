//! Shared by the tus tests: @tus/server with its FileStore (node), tus-js-client and tuspy
//! runs, tokens, the example config, and a TCP relay that cuts connections mid-request.
#![allow(dead_code)]

use crate::common::{TestGateway, free_port};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Where scripts/prereqs.sh installs the npm packages (tests/tus/package.json).
fn tools() -> PathBuf {
    let dir = Path::new(ROOT).join("target/tools/tus");
    assert!(
        dir.join("node_modules/@tus/server").exists()
            && dir.join("node_modules/tus-js-client").exists(),
        "{} lacks the npm packages: scripts/prereqs.sh installs them",
        dir.display()
    );
    // The scripts run next to their packages (ES modules resolve from the script's folder).
    // Copied once per test process and renamed into place: a test's node never reads a copy
    // another test is still writing.
    static COPIED: std::sync::Once = std::sync::Once::new();
    COPIED.call_once(|| {
        for f in ["server.mjs", "client.mjs"] {
            let part = dir.join(format!("{f}.{}", std::process::id()));
            std::fs::copy(Path::new(ROOT).join("tests/tus").join(f), &part).unwrap();
            std::fs::rename(&part, dir.join(f)).unwrap();
        }
    });
    dir
}

/// @tus/server with a FileStore in a fresh directory, on a free port; killed on drop.
pub struct TusServer {
    child: Child,
    pub dir: PathBuf,
    pub addr: SocketAddr,
}

impl Drop for TusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TusServer {
    /// Started on a free port; started again on another if node exits before it listens (the
    /// port was taken between `free_port` and node's bind).
    pub fn start() -> Self {
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("ugw-tus-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut child = crate::common::tool("node")
                .current_dir(tools())
                .args(["server.mjs", &port.to_string()])
                .arg(&dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("node must be installed (scripts/prereqs.sh)");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                let probe = std::time::Duration::from_millis(200);
                if TcpStream::connect_timeout(&addr, probe).is_ok() {
                    return Self { child, dir, addr };
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("@tus/server did not start listening (node tests/tus/server.mjs)")
    }

    /// The uploads' data files (not their `.json` records): name → bytes.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".json"))
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .collect();
        out.sort();
        out
    }

    /// The stored bytes of the upload at `url` (its last path segment), if any.
    pub fn file(&self, url: &str) -> Option<Vec<u8>> {
        let id = url.rsplit('/').next()?;
        std::fs::read(self.dir.join(id)).ok()
    }
}

/// conf/examples/tus.toml on the test's addresses, with the test's HS256 secret; `extra` is
/// appended (more sections), `replace` pairs are applied first.
pub fn config(replace: &[(&str, &str)], extra: &str) -> String {
    let mut text = std::fs::read_to_string(Path::new(ROOT).join("conf/examples/tus.toml"))
        .unwrap()
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:1080", "{UPSTREAM}")
        .replace(
            "algorithms = [\"RS256\", \"ES256\"]\njwks_file = \"../example/jwks.json\"",
            &format!(
                "algorithms = [\"HS256\"]\nsecret_file = \"{ROOT}/tests/fixtures/keys/hs256.secret\""
            ),
        );
    assert!(
        text.contains("{LISTEN}") && text.contains("secret_file"),
        "the example changed"
    );
    for (from, to) in replace {
        assert!(text.contains(from), "the example has no {from:?}");
        text = text.replace(from, to);
    }
    format!("[server]\nthreads = 2\n{text}\n{extra}")
}

pub fn gateway(tus: &TusServer, replace: &[(&str, &str)], extra: &str) -> TestGateway {
    TestGateway::start_with(&config(replace, extra), tus.addr)
}

/// A bearer token of the example's issuer for `sub` in tenant `org`.
pub fn token(sub: &str, org: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "sub": sub, "iss": "https://id.example.com/", "aud": "uploads",
        "exp": now + 3600, "iat": now, "org_id": org, "scope": "media:write",
    });
    let secret = std::fs::read(format!("{ROOT}/tests/fixtures/keys/hs256.secret")).unwrap();
    let key = EncodingKey::from_secret(secret.trim_ascii());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// A temporary file for a client to read, removed when dropped.
pub struct TempFile(PathBuf);

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `data` to a temporary file for a client to read.
pub fn temp_file(name: &str, data: &[u8]) -> TempFile {
    let path = std::env::temp_dir().join(format!("ugw-tus-{}-{name}", free_port()));
    std::fs::write(&path, data).unwrap();
    TempFile(path)
}

/// tus-js-client uploads `file` to `endpoint` (the JSON line it prints).
pub fn tus_js(
    endpoint: &str,
    file: &Path,
    token: &str,
    filetype: &str,
    chunk: usize,
    opts: Value,
) -> Value {
    let out = crate::common::tool("node")
        .current_dir(tools())
        .arg("client.mjs")
        .arg(endpoint)
        .arg(file)
        .args([token, filetype, &chunk.to_string(), &opts.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
}

/// tuspy uploads `file` (the JSON line it prints); tuspy lives in the venv of the S3 tests.
pub fn tuspy(endpoint: &str, file: &Path, token: &str, filetype: &str, chunk: usize) -> Value {
    let python = Path::new(ROOT).join("target/tools/py/bin/python");
    assert!(
        python.is_file(),
        "the test venv (tuspy, boto3) is missing: run scripts/prereqs.sh"
    );
    let out = Command::new(&python)
        .arg(Path::new(ROOT).join("tests/tus/tuspy_client.py"))
        .arg(endpoint)
        .arg(file)
        .args([token, filetype, &chunk.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/prereqs.sh creates it)", python.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A client's run `r` succeeded, its final answer carried `data`'s SHA-256, and the tus server
/// stored exactly `data`.
pub fn assert_arrived(tus: &TusServer, r: &Value, data: &[u8]) {
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["sha256"], crate::common::sha256_hex(data).as_str(), "{r}");
    let stored = tus.file(r["url"].as_str().unwrap());
    assert!(
        stored.as_deref() == Some(data),
        "the stored file differs: {r}"
    );
}

/// A real MP4 (tests/fixtures/media/clip.mp4) grown to `len` bytes by a trailing `free` box.
pub fn mp4(len: usize) -> Vec<u8> {
    let mut data = crate::common::fixture("media/clip.mp4");
    let pad = len - data.len();
    data.extend_from_slice(&(pad as u32).to_be_bytes());
    data.extend_from_slice(b"free");
    data.extend((0..pad - 8).map(|i| (i % 251) as u8));
    data
}

/// A TCP relay to `target` that cuts the first `cuts` connections once they carried `after`
/// bytes from the client (mid-request: the client sees its connection drop and resumes).
pub struct Relay {
    pub addr: SocketAddr,
    pub cut: Arc<AtomicUsize>,
}

impl Relay {
    pub fn start(target: SocketAddr, cuts: usize, after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let left = Arc::new(AtomicUsize::new(cuts));
        let cut = Arc::new(AtomicUsize::new(0));
        let done = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(target) else {
                    return;
                };
                let (left, done) = (left.clone(), done.clone());
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                    let _ = c_out.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    let mut sent = 0;
                    loop {
                        let n = match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if sent + n > after
                            && left
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                                    l.checked_sub(1)
                                })
                                .is_ok()
                        {
                            done.fetch_add(1, Ordering::SeqCst);
                            let _ = s_out.write_all(&buf[..after.saturating_sub(sent)]);
                            break;
                        }
                        sent += n;
                        if s_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_out.shutdown(Shutdown::Both);
                    let _ = c_in.shutdown(Shutdown::Both);
                });
            }
        });
        Self { addr, cut }
    }
}
