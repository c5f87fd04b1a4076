use super::*;

fn id(scopes: &[&str], tenant: Option<&str>, orgs: &[&str]) -> Identity {
    Identity {
        subject: "u1".into(),
        principal: "jwt:\"\":\"u1\"".into(),
        tenant: tenant.map(str::to_string),
        orgs: orgs.iter().map(|s| s.to_string()).collect(),
        tier: None,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        mode: Mode::Live,
        key_label: None,
    }
}

#[test]
fn scope_rules_all_of_and_any_of() {
    let rule = ScopeRule {
        all_of: vec!["media:write".into()],
        any_of: vec![],
    };
    assert!(
        rule.check(&["media:read".into(), "media:write".into(), "x".into()])
            .is_ok()
    );
    match rule.check(&["media:read".into()]).unwrap_err() {
        Rejection::Forbidden {
            missing_scopes,
            message,
        } => {
            assert_eq!(missing_scopes, vec!["media:write"]);
            assert!(message.contains("media:write"));
        }
        r => panic!("{r:?}"),
    }
    let any = ScopeRule {
        all_of: vec![],
        any_of: vec!["a".into(), "b".into()],
    };
    assert!(any.check(&["b".into()]).is_ok());
    assert!(any.check(&["c".into()]).is_err());
}

#[test]
fn tenant_header_must_name_an_allowed_organisation() {
    let me = id(&[], Some("org_a"), &["org_b"]);
    assert_eq!(
        Authenticator::tenant(&me, None).unwrap().as_deref(),
        Some("org_a")
    );
    assert_eq!(
        Authenticator::tenant(&me, Some("org_b"))
            .unwrap()
            .as_deref(),
        Some("org_b")
    );
    assert_eq!(
        Authenticator::tenant(&me, Some("org_a"))
            .unwrap()
            .as_deref(),
        Some("org_a")
    );
    assert!(matches!(
        Authenticator::tenant(&me, Some("org_c")),
        Err(Rejection::Forbidden { .. })
    ));
}

fn authenticator() -> Authenticator {
    let f: AuthFile = toml::from_str(
        "[jwt]\n[[jwt.keys]]\nalgorithms = [\"HS256\"]\nsecret_file = \"hs256.secret\"\n",
    )
    .unwrap();
    Authenticator::from_config(
        &f,
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys")),
    )
    .unwrap()
}

#[test]
fn credential_extraction() {
    let a = authenticator();
    assert_eq!(
        a.credential(&AUTHORIZATION, &[b"Bearer abc"]).unwrap(),
        "abc"
    );
    assert_eq!(
        a.credential(&AUTHORIZATION, &[b"bearer abc"]).unwrap(),
        "abc"
    );
    assert!(a.credential(&AUTHORIZATION, &[b"Basic abc"]).is_err());
    assert!(a.credential(&AUTHORIZATION, &[]).is_err());
    assert!(
        a.credential(&AUTHORIZATION, &[b"Bearer a", b"Bearer b"])
            .is_err()
    );
    assert_eq!(
        a.credential(&HeaderName::from_static("soku-api-key"), &[b"so_live_x"])
            .unwrap(),
        "so_live_x"
    );
    assert!(a.authenticate("not-a-token", 0).is_err());
}

#[test]
fn config_errors_name_the_key() {
    let f: AuthFile = toml::from_str(
        "[jwt]\n[[jwt.keys]]\nalgorithms = [\"RS256\"]\nsecret_file = \"hs256.secret\"\n[[jwt.keys]]\nalgorithms = [\"XX1\"]\npublic_key_file = \"rsa-public.pem\"\n",
    )
    .unwrap();
    let errs = Authenticator::from_config(&f, Path::new(".")).unwrap_err();
    let paths: Vec<_> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["auth.jwt.keys[0]", "auth.jwt.keys[1]"]);
}

