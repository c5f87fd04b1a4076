//! Criterion bench of the header-phase auth path: credential extraction, verification and the
//! route scope check, for an HS256 JWT and for an API key. Run: cargo bench --bench auth

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{EncodingKey, Header};
use std::hint::black_box;
use std::path::Path;
use upload_gateway::auth::{Authenticator, ScopeRule, keys::generate};
use upload_gateway::config::file::AuthFile;

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join("ugw-auth-bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "bench-secret-0123456789").unwrap();
    let (key, entry) = generate("so_live_", "bench", Some("org"), &["media:write".into()]);
    std::fs::write(dir.join("keys.toml"), entry).unwrap();
    let f: AuthFile = toml::from_str(
        "api_keys_file = \"keys.toml\"\n[jwt]\n[[jwt.keys]]\nalgorithms = [\"HS256\"]\nsecret_file = \"secret\"\n",
    )
    .unwrap();
    let auth = Authenticator::from_config(&f, Path::new(&dir)).unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = serde_json::json!({"sub": "u", "exp": exp, "scope": "media:read media:write", "org_id": "org"});
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"bench-secret-0123456789"),
    )
    .unwrap();
    let rule = ScopeRule {
        all_of: vec!["media:write".into()],
        any_of: vec![],
    };
    let jwt_header = format!("Bearer {token}");
    let mut g = c.benchmark_group("header_phase_auth");
    g.bench_function("hs256_jwt", |b| {
        b.iter(|| {
            let cred = auth
                .credential(&http::header::AUTHORIZATION, &[jwt_header.as_bytes()])
                .unwrap();
            let id = auth.authenticate(black_box(cred), exp - 10).unwrap();
            rule.check(&id.scopes).unwrap();
            black_box(Authenticator::tenant(&id, None).unwrap())
        })
    });
    g.bench_function("api_key", |b| {
        b.iter(|| {
            let cred = auth
                .credential(
                    &http::HeaderName::from_static("soku-api-key"),
                    &[key.as_bytes()],
                )
                .unwrap();
            let id = auth.authenticate(black_box(cred), exp - 10).unwrap();
            rule.check(&id.scopes).unwrap();
            black_box(Authenticator::tenant(&id, None).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
