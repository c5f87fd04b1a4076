//! Identity and scopes, end to end: real signed tokens (HS256, RS256 and ES256 through a JWKS
//! with several kids), API keys by prefix and the organisation header. Every refusal happens in
//! the header phase: the upstream is never contacted and an Expect client never sends its body.

mod isolation;

use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use upload_gateway::auth::keys::generate;
use upload_gateway::multipart::Form;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");

const AUTH_CONFIG: &str = r#"
[[listeners]]
address = "{LISTEN}"
[upstreams.media]
address = "{UPSTREAM}"
[upstreams.sandbox]
address = "{SANDBOX}"

[auth]
api_keys_file = "{KEYS}"
[auth.jwt]
issuer = "https://issuer.test"
audience = ["media-api"]
leeway_seconds = 5
[[auth.jwt.keys]]
algorithms = ["HS256"]
secret_file = "{FIX}/hs256.secret"
[[auth.jwt.keys]]
algorithms = ["RS256", "ES256"]
jwks_file = "{FIX}/jwks.json"

[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "media"
sandbox_upstream = "sandbox"
scopes = ["media:write"]
[routes.upload]
allowed_types = ["image/*"]

[[routes]]
name = "read"
path = "/media*"
methods = ["GET"]
upstream = "media"
sandbox_upstream = "sandbox"
scopes = ["media:read"]

[[routes]]
name = "soku"
path = "/soku/media"
methods = ["POST"]
upstream = "media"
credential_header = "soku-api-key"
scopes = ["media:write"]
[routes.upload]
allowed_types = ["image/*"]

[[routes]]
name = "delete"
path = "/media/*"
methods = ["DELETE"]
upstream = "media"
scopes = ["media:write"]

[[routes]]
name = "delete-test-allowed"
path = "/playground/*"
methods = ["DELETE"]
upstream = "media"
allow_test_credentials = true

[[routes]]
name = "health"
path = "/healthz"
upstream = "media"
public = true
"#;

struct Env {
    gw: TestGateway,
    media: RecordingUpstream,
    sandbox: RecordingUpstream,
    live_key: String,
    test_key: String,
    expired_key: String,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn env() -> Env {
    let dir = std::env::temp_dir().join(format!("ugw-auth-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let scopes = vec!["media:read".to_string(), "media:write".to_string()];
    let (live_key, live) = generate("so_live_", "live-uploader", Some("org_live"), &scopes);
    let (test_key, test) = generate("so_test_", "test-uploader", Some("org_test"), &scopes);
    let (expired_key, expired) = generate("so_live_", "old", Some("org_live"), &scopes);
    let keys = dir.join("keys.toml");
    std::fs::write(
        &keys,
        format!("{live}\n{test}\n{expired}expires_at_unix = 1000\n"),
    )
    .unwrap();
    let media = RecordingUpstream::start();
    let sandbox = RecordingUpstream::start();
    let template = AUTH_CONFIG
        .replace("{SANDBOX}", &sandbox.addr.to_string())
        .replace("{KEYS}", keys.to_str().unwrap())
        .replace("{FIX}", FIX);
    let gw = TestGateway::start_with(&template, media.addr);
    Env {
        gw,
        media,
        sandbox,
        live_key,
        test_key,
        expired_key,
        _dir: tempdir::Dir(dir),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(scope: serde_json::Value) -> serde_json::Value {
    json!({
        "sub": "user-1", "iss": "https://issuer.test", "aud": "media-api",
        "exp": now() + 600, "iat": now(), "org_id": "org_a", "orgs": ["org_b"],
        "scope": scope,
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(
            std::fs::read(format!("{FIX}/hs256.secret"))
                .unwrap()
                .trim_ascii(),
        ),
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(&std::fs::read(format!("{FIX}/rsa-private.pem")).unwrap())
                .unwrap()
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(&std::fs::read(format!("{FIX}/ec-private.pem")).unwrap())
                .unwrap()
        }
        _ => unreachable!(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn sign_rsa2(claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_rsa_pem(&std::fs::read(format!("{FIX}/rsa2-private.pem")).unwrap())
        .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-2".into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64(v: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn png_form() -> Form {
    Form::new("auth-b").file("file", "p.png", "image/png", &fixture("media/photo.png"))
}

fn upload_with(e: &Env, header: (&str, &str)) -> crate::common::client::Response {
    e.gw.request().header(header.0, header.1).form(png_form())
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[test]
fn valid_tokens_reach_the_upstream_with_identity_headers() {
    let e = env();
    let write = json!("media:read media:write");
    let tokens = [
        sign(Algorithm::HS256, None, &claims(write.clone())),
        sign(Algorithm::RS256, Some("rsa-1"), &claims(write.clone())),
        sign_rsa2(&claims(write.clone())),
        sign(Algorithm::ES256, Some("ec-1"), &claims(write.clone())),
    ];
    for (i, t) in tokens.iter().enumerate() {
        let resp = upload_with(&e, ("Authorization", &bearer(t)));
        assert_eq!(
            resp.status,
            201,
            "token {i}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let got = e.media.wait_for(i + 1).pop().unwrap();
        assert!(got.complete);
        assert_eq!(got.header("x-auth-subject"), Some("user-1"));
        assert_eq!(got.header("x-auth-tenant"), Some("org_a"));
        assert_eq!(got.header("x-auth-scopes"), Some("media:read media:write"));
        assert_eq!(got.header("authorization"), None, "credential stripped");
    }
}

#[test]
fn bad_credentials_are_refused_before_the_body_is_read() {
    let e = env();
    let good = claims(json!("media:write"));
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 3600);
    let mut future = good.clone();
    future["nbf"] = json!(now() + 3600);
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.test");
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("other-api");
    let mut no_iss = good.clone();
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut no_aud = good.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good.to_string().as_bytes())
    );
    let rsa_pub = std::fs::read(format!("{FIX}/rsa-public.pem")).unwrap();
    let mut confused_header = Header::new(Algorithm::HS256);
    confused_header.kid = Some("rsa-1".into());
    let confused =
        jsonwebtoken::encode(&confused_header, &good, &EncodingKey::from_secret(&rsa_pub)).unwrap();
    let confused_nokid = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(&rsa_pub),
    )
    .unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing"),
        (Some("Bearer garbage".into()), "malformed"),
        (Some("Basic dXNlcjpwdw==".into()), "Bearer"),
        (Some(bearer(&none)), "malformed"),
        (Some(bearer(&confused)), "not accepted"),
        (Some(bearer(&confused_nokid)), "bad signature"),
        (
            Some(bearer(&sign(Algorithm::HS256, None, &expired))),
            "expired",
        ),
        (
            Some(bearer(&sign(Algorithm::HS256, None, &future))),
            "not yet valid",
        ),
        (
            Some(bearer(&sign(Algorithm::RS256, Some("rsa-1"), &wrong_iss))),
            "issuer",
        ),
        (
            Some(bearer(&sign(Algorithm::ES256, Some("ec-1"), &wrong_aud))),
            "audience",
        ),
        (
            Some(bearer(&sign(Algorithm::HS256, None, &no_iss))),
            "lacks the issuer",
        ),
        (
            Some(bearer(&sign(Algorithm::HS256, None, &no_aud))),
            "lacks the audience",
        ),
        (
            Some(bearer(&sign(Algorithm::RS256, Some("rsa-9"), &good))),
            "unknown key id",
        ),
        (Some(bearer(&e.expired_key)), "expired"),
        (Some(bearer("so_live_0000")), "unknown API key"),
    ];
    for (auth, why) in cases {
        let mut req =
            e.gw.request()
                .header("Content-Type", &png_form().content_type());
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let (resp, sent) = req.expect_continue(&png_form().finish());
        assert!(!sent, "{why}: body must not be requested");
        resp.assert_error(401, "unauthorized");
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
        let message = resp.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(why), "{why:?} not in {message:?}");
    }
    e.media.assert_untouched();
}

#[test]
fn scopes_are_checked_per_route_and_method() {
    let e = env();
    let read_only = sign(Algorithm::HS256, None, &claims(json!("media:read")));
    let resp = upload_with(&e, ("Authorization", &bearer(&read_only)));
    resp.assert_error(403, "forbidden");
    assert_eq!(
        resp.json()["error"]["missing_scopes"],
        json!(["media:write"])
    );
    let mut scp = claims(json!(null));
    scp.as_object_mut().unwrap().remove("scope");
    scp["scp"] = json!(["media:write", "media:admin"]);
    assert_eq!(
        upload_with(
            &e,
            (
                "Authorization",
                &bearer(&sign(Algorithm::HS256, None, &scp))
            )
        )
        .status,
        201
    );
    let resp =
        e.gw.request()
            .method("GET")
            .path("/media/1")
            .header("Authorization", &bearer(&read_only))
            .body(b"");
    assert_eq!(resp.status, 201);
    assert_eq!(
        e.gw.request()
            .method("GET")
            .path("/healthz")
            .body(b"")
            .status,
        201,
        "public route"
    );
    assert_eq!(e.media.wait_for(3).len(), 3);
}

#[test]
fn api_keys_live_and_test_modes() {
    let e = env();
    let resp = upload_with(&e, ("Authorization", &bearer(&e.live_key)));
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(1).pop().unwrap();
    assert_eq!(
        (got.header("x-auth-mode"), got.header("x-auth-key-label")),
        (Some("live"), Some("live-uploader"))
    );
    let resp = upload_with(&e, ("Authorization", &bearer(&e.test_key)));
    assert_eq!(resp.status, 201);
    let got = e.sandbox.wait_for(1).pop().unwrap();
    assert_eq!(
        got.header("x-auth-mode"),
        Some("test"),
        "test keys go to the sandbox"
    );
    assert_eq!(e.media.received().len(), 1);
    let resp =
        e.gw.request()
            .path("/soku/media")
            .header("soku-api-key", &e.live_key)
            .form(png_form());
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(2).pop().unwrap();
    assert_eq!(got.header("soku-api-key"), None, "credential stripped");
    e.gw.request()
        .path("/soku/media")
        .header("Authorization", &bearer(&e.live_key))
        .form(png_form())
        .assert_error(401, "unauthorized");
}

#[test]
fn organisation_header_and_spoofed_identity() {
    let e = env();
    let t = sign(Algorithm::HS256, None, &claims(json!("media:write")));
    let resp =
        e.gw.request()
            .header("Authorization", &bearer(&t))
            .header("X-Organization-Id", "org_b")
            .header("X-Auth-Subject", "admin")
            .header("X-Auth-Scopes", "everything")
            .form(png_form());
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(1).pop().unwrap();
    assert_eq!(got.header("x-auth-tenant"), Some("org_b"));
    assert_eq!(got.header("x-auth-subject"), Some("user-1"));
    assert_eq!(got.header("x-auth-scopes"), Some("media:write"));
    let resp =
        e.gw.request()
            .header("Authorization", &bearer(&t))
            .header("X-Organization-Id", "org_evil")
            .form(png_form());
    resp.assert_error(403, "forbidden");
    let resp =
        e.gw.request()
            .method("GET")
            .path("/healthz")
            .header("X-Auth-Tenant", "org_x")
            .body(b"");
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(2).pop().unwrap();
    assert_eq!(
        got.header("x-auth-tenant"),
        None,
        "spoofed identity never reaches the upstream"
    );
}

/// A WSGI, CGI, Rack or PHP backend reads `X_Auth_Tenant` as `HTTP_X_AUTH_TENANT`: every
/// spelling of a header the gateway vouches for is removed, on authenticated and public routes.
#[test]
fn identity_headers_in_every_spelling_never_reach_the_backend() {
    let e = env();
    let t = sign(Algorithm::HS256, None, &claims(json!("media:write")));
    let spoofs = [
        ("X_Auth_Tenant", "victimOrg"),
        ("x_auth_subject", "admin"),
        ("X-AUTH_SCOPES", "everything"),
        ("x_auth_mode", "live"),
        ("X_Auth_Key_Label", "root"),
        ("x_request_id", "forged"),
        ("X_Upload_Detected_Type", "image/png"),
        ("Soku_Api_Key", "so_live_forged"),
    ];
    let with_spoofs = |mut r: Request| {
        for (k, v) in spoofs {
            r = r.header(k, v);
        }
        r
    };
    let resp = with_spoofs(e.gw.request().header("Authorization", &bearer(&t))).form(png_form());
    assert_eq!(resp.status, 201);
    let resp = with_spoofs(e.gw.request().method("GET").path("/healthz")).body(b"");
    assert_eq!(resp.status, 201);
    for got in e.media.wait_for(2) {
        let leaked: Vec<_> = got
            .headers
            .iter()
            .filter(|(k, _)| k.contains('_'))
            .collect();
        assert!(leaked.is_empty(), "{} forwarded {leaked:?}", got.path);
        assert_ne!(got.header("x-request-id"), Some("forged"));
    }
    let got = e.media.received();
    assert_eq!(got[0].header("x-auth-tenant"), Some("org_a"));
    assert_eq!(got[1].header("x-auth-tenant"), None);
}
