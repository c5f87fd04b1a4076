//! The drop-in examples in conf/examples/, each driven through the gateway to a recording
//! upstream with the success and failure cases its API page documents: the client sees the
//! page's own statuses, bodies and content types, and refused bodies never reach the backend
//! complete.

use crate::common::examples::*;
use crate::common::*;
use std::path::PathBuf;
use upload_gateway::multipart::Form;

#[test]
fn media_library_api() {
    let (creator, c) = key("", "app", &["media:read", "media:create"], "");
    let (reader, r) = key("", "reader", &["media:read"], "");
    let (disabled, d) = key("", "old", &["media:create"], "status = \"disabled\"\n");
    let (gw, up) = example("media-library.toml", "keys/media-library.toml", &[c, r, d]);
    let flat = |r: &Response, status: u16, message: &str| {
        assert_body(
            r,
            status,
            "application/json",
            &format!("{{\"error\":\"{message}\"}}"),
        );
        assert_eq!(
            r.header("x-request-id"),
            None,
            "the API sends no request id"
        );
    };

    // Success: the eight documented types, Word and Excel declared as the page lists them.
    let ok = upload(
        &gw,
        "/api/media",
        Some(&creator),
        file("photo.png", "image/png"),
    );
    assert_eq!(ok.status, 201);
    assert_eq!(ok.header("x-request-id"), None);
    assert_eq!(ok.header("x-upload-sha256"), None);
    for (name, declared) in [
        ("report.docx", "application/msword"),
        ("report.doc", "application/msword"),
        ("sheet.xlsx", "application/vnd.ms-excel"),
        ("photo.gif", "image/gif"),
        ("tone.mp3", "audio/mpeg"),
    ] {
        let r = upload(&gw, "/api/media", Some(&creator), file(name, declared));
        assert_eq!(r.status, 201, "{name} as {declared}");
    }
    let forwarded = up.wait_for(6);
    assert!(forwarded.iter().all(|r| r.complete));

    // Failures, each in the API's own words.
    let text_only = Form::new("ex").field("name", "x");
    flat(
        &upload(&gw, "/api/media", Some(&creator), text_only),
        400,
        "No file uploaded",
    );
    let spoof = Form::new("ex").file("file", "a.png", "image/png", &fixture("media/report.pdf"));
    flat(
        &upload(&gw, "/api/media", Some(&creator), spoof),
        400,
        "Invalid file type",
    );
    flat(
        &upload(
            &gw,
            "/api/media",
            Some(&creator),
            file("photo.webp", "image/webp"),
        ),
        400,
        "Invalid file type",
    );
    let mut big = fixture("media/photo.png");
    big.resize(11 << 20, 0);
    let big = Form::new("ex").file("file", "big.png", "image/png", &big);
    flat(
        &upload(&gw, "/api/media", Some(&creator), big),
        400,
        "File too large",
    );
    let png = || file("photo.png", "image/png");
    flat(
        &upload(&gw, "/api/media", None, png()),
        401,
        "Missing or invalid API token",
    );
    flat(
        &upload(&gw, "/api/media", Some("wrong"), png()),
        401,
        "Missing or invalid API token",
    );
    flat(
        &upload(&gw, "/api/media", Some(&reader), png()),
        403,
        "Insufficient scope",
    );
    flat(
        &upload(&gw, "/api/media", Some(&disabled), png()),
        403,
        "Insufficient scope",
    );
    let delete = gw
        .request()
        .method("DELETE")
        .path("/api/media/42")
        .header("Authorization", &format!("Bearer {reader}"))
        .body(b"");
    flat(&delete, 403, "Insufficient scope");
    // None of the refused uploads reached the backend complete: the 11 MiB one streamed and was
    // cut off (recorded when the backend's read ends, so waited for).
    let all = up.wait_for(7);
    assert_eq!(all.iter().filter(|r| r.complete).count(), 6);
    assert_eq!(
        all.len(),
        7,
        "only the over-size upload reached the backend, cut off"
    );

    // No route: the API's 404, not the gateway's own format.
    let nowhere = gw.request().method("GET").path("/nowhere").body(b"");
    flat(&nowhere, 404, "Media not found");

    // Reads pass with media:read.
    let list = gw
        .request()
        .method("GET")
        .path("/api/media?page=1&page_size=10")
        .header("Authorization", &format!("Bearer {reader}"))
        .body(b"");
    assert_eq!(list.status, 201, "the recording upstream's answer, relayed");
    let seen = up.received().len();
    let too_many = gw
        .request()
        .method("GET")
        .path("/api/media?page_size=101")
        .header("Authorization", &format!("Bearer {reader}"))
        .body(b"");
    flat(
        &too_many,
        400,
        "query parameter page_size must be an integer from 1 to 100",
    );
    assert_eq!(up.received().len(), seen, "never forwarded");
    assert_eq!(
        up.received().last().unwrap().path,
        "/api/media?page=1&page_size=10"
    );
}