/// An authenticator with HS256 JWTs and unprefixed API keys (`api_key_prefixes = { "" =
/// "live" }`), as media-library-style APIs issue them; returns it and a valid key.
fn unprefixed_keys_and_jwts(status: &str) -> (Authenticator, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "ugw-auth-unprefixed-{status}-{}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys"));
    std::fs::copy(fixtures.join("hs256.secret"), dir.join("hs256.secret")).unwrap();
    let (key, entry) = keys::generate("", "plain", Some("org_1"), &["media:read".into()]);
    std::fs::write(
        dir.join("keys.toml"),
        format!("{entry}status = \"{status}\"\n"),
    )
    .unwrap();
    let f: AuthFile = toml::from_str(
        "api_keys_file = \"keys.toml\"\napi_key_prefixes = { \"\" = \"live\", \"so_test_\" = \"test\" }\n\
         [jwt]\n[[jwt.keys]]\nalgorithms = [\"HS256\"]\nsecret_file = \"hs256.secret\"\n",
    )
    .unwrap();
    let authenticator = Authenticator::from_config(&f, &dir).unwrap();
    // Read when it was built: the files are not needed any more.
    std::fs::remove_dir_all(&dir).unwrap();
    (authenticator, key)
}

#[test]
fn unprefixed_keys_live_beside_jwts() {
    let (a, key) = unprefixed_keys_and_jwts("active");
    let id = a.authenticate(&key, 0).unwrap();
    assert_eq!(
        (id.mode, id.key_label.as_deref()),
        (Mode::Live, Some("plain"))
    );
    // A JWT is verified as a JWT, not looked up as a key.
    let secret = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/hs256.secret"
    ))
    .unwrap();
    let claims = serde_json::json!({"sub": "u1", "exp": 4_000_000_000u64, "scope": "media:read"});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.trim_ascii()),
    )
    .unwrap();
    let jwt_id = a.authenticate(&token, 0);
    assert_eq!(jwt_id.map(|i| i.subject), Ok("u1".to_string()));
    // A JWT-shaped string with a bad signature is a JWT failure, not an unknown key.
    assert!(matches!(
        a.authenticate(&format!("{token}x"), 0),
        Err(Rejection::Unauthorized(m)) if !m.contains("API key")
    ));
    // Anything else is an unknown key; a longer configured prefix still selects its mode.
    assert_eq!(
        a.authenticate("some-opaque-token", 0),
        Err(Rejection::Unauthorized("unknown API key".into()))
    );
    assert_eq!(
        a.authenticate("so_test_123", 0),
        Err(Rejection::Unauthorized("unknown API key".into()))
    );
}

#[test]
fn a_disabled_key_is_forbidden_not_unknown() {
    let (a, key) = unprefixed_keys_and_jwts("disabled");
    assert!(matches!(
        a.authenticate(&key, 0),
        Err(Rejection::Forbidden { message, .. }) if message == "this API key is disabled"
    ));
}

fn hs256(claims: &serde_json::Value) -> String {
    let secret = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/hs256.secret"
    ))
    .unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.trim_ascii()),
    )
    .unwrap()
}

#[test]
fn tokens_without_a_usable_identity_are_refused() {
    let (a, _) = unprefixed_keys_and_jwts("active");
    let exp = 4_000_000_000u64;
    for bad in [
        serde_json::json!({"exp": exp, "org_id": "orgA"}),
        serde_json::json!({"sub": 7, "exp": exp}),
        serde_json::json!({"sub": "", "exp": exp}),
        serde_json::json!({"sub": "a\u{7}b", "exp": exp}),
        serde_json::json!({"sub": "u1", "org_id": "", "exp": exp}),
        serde_json::json!({"sub": "u1", "org_id": "org\nA", "exp": exp}),
        serde_json::json!({"sub": "u1", "org_id": "~jwt:x", "exp": exp}),
        serde_json::json!({"sub": "u1", "org_id": 5, "exp": exp}),
        serde_json::json!({"sub": "u1", "orgs": ["ok", ""], "exp": exp}),
    ] {
        assert!(
            matches!(
                a.authenticate(&hs256(&bad), 0),
                Err(Rejection::Unauthorized(_))
            ),
            "{bad}"
        );
    }
    let ok = a
        .authenticate(&hs256(&serde_json::json!({"sub": "u1", "exp": exp})), 0)
        .unwrap();
    assert_eq!(ok.principal, r#"jwt:"":"u1""#);
    assert_eq!(ok.bucket(None), r#"~jwt:"":"u1""#);
    assert_eq!(ok.bucket(Some("u1")), "u1");
}
