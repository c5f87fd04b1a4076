//! conf/examples/flowkiwi.toml end to end: the organisation header is required, any type up to
//! 5 MB (videos 100 MB) but no executables or archives, and every refusal is the API's
//! application/problem+json (403 `missingPermissions`, 422 `violations`, never 413/415).

use crate::common::examples::*;
use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::path::PathBuf;
use upload_gateway::multipart::Form;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn token(permissions: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "sub": "user-1", "iss": "https://id.example.com/", "aud": "flowkiwi",
        "exp": now + 600, "orgs": ["org_a"], "permissions": permissions,
    });
    let key = std::fs::read(format!("{FIX}/keys/rsa-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&key).unwrap()).unwrap()
}

fn post(gw: &TestGateway, auth: &str, org: Option<&str>, form: Form) -> Response {
    let mut req = gw
        .request()
        .path("/rest/api/medias")
        .header("Authorization", &format!("Bearer {auth}"));
    if let Some(o) = org {
        req = req.header("X-Flowkiwi-Organization-Id", o);
    }
    req.form(form)
}

/// The problem body, with its content type checked.
fn problem(r: &Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    r.json()
}

fn violation(r: &Response, path: &str, code: &str) {
    let v = problem(r, 422);
    assert_eq!(v["@type"], "ConstraintViolation");
    assert_eq!(v["@id"], "/rest/api/errors/422");
    assert_eq!(v["violations"][0]["propertyPath"], path);
    assert_eq!(v["violations"][0]["code"], code, "{v}");
}

#[test]
fn flowkiwi_media_upload() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    let text = std::fs::read_to_string(root.join("flowkiwi.toml"))
        .unwrap()
        .replace("../example/jwks.json", &format!("{FIX}/keys/jwks.json"))
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:9000", "{UPSTREAM}");
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&text, up.addr);
    let ok = token("identity:media:create");
    let org = Some("org_a");

    // Any type: a PNG, and an unknown binary type the gateway cannot detect.
    assert_eq!(
        post(&gw, &ok, org, file("photo.png", "image/png")).status,
        201
    );
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 37 % 251) as u8).collect();
    let blob = Form::new("fk").file("file", "a.bin", "application/x-flowkiwi-blob", &binary);
    let r = post(&gw, &ok, org, blob);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    // Videos up to 100 MB, other files up to 5 MB.
    let mut video = fixture("media/clip.mp4");
    video.resize(6 << 20, 0);
    let video = Form::new("fk").file("file", "v.mp4", "video/mp4", &video);
    assert_eq!(post(&gw, &ok, org, video).status, 201);
    assert_eq!(up.wait_for(3).iter().filter(|r| r.complete).count(), 3);

    let big = Form::new("fk").file(
        "file",
        "b.bin",
        "application/x-flowkiwi-blob",
        &vec![7u8; 6 << 20],
    );
    violation(&post(&gw, &ok, org, big), "file", "too_large");
    let spoof = Form::new("fk").file("file", "a.png", "image/png", &fixture("media/report.pdf"));
    violation(&post(&gw, &ok, org, spoof), "file", "invalid_type");
    for hostile in ["elf-binary.bin", "windows.exe", "archive.zip"] {
        let bytes = fixture(&format!("hostile/{hostile}"));
        let form = Form::new("fk").file("file", hostile, "application/octet-stream", &bytes);
        violation(&post(&gw, &ok, org, form), "file", "invalid_type");
    }
    violation(
        &post(&gw, &ok, org, Form::new("fk").field("name", "x")),
        "file",
        "missing",
    );

    // The organisation header: required, and one the caller may act for.
    let v = problem(&post(&gw, &ok, None, file("photo.png", "image/png")), 400);
    assert_eq!(
        v,
        json!({
            "type": "about:blank", "title": "Bad Request", "status": 400,
            "detail": "the x-flowkiwi-organization-id header is required",
            "@context": "/rest/api/contexts/Error", "@id": "/rest/api/errors/400", "@type": "Error"
        })
    );
    let v = problem(
        &post(&gw, &ok, Some("org_b"), file("photo.png", "image/png")),
        403,
    );
    assert_eq!(
        (v["detail"].as_str(), v.get("missingPermissions")),
        (Some("Access denied."), None)
    );
    // A missing permission is named.
    let weak = token("identity:media:read");
    let v = problem(&post(&gw, &weak, org, file("photo.png", "image/png")), 403);
    assert_eq!(v["missingPermissions"], json!(["identity:media:create"]));
    assert_eq!(v["@id"], "/rest/api/errors/403");

    assert_eq!(
        up.received().iter().filter(|r| r.complete).count(),
        3,
        "no refused upload reached the backend complete"
    );
}
