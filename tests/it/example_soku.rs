//! conf/examples/soku.toml end to end: a JSON body with a URL the backend will fetch. Every
//! internal spelling of a host (and a name resolving to loopback, through /etc/hosts: no query
//! leaves the machine) is refused in the API's own error format before the backend is
//! contacted; a public URL (documentation addresses) reaches it byte-identical.

use crate::common::examples::key;
use crate::common::*;
use std::path::PathBuf;

fn post(gw: &TestGateway, key: &str, content_type: &str, body: &str) -> Response {
    gw.request()
        .path("/v1/media")
        .header("soku-api-key", key)
        .header("Content-Type", content_type)
        .body(body.as_bytes())
}

/// The nested error, checked for the API's type, req_ request id and timestamp.
fn error(r: &Response, status: u16, code: &str, message: &str, kind: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-request-id"), None);
    let v = r.json();
    let e = &v["error"];
    assert_eq!(
        (e["code"].as_str(), e["message"].as_str()),
        (Some(code), Some(message))
    );
    assert_eq!(e["type"], kind);
    assert!(e["requestId"].as_str().unwrap().starts_with("req_"), "{v}");
    let ts = e["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "{ts}"
    );
    assert_eq!(v.as_object().unwrap().len(), 1, "only `error`: {v}");
}

#[test]
fn soku_remote_media() {
    let (live, entry) = key("sk_live_", "app", &[], "");
    let (lapsed, lapsed_entry) = key("sk_live_", "lapsed", &[], "status = \"disabled\"\n");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    let dir = std::env::temp_dir().join(format!("ugw-ex-soku-{}", free_port()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(
        dir.join("keys/soku.toml"),
        format!("{entry}\n{lapsed_entry}"),
    )
    .unwrap();
    let text = std::fs::read_to_string(root.join("soku.toml"))
        .unwrap()
        .replace("requests = { limit = 60,", "requests = { limit = 40,")
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:9000", "{UPSTREAM}");
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_in(&text, up.addr, &dir);
    let json = "application/json";
    let invalid = "The 'url' field must be a valid HTTP or HTTPS URL.";

    let body = r#"{"url": "http://192.0.2.10/videos/product-demo.mp4"}"#;
    assert_eq!(post(&gw, &live, json, body).status, 201);
    let got = up.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].body, body.as_bytes(), "forwarded unchanged");
    let v6 = r#"{"url":"https://[2001:db8::1]/images/banner.png"}"#;
    assert_eq!(post(&gw, &live, json, v6).status, 201);

    for url in [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http://localhost:9000/",
    ] {
        let r = post(&gw, &live, json, &format!("{{\"url\":\"{url}\"}}"));
        error(
            &r,
            400,
            "validation_error",
            invalid,
            "invalid_request_error",
        );
    }
    for bad in [
        r#"{}"#,
        r#"{"url": 5}"#,
        r#"{"url":"http://192.0.2.1/","url":"http://127.0.0.1/"}"#,
        // Go's encoding/json and ASP.NET Core read `URL` as `url` (the last wins).
        r#"{"url":"https://192.0.2.10/a.png","URL":"http://169.254.169.254/latest/meta-data/"}"#,
        "not json",
    ] {
        error(
            &post(&gw, &live, json, bad),
            400,
            "validation_error",
            invalid,
            "invalid_request_error",
        );
    }
    let r = post(&gw, &live, "text/plain", body);
    error(
        &r,
        400,
        "validation_error",
        "Content-Type must be application/json",
        "invalid_request_error",
    );
    assert_eq!(
        up.received().len(),
        2,
        "no refused request reached the backend"
    );

    let r = post(&gw, "sk_live_unknown", json, body);
    error(
        &r,
        401,
        "unauthorized",
        "Missing or invalid API key",
        "authentication_error",
    );
    let r = post(&gw, &lapsed, json, body);
    error(
        &r,
        403,
        "forbidden",
        "Subscription is not active",
        "permission_error",
    );

    // Idempotency: a key's first answer is replayed without the backend; without the header the
    // key is derived from the caller and the payload ("Soku auto-derives a key").
    let keyed = |key: &str, body: &str| {
        gw.request()
            .path("/v1/media")
            .header("soku-api-key", &live)
            .header("Content-Type", json)
            .header("Idempotency-Key", key)
            .body(body.as_bytes())
    };
    let seen = up.received().len();
    let first = keyed("order-1", r#"{"url":"http://192.0.2.20/a.mp4"}"#);
    let again = keyed("order-1", r#"{"url":"http://192.0.2.20/a.mp4"}"#);
    assert_eq!((first.status, &first.body), (again.status, &again.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = keyed("order-1", r#"{"url":"http://192.0.2.21/b.mp4"}"#);
    error(
        &other,
        422,
        "idempotency_mismatch",
        "This Idempotency-Key was already used with a different request body.",
        "idempotency_error",
    );
    let derived = r#"{"url":"http://192.0.2.22/c.mp4"}"#;
    let first = post(&gw, &live, json, derived);
    let again = post(&gw, &live, json, derived);
    assert_eq!((first.status, &first.body), (again.status, &again.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        up.received().len(),
        seen + 2,
        "one request per key reached the backend"
    );

    let limited = (0..60)
        .map(|_| post(&gw, &live, json, body))
        .find(|r| r.status == 429)
        .expect("the request limit is reached");
    error(
        &limited,
        429,
        "rate_limit_exceeded",
        "Too many requests. See Rate Limits.",
        "rate_limit_error",
    );
    assert!(limited.header("retry-after").is_some());
}
