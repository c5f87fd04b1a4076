//! Every answer carries the same gateway headers, whoever wrote it: the upstream's 201, a
//! refusal, an idempotent replay, a CORS preflight and the usage report all get the request id
//! in the error profile's spelling, the CORS headers of an allowed origin (where a route
//! applies) and the `RateLimit` headers where quotas apply (`headers::decorate`).

use crate::common::quota_support as support;

use crate::common::*;
use support::*;
use upload_gateway::multipart::Form;

const APP: &str = "https://app.example.com";

/// The quota test config with a UUID request-id profile for the server and the upload route,
/// CORS and idempotency keys on the upload route.
fn edit(text: String) -> String {
    let text =
        format!("[server]\nerrors = \"uuid\"\n[errors.uuid]\nrequest_id_format = \"uuid\"\n{text}");
    text.replace(
        "name = \"upload\"\npath = \"/media\"\nmethods = [\"POST\"]\nupstream = \"media\"\nscopes = [\"media:write\"]\n",
        "name = \"upload\"\npath = \"/media\"\nmethods = [\"POST\"]\nupstream = \"media\"\nscopes = [\"media:write\"]\n\
         errors = \"uuid\"\n[routes.cors]\nallow_origins = [\"https://app.example.com\"]\n\
         allow_headers = [\"Authorization\", \"Idempotency-Key\"]\n[routes.idempotency]\n",
    )
}

fn is_uuid(id: &str) -> bool {
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    parts == [8, 4, 4, 4, 12] && id.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit())
}

#[test]
fn every_answer_is_decorated_alike() {
    let up = RecordingUpstream::start();
    let gw = QuotaGateway::start_edited(up.addr, "", 10_000_000, edit);
    let t = token("acme", "media:write usage:read", Some("windowed"));
    let auth = format!("Bearer {t}");
    let png = fixture("media/photo.png");
    let upload = |key: &str, bytes: &[u8]| {
        gw.gw
            .request()
            .path("/media")
            .header("Authorization", &auth)
            .header("Origin", APP)
            .header("Idempotency-Key", key)
            .form(Form::new("d").file("file", "p.png", "image/png", bytes))
    };
    let stored = upload("k1", &png);
    assert_eq!(
        stored.status,
        201,
        "{}",
        String::from_utf8_lossy(&stored.body)
    );
    let replayed = upload("k1", &png);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let refused = upload("k2", &fixture("media/report.pdf"));
    refused.assert_error(415, "content_mismatch");
    let preflight = gw
        .gw
        .request()
        .method("OPTIONS")
        .path("/media")
        .header("Origin", APP)
        .header("Access-Control-Request-Method", "POST")
        .body(b"");
    assert_eq!(preflight.status, 204);
    let usage = gw
        .gw
        .request()
        .method("GET")
        .path("/usage")
        .header("Authorization", &auth)
        .body(b"");
    assert_eq!(usage.status, 200);
    let answers = [
        ("upstream", &stored, true, true),
        ("replay", &replayed, true, true),
        ("refusal", &refused, true, true),
        ("preflight", &preflight, true, false),
        ("usage", &usage, false, false),
    ];
    for (name, r, cors, rate_limit) in answers {
        let id = r.header("x-request-id").unwrap_or_default();
        assert!(
            is_uuid(id),
            "{name}: request id {id:?} in the profile's spelling"
        );
        let origin = r.header("access-control-allow-origin");
        assert_eq!(origin, cors.then_some(APP), "{name}: CORS");
        assert_eq!(
            r.header("ratelimit").is_some(),
            rate_limit,
            "{name}: RateLimit {:?}",
            r.headers
        );
    }
    assert_eq!(up.wait_for(1).len(), 1);
}
