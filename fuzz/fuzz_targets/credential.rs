//! Credential extraction and verification (bearer parsing, API-key prefixes and lookup, JWT
//! header and claims) over arbitrary header values: no panic, and nothing the fuzzer can make
//! without the HMAC secret or a key's plain text is ever accepted.
#![no_main]
use http::HeaderName;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use upload_gateway::auth::Authenticator;
use upload_gateway::config::Config;

static AUTH: LazyLock<Arc<Authenticator>> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("ugw-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "fuzz-secret-0123456789abcdef0123456789").unwrap();
    let (_key, entry) =
        upload_gateway::auth::keys::generate("so_live_", "fuzz", Some("org"), &["media:write".into()]);
    std::fs::write(dir.join("keys.toml"), entry).unwrap();
    let text = format!(
        r#"
[[listeners]]
address = "127.0.0.1:1"
[upstreams.u]
address = "127.0.0.1:2"
[auth]
api_keys_file = "{d}/keys.toml"
[auth.jwt]
issuer = "https://issuer.test"
audience = ["media-api"]
[[auth.jwt.keys]]
algorithms = ["HS256"]
secret_file = "{d}/secret"
[[routes]]
name = "r"
path = "/media"
upstream = "u"
"#,
        d = dir.display()
    );
    Config::parse(&text).unwrap().auth.clone().unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let header = if which & 1 == 0 {
        http::header::AUTHORIZATION
    } else {
        HeaderName::from_static("soku-api-key")
    };
    let values: Vec<&[u8]> = rest.split(|b| *b == b'\n').collect();
    if let Ok(credential) = AUTH.credential(&header, &values) {
        let verdict = AUTH.authenticate(credential, 1_700_000_000);
        assert!(verdict.is_err(), "forged credential accepted: {credential:?}");
    }
});
