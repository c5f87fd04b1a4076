use super::*;

fn id(scopes: &[&str], tenant: Option<&str>, orgs: &[&str]) -> Identity {
    Identity {
        subject: "u1".into(),
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
