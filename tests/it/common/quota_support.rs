//! Shared by the quota tests: the config, tokens, uploads, usage reads, a real redis-server.
#![allow(dead_code)]

use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use upload_gateway::multipart::Form;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");
/// The size of tests/fixtures/media/photo.png.
pub const PNG_LEN: u64 = 14405;
pub const ADMIN_TOKEN: &str = "admin-token-for-quota-tests";

/// `{STORE}` is the store's lines of `[quotas]`; the `free` tier's storage fits a few photos.
pub const QUOTA_CONFIG: &str = r#"
[[listeners]]
address = "{LISTEN}"
[upstreams.media]
address = "{UPSTREAM}"
read_timeout_ms = 1000
[upstreams.dead]
address = "127.0.0.1:{DEAD}"
connect_timeout_ms = 500

[admin]
address = "{ADMIN}"
token_file = "{TOKEN_FILE}"

[auth]
[auth.jwt]
issuer = "https://issuer.test"
audience = ["media-api"]
[[auth.jwt.keys]]
algorithms = ["HS256"]
secret_file = "{FIX}/hs256.secret"

[quotas]
default_tier = "free"
usage_path = "/usage"
usage_scopes = ["usage:read"]
{STORE}
[quotas.tenants]
big-corp = "pro"
[quotas.tiers.free]
storage_bytes = {STORAGE}
file_count = 1000
[quotas.tiers.pro]
storage_bytes = 100000000
[quotas.tiers.limited]
requests = { limit = 3, window_seconds = 2 }
[quotas.tiers.limited.routes.read]
requests = { limit = 100, window_seconds = 60 }
[quotas.tiers.windowed]
upload_bytes = { limit = 100000000, window_seconds = 3600 }
[quotas.tiers.metered]
storage_bytes = 100
requests = { limit = 50, window_seconds = 60 }

[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "media"
scopes = ["media:write"]
[routes.upload]
allowed_types = ["image/*"]
[routes.quota]
object_id_pointer = "/id"

[[routes]]
name = "upload-dead"
path = "/dead"
methods = ["POST"]
upstream = "dead"
[routes.upload]
allowed_types = ["image/*"]

[[routes]]
name = "delete"
path = "/media/{id}"
methods = ["DELETE"]
upstream = "media"
scopes = ["media:delete"]
[routes.quota]
frees_object = "id"

[[routes]]
name = "read"
path = "/media*"
methods = ["GET"]
upstream = "media"
"#;

pub struct QuotaGateway {
    pub gw: TestGateway,
    pub admin: SocketAddr,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("ugw-{tag}-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl QuotaGateway {
    /// A gateway whose `free` tier stores `storage` bytes, with `store` lines in `[quotas]`.
    pub fn start(upstream: SocketAddr, store: &str, storage: u64) -> Self {
        Self::start_edited(upstream, store, storage, |t| t)
    }

    /// [`Self::start`] with the config text passed through `edit` first.
    pub fn start_edited(
        upstream: SocketAddr,
        store: &str,
        storage: u64,
        edit: impl Fn(String) -> String,
    ) -> Self {
        let dir = TempDir::new("quota");
        let token_file = dir.0.join("admin.token");
        std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let text = QUOTA_CONFIG
            .replace("{STORE}", store)
            .replace("{STORAGE}", &storage.to_string())
            .replace("{ADMIN}", &admin.to_string())
            .replace("{TOKEN_FILE}", token_file.to_str().unwrap())
            .replace("{DEAD}", &free_port().to_string())
            .replace("{FIX}", FIX);
        let gw = TestGateway::start_with(&edit(text), upstream);
        wait_until_listening(admin);
        Self {
            gw,
            admin,
            _dir: dir,
        }
    }

    /// Uploads `photo.png` as `tenant` (query string passed to the upstream).
    pub fn upload(&self, token: &str, query: &str) -> Response {
        let png = fixture("media/photo.png");
        self.gw
            .request()
            .path(&format!("/media{query}"))
            .header("Authorization", &format!("Bearer {token}"))
            .form(Form::new("qb").file("file", "p.png", "image/png", &png))
    }

    /// The tenant's usage from the admin endpoint.
    pub fn usage(&self, tenant: &str) -> Value {
        let r = Request::new(self.admin)
            .method("GET")
            .path(&format!("/usage/{tenant}"))
            .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
            .body(b"");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// `(used, held)` of a metric.
    pub fn used(&self, tenant: &str, metric: &str) -> (u64, u64) {
        let u = self.usage(tenant);
        let q = u["quotas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["metric"] == metric)
            .unwrap()
            .clone();
        (q["used"].as_u64().unwrap(), q["held"].as_u64().unwrap_or(0))
    }

    /// Waits until nothing is held for `tenant` (holds are released when a request ends).
    pub fn wait_released(&self, tenant: &str) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (used, held) = self.used(tenant, "storage_bytes");
            if held == 0 {
                return (used, held);
            }
            assert!(
                Instant::now() < deadline,
                "{tenant} still holds {held} bytes"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `tenant` with `scope`, naming `tier` when given.
pub fn token(tenant: &str, scope: &str, tier: Option<&str>) -> String {
    let mut claims = json!({
        "sub": format!("user-of-{tenant}"), "iss": "https://issuer.test", "aud": "media-api",
        "exp": now() + 600, "org_id": tenant, "scope": scope,
    });
    if let Some(t) = tier {
        claims["tier"] = json!(t);
    }
    sign(&claims)
}

/// A token with exactly `claims` (HS256, the test secret).
pub fn sign(claims: &Value) -> String {
    let secret = std::fs::read(format!("{FIX}/hs256.secret")).unwrap();
    let key = EncodingKey::from_secret(secret.trim_ascii());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

/// A real redis-server on a free port, killed when dropped.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut r = Self {
            port: free_port(),
            child: None,
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (again) on the same port, without persistence.
    pub fn restart(&mut self) {
        let child = crate::common::tool("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/prereqs.sh installs it)");
        self.child = Some(child);
        wait_until_listening(format!("127.0.0.1:{}", self.port).parse().unwrap());
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// 200 uploads race for room for 10 photos: accepted sizes never pass the limit, every refusal
/// is the documented 429 body, and nothing stays held.
pub fn race(gateways: &[&QuotaGateway], tenant: &str, limit: u64) {
    let token = Arc::new(token(tenant, "media:write", None));
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let (token, accepted) = (token.clone(), accepted.clone());
            let gw = gateways[i % gateways.len()];
            let req = gw.gw.request();
            let png = fixture("media/photo.png");
            std::thread::spawn(move || {
                let r = req
                    .header("Authorization", &format!("Bearer {token}"))
                    .form(Form::new("race").file("file", "p.png", "image/png", &png));
                match r.status {
                    201 => accepted.lock().unwrap().push(PNG_LEN),
                    _ => {
                        r.assert_error(429, "quota_exceeded");
                        let e = &r.json()["error"];
                        assert_eq!(e["message"], "tier quota exceeded for storage_bytes");
                        assert_eq!(e["quotas"][0]["metric"], "storage_bytes");
                        assert_eq!(e["quotas"][0]["limit"], limit);
                        assert_eq!(e["quotas"][0]["cumulative"], true);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let accepted: u64 = accepted.lock().unwrap().iter().sum();
    assert!(accepted > 0, "some uploads must fit");
    assert!(
        accepted <= limit,
        "accepted {accepted} bytes over a limit of {limit}"
    );
    let (used, held) = gateways[0].wait_released(tenant);
    assert_eq!((used, held), (accepted, 0));
}
