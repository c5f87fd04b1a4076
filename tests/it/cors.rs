//! CORS: the gateway answers preflights itself (no credential, never forwarded) for the route
//! the real request would take; allowed origins get the headers on every answer, refusals
//! included, so browser code can read them.

use crate::common::*;
use upload_gateway::multipart::Form;

const APP: &str = "https://app.example.com";

fn config() -> String {
    TEST_CONFIG.replace(
        "[routes.upload]\nallowed_types = [\"image/*\", \"video/*\"",
        "[routes.cors]\nallow_origins = [\"https://app.example.com\"]\n\
         allow_headers = [\"Authorization\", \"Idempotency-Key\"]\n\
         expose_headers = [\"X-Request-Id\"]\n\
         [routes.upload]\nallowed_types = [\"image/*\", \"video/*\"",
    )
}

fn preflight(gw: &TestGateway, path: &str, origin: &str, headers: &str) -> Response {
    gw.request()
        .method("OPTIONS")
        .path(path)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", headers)
        .body(b"")
}

#[test]
fn preflights_are_answered_and_allowed_origins_can_read_every_answer() {
    let up = RecordingUpstream::start();
    let text = config();
    assert!(text.contains("[routes.cors]"), "the template changed");
    let gw = TestGateway::start_with(&text, up.addr);

    let ok = preflight(&gw, "/media", APP, "authorization, content-type");
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(APP));
    assert_eq!(ok.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(ok.header("vary"), Some("Origin"));

    let evil = preflight(&gw, "/media", "https://evil.example", "");
    evil.assert_error(403, "forbidden");
    assert_eq!(evil.header("access-control-allow-origin"), None);
    preflight(&gw, "/media", APP, "x-secret").assert_error(403, "forbidden");
    // A route without CORS rules refuses preflights.
    let put = gw
        .request()
        .method("OPTIONS")
        .path("/media/1")
        .header("Origin", APP)
        .header("Access-Control-Request-Method", "PUT")
        .body(b"");
    put.assert_error(403, "forbidden");
    assert_eq!(
        up.connection_count(),
        0,
        "preflights never reach the backend"
    );

    let png = fixture("media/photo.png");
    let form = Form::new("c").file("file", "p.png", "image/png", &png);
    let r = gw.request().path("/media").header("Origin", APP).form(form);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("X-Request-Id")
    );
    let spoof = Form::new("c").file("file", "p.png", "image/png", &fixture("media/report.pdf"));
    let r = gw
        .request()
        .path("/media")
        .header("Origin", APP)
        .form(spoof);
    r.assert_error(415, "content_mismatch");
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let form = Form::new("c").file("file", "p.png", "image/png", &png);
    let other = gw
        .request()
        .path("/media")
        .header("Origin", "https://evil.example")
        .form(form);
    assert_eq!(other.header("access-control-allow-origin"), None);
}
