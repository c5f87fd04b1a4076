//! `upload-gateway demo`: the reference backend and the gateway (conf/demo.toml, built in) in
//! one process, with a ready-to-use token, API key and curl lines printed at start.

use crate::backend::Backend;
use crate::config::file::FileConfig;
use crate::config::{Config, ConfigErrors};
use jsonwebtoken::{EncodingKey, Header};
use std::path::Path;
use std::sync::Arc;

const DEMO_CONFIG: &str = include_str!("../conf/demo.toml");
const DEMO_KEYS: &str = include_str!("../conf/demo/keys.toml");
const DEMO_SECRET: &str = include_str!("../conf/demo/jwt.secret");
/// The plain value of the key listed in conf/demo/keys.toml (public: demo only).
pub const DEMO_API_KEY: &str =
    "so_test_e442f6e7ab35a3f8b1d8aa0fdb5736ddb1cd3fa910424497e7b6d353d9d91e74";

/// Where the demo listens.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub gateway: String,
    pub backend: String,
    pub admin: String,
}

impl Default for Addresses {
    /// The documented ports: 8080 (gateway), 9000 (backend), 9091 (metrics).
    fn default() -> Self {
        Self {
            gateway: "127.0.0.1:8080".into(),
            backend: "127.0.0.1:9000".into(),
            admin: "127.0.0.1:9091".into(),
        }
    }
}

/// Writes the built-in demo config's key files under `data_dir` and loads it on `at`.
pub fn config(data_dir: &Path, at: &Addresses) -> Result<Config, String> {
    let conf_dir = data_dir.join("conf");
    std::fs::create_dir_all(conf_dir.join("demo")).map_err(|e| e.to_string())?;
    std::fs::write(conf_dir.join("demo/keys.toml"), DEMO_KEYS).map_err(|e| e.to_string())?;
    std::fs::write(conf_dir.join("demo/jwt.secret"), DEMO_SECRET).map_err(|e| e.to_string())?;
    let mut raw = FileConfig::parse(DEMO_CONFIG).map_err(|e| e.to_string())?;
    for listener in &mut raw.listeners {
        listener.address.clone_from(&at.gateway);
    }
    for upstream in raw.upstreams.values_mut() {
        upstream.address.clone_from(&at.backend);
    }
    if let Some(admin) = &mut raw.admin {
        admin.address.clone_from(&at.admin);
    }
    Config::from_file(&raw, &conf_dir).map_err(|e| ConfigErrors(e).to_string())
}

/// The demo's server (backend, gateway, metrics), ready to run.
pub fn build(data_dir: &Path, at: &Addresses) -> Result<pingora::server::Server, String> {
    let config = Arc::new(config(data_dir, at)?);
    let backend = Backend::open(&data_dir.join("media"))
        .map_err(|e| format!("cannot open the data dir: {e}"))?;
    let mut server = crate::server::build(config)?;
    server.add_service(backend.service(&at.backend));
    Ok(server)
}

/// A demo bearer token valid for 24 hours.
pub fn token() -> Result<String, String> {
    let now = crate::backend::time::now_unix();
    let claims = serde_json::json!({
        "sub": "demo-user", "iss": "upload-gateway-demo", "aud": "media-api",
        "iat": now, "exp": now + 24 * 3600,
        "scope": "media:read media:write media:delete usage:read", "org_id": "demo-org",
    });
    let key = EncodingKey::from_secret(DEMO_SECRET.trim().as_bytes());
    jsonwebtoken::encode(&Header::default(), &claims, &key).map_err(|e| e.to_string())
}

/// Starts backend and gateway and prints how to use them; does not return.
pub fn run(data_dir: &Path) -> Result<(), String> {
    let at = Addresses::default();
    let server = build(data_dir, &at)?;
    println!("{}", instructions(&at, &token()?, data_dir));
    server.run_forever()
}

/// What the demo prints: where it listens, the credentials, and curl lines to try (each one
/// is run by tests/demo.rs exactly as printed).
pub fn instructions(at: &Addresses, token: &str, data_dir: &Path) -> String {
    let (listen, admin, backend) = (&at.gateway, &at.admin, &at.backend);
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    format!(
        "\nupload-gateway demo\n  gateway  http://{listen}  (backend http://{backend}, data in {})\n  metrics  http://{admin}/metrics\n\n\
         Bearer token (24h; scopes media:read media:write media:delete usage:read; org demo-org):\n  export TOKEN={token}\n\
         API key (test mode, same scopes):\n  export API_KEY={DEMO_API_KEY}\n\n\
         An accepted upload (201, with X-Upload-Sha256):\n  curl -i -H \"Authorization: Bearer $TOKEN\" -F \"file=@{fixtures}/media/photo.png;type=image/png\" -F tags=demo,png http://{listen}/media\n\
         A spoofed file refused before the backend sees it (415 content_mismatch: an ELF declared as PNG):\n  curl -i -H \"Authorization: Bearer $API_KEY\" -F \"file=@{fixtures}/hostile/elf-binary.bin;type=image/png;filename=cat.png\" http://{listen}/media\n\
         A raw upload, the body being the file (201; the same checks):\n  curl -i -H \"Authorization: Bearer $TOKEN\" -H \"Content-Type: image/jpeg\" -T {fixtures}/media/photo.jpg http://{listen}/media/raw/photo.jpg\n\
         The organisation's quota usage (storage_bytes, file_count, upload_bytes per day, requests per minute):\n  curl -s -H \"Authorization: Bearer $TOKEN\" http://{listen}/usage\n\
         The metrics:\n  curl -s http://{admin}/metrics | grep upload_gateway\n",
        data_dir.join("media").display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_credentials_work_with_the_demo_config() {
        let dir = std::env::temp_dir().join(format!("ugw-demo-{}", std::process::id()));
        let config = config(&dir, &Addresses::default()).unwrap();
        let auth = config.auth.as_ref().unwrap();
        let now = crate::backend::time::now_unix();
        let by_token = auth.authenticate(&token().unwrap(), now).unwrap();
        assert_eq!(by_token.tenant.as_deref(), Some("demo-org"));
        let by_key = auth.authenticate(DEMO_API_KEY, now).unwrap();
        assert_eq!(
            by_key.scopes,
            vec!["media:read", "media:write", "media:delete", "usage:read"]
        );
        let upload = config
            .route(&pingora::http::Method::POST, "/media")
            .unwrap();
        assert!(upload.scopes.check(&by_token.scopes).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