#[test]
fn serverops_media_upload() {
    let (pro, p) = key(
        "so_live_",
        "pro",
        &["media:read", "media:write"],
        "tier = \"pro\"\n",
    );
    // Usage is per tenant: the free key's organisation has stored nothing.
    let (free, f) = upload_gateway::auth::keys::generate(
        "so_live_",
        "free",
        Some("org_free"),
        &["media:write".into()],
    );
    let (reader, r) = key("so_live_", "reader", &["media:read"], "tier = \"pro\"\n");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    // The free tier shrunk to 1 byte so its quota answer can be seen.
    let text = std::fs::read_to_string(root.join("serverops.toml"))
        .unwrap()
        .replace("storage_bytes = 10737418240 ", "storage_bytes = 1 ");
    let dir = std::env::temp_dir().join(format!("ugw-ex-serverops-{}", free_port()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/serverops.toml"), [p, f, r].join("\n")).unwrap();
    std::fs::write(dir.join("serverops.toml"), text).unwrap();
    let up = RecordingUpstream::start();
    let text = std::fs::read_to_string(dir.join("serverops.toml"))
        .unwrap()
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:9000", "{UPSTREAM}");
    let gw = TestGateway::start_in(&text, up.addr, &dir);
    let nested = |r: &Response, status: u16, code: &str, message: &str| {
        let body = format!("{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}");
        assert_body(r, status, "application/json", &body);
    };

    let ok = upload(&gw, "/media", Some(&pro), file("photo.jpg", "image/jpeg"));
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    assert!(up.wait_for(1)[0].complete);

    let spoof = Form::new("ex").file("file", "a.png", "image/png", &fixture("media/report.pdf"));
    let msg = "file content does not match its declared Content-Type";
    nested(
        &upload(&gw, "/media", Some(&pro), spoof),
        400,
        "bad_request",
        msg,
    );
    let undeclared = Form::new("ex").raw_part(
        &["Content-Disposition: form-data; name=\"file\"; filename=\"a.png\""],
        &fixture("media/photo.png"),
    );
    let r = upload(&gw, "/media", Some(&pro), undeclared);
    nested(&r, 400, "bad_request", "missing required field");
    let text_only = Form::new("ex").field("tags", "a,b");
    let r = upload(&gw, "/media", Some(&pro), text_only);
    nested(&r, 400, "bad_request", "missing required field");
    let mut big = fixture("media/photo.png");
    big.resize(51 << 20, 0);
    let big = Form::new("ex").file("file", "big.png", "image/png", &big);
    let r = upload(&gw, "/media", Some(&pro), big);
    nested(&r, 413, "too_large", "file exceeds maximum allowed size");
    let png = || file("photo.png", "image/png");
    let r = upload(&gw, "/media", Some("so_live_nope"), png());
    nested(
        &r,
        401,
        "unauthorized",
        "missing or invalid authorization token",
    );
    let r = upload(&gw, "/media", Some(&reader), png());
    nested(
        &r,
        403,
        "forbidden",
        "token does not have the required scope",
    );
    let r = upload(&gw, "/media", Some(&free), png());
    let quota = "{\"error\":{\"code\":\"quota_exceeded\",\"message\":\"tier quota exceeded for storage_bytes\",\
                 \"metric\":\"storage_bytes\",\"quotas\":[{\"metric\":\"storage_bytes\",\"used\":0,\"limit\":1,\"cumulative\":true}]}}";
    assert_body(&r, 429, "application/json", quota);
    assert_eq!(
        up.received().iter().filter(|r| r.complete).count(),
        1,
        "no refused upload reached the backend complete"
    );

    // Deletes need media:write on this API.
    let delete = |k: &str| {
        gw.request()
            .method("DELETE")
            .path("/media/obj-1")
            .header("Authorization", &format!("Bearer {k}"))
            .body(b"")
    };
    let r = delete(&reader);
    nested(
        &r,
        403,
        "forbidden",
        "token does not have the required scope",
    );
    assert_eq!(
        delete(&pro).status,
        201,
        "the recording upstream's answer, relayed"
    );
}

/// The envelope body with its (random) request id checked as a UUID and taken out.
fn envelope(r: &Response) -> serde_json::Value {
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-request-id"), None);
    let mut v = r.json();
    let id = v["request_id"].as_str().unwrap().to_string();
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "a UUID: {id}");
    v.as_object_mut().unwrap().remove("request_id");
    v
}

#[test]
fn soniox_file_upload() {
    let (k, entry) = key("", "app", &[], "");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    let dir = std::env::temp_dir().join(format!("ugw-ex-soniox-{}", free_port()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/soniox.toml"), entry).unwrap();
    // A request limit small enough to reach.
    let text = std::fs::read_to_string(root.join("soniox.toml"))
        .unwrap()
        .replace("requests = { limit = 100,", "requests = { limit = 6,")
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:9000", "{UPSTREAM}");
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_in(&text, up.addr, &dir);
    let invalid = "Your request did not pass validation. One or more fields in the request body are \
                   missing or have invalid values. See `validation_errors` for the specific field and \
                   retry with corrected values.";
    let more = |anchor: &str| format!("https://soniox.com/docs/api-reference/errors#{anchor}");

    // 256 characters (512 bytes): accepted, counted in characters.
    let mp3 = fixture("media/tone.mp3");
    let form = Form::new("sx")
        .field("client_reference_id", &"é".repeat(256))
        .file("file", "tone.mp3", "audio/mpeg", &mp3);
    assert_eq!(upload(&gw, "/v1/files", Some(&k), form).status, 201);
    assert!(up.wait_for(1)[0].complete);

    let no_file = Form::new("sx").field("client_reference_id", "abc");
    let r = upload(&gw, "/v1/files", Some(&k), no_file);
    assert_eq!(r.status, 400);
    assert_eq!(
        envelope(&r),
        serde_json::json!({
            "status_code": 400,
            "error_type": "invalid_request",
            "message": invalid,
            "validation_errors": [{"error_type": "missing", "location": "file.file", "message": "Field required"}],
            "more_info": more("invalid-request")
        })
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body).find("\"status_code\""),
        Some(1),
        "the page's field order"
    );

    let long = Form::new("sx")
        .field("client_reference_id", &"é".repeat(257))
        .file("file", "tone.mp3", "audio/mpeg", &mp3);
    let r = upload(&gw, "/v1/files", Some(&k), long);
    let v = envelope(&r);
    assert_eq!(
        (r.status, &v["error_type"]),
        (400, &serde_json::json!("invalid_request"))
    );
    assert_eq!(
        v["validation_errors"],
        serde_json::json!([{"error_type": "string_too_long", "location": "client_reference_id",
            "message": "String should have at most 256 characters"}])
    );

    let r = upload(
        &gw,
        "/v1/files",
        Some("not-a-key"),
        Form::new("sx").file("file", "t.mp3", "audio/mpeg", &mp3),
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        envelope(&r),
        serde_json::json!({
            "status_code": 401,
            "error_type": "unauthenticated",
            "message": "Incorrect API key provided. You can get an API key at https://console.soniox.com",
            "validation_errors": [],
            "more_info": more("unauthenticated")
        })
    );
    assert_eq!(up.received().iter().filter(|r| r.complete).count(), 1);

    // The per-minute request limit: limit_exceeded, naming the limit.
    let limited = (0..10)
        .map(|_| {
            upload(
                &gw,
                "/v1/files",
                Some(&k),
                Form::new("sx").file("file", "t.mp3", "audio/mpeg", &mp3),
            )
        })
        .find(|r| r.status == 429)
        .expect("the request limit is reached");
    let v = envelope(&limited);
    assert_eq!(v["error_type"], "limit_exceeded");
    assert_eq!(v["more_info"], more("limit-exceeded"));
    assert!(v["message"].as_str().unwrap().contains("requests"), "{v}");
}
