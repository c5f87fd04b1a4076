use super::file::ErrorProfileFile;
use super::*;
use crate::rejection::Rejection;

fn profile(toml_text: &str) -> ErrorProfile {
    let f: ErrorProfileFile = toml::from_str(toml_text).unwrap();
    ErrorProfile::from_config(&f, "errors.t").unwrap()
}

fn body(r: &Rendered) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

const ID: &str = "3d37a3bd5078447ea369b204e3bbedda";

fn missing_file() -> Rejection {
    Rejection::field(
        "file",
        true,
        "missing",
        "required field \"file\" is missing".into(),
    )
}

#[test]
fn nested_is_the_gateway_default() {
    let r = Rejection::ContentMismatch {
        declared: "image/png".into(),
        detected: "application/pdf".into(),
    };
    let out = ErrorProfile::default().render(&r, ID);
    assert_eq!((out.status, out.content_type), (415, "application/json"));
    assert_eq!(body(&out)["error"]["code"], "content_mismatch");
    assert_eq!(body(&out)["error"]["detected"], "application/pdf");
    assert_eq!(body(&out)["error"]["request_id"], ID);
}

#[test]
fn mapped_codes_take_the_backends_status_code_and_message_without_gateway_details() {
    let p = profile(
        r#"
request_id_field = ""
[codes.content_mismatch]
status = 400
code = "bad_request"
message = "file content does not match its declared type"
"#,
    );
    let r = Rejection::ContentMismatch {
        declared: "image/png".into(),
        detected: "application/pdf".into(),
    };
    let out = p.render(&r, ID);
    assert_eq!(out.status, 400);
    assert_eq!(
        body(&out),
        json!({"error": {"code": "bad_request", "message": "file content does not match its declared type"}})
    );
}

#[test]
fn every_mapped_code_carries_only_the_profiles_fields() {
    let p = profile(
        r#"
request_id_field = ""
[codes.rate_limited]
code = "rate_limit_exceeded"
message = "Too many requests."
[codes.quota_exceeded]
code = "quota_exceeded"
message = "Quota exceeded."
[codes.forbidden]
code = "forbidden"
message = "No."
"#,
    );
    for r in [
        Rejection::RateLimited {
            metric: "requests",
            retry_after_secs: 3,
        },
        Rejection::QuotaExceeded {
            metric: "storage_bytes",
            used: 1,
            limit: 2,
        },
        Rejection::Forbidden {
            message: "missing".into(),
            missing_scopes: vec!["media:write".into()],
        },
    ] {
        let v = body(&p.render(&r, ID));
        let keys: Vec<&String> = v["error"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "message"], "{}", r.code());
    }
}

#[test]
fn flat_is_a_string() {
    let p =
        profile("format = \"flat\"\n[codes.too_large]\nstatus = 400\nmessage = \"File too large\"");
    let out = p.render(&Rejection::TooLarge("x".into()), ID);
    assert_eq!(
        (out.status, body(&out)),
        (400, json!({"error": "File too large"}))
    );
}

#[test]
fn problem_has_violations_and_missing_permissions() {
    let p = profile(
        "format = \"problem\"\nrequest_id_field = \"\"\n[codes.validation_error]\nstatus = 422",
    );
    let out = p.render(&missing_file(), ID);
    assert_eq!(out.content_type, "application/problem+json");
    assert_eq!(
        body(&out),
        json!({
            "type": "about:blank",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": "required field \"file\" is missing",
            "violations": [{"propertyPath": "file", "message": "required field \"file\" is missing", "code": "missing"}]
        })
    );
    let forbidden = Rejection::Forbidden {
        message: "missing scope".into(),
        missing_scopes: vec!["media:write".into()],
    };
    let v = body(&p.render(&forbidden, ID));
    assert_eq!(v["missingPermissions"], json!(["media:write"]));
    assert_eq!(v["status"], 403);
}

#[test]
fn envelope_locates_file_fields_and_formats_the_id_as_a_uuid() {
    let p = profile(
        r#"
format = "envelope"
request_id_format = "uuid"
file_location = "file.{field}"
[codes.validation_error]
status = 400
code = "invalid_request"
message = "Your request did not pass validation."
fields = { more_info = "https://soniox.com/docs/api-reference/errors#invalid-request" }
"#,
    );
    let out = p.render(&missing_file(), ID);
    assert_eq!(
        body(&out),
        json!({
            "status_code": 400,
            "error_type": "invalid_request",
            "message": "Your request did not pass validation.",
            "validation_errors": [{"error_type": "missing", "location": "file.file", "message": "required field \"file\" is missing"}],
            "request_id": "3d37a3bd-5078-447e-a369-b204e3bbedda",
            "more_info": "https://soniox.com/docs/api-reference/errors#invalid-request"
        })
    );
    let unauth = body(&p.render(&Rejection::Unauthorized("bad key".into()), ID));
    assert_eq!(unauth["validation_errors"], json!([]));
    assert_eq!(unauth["status_code"], 401);
}

#[test]
fn constant_fields_go_inside_a_nested_error_and_ids_can_be_prefixed() {
    let p = profile(
        r#"
request_id_field = "requestId"
request_id_format = "req_prefix"
fields = { type = "invalid_request_error" }
"#,
    );
    let v = body(&p.render(&Rejection::BadRequest("bad".into()), "abc123"));
    assert_eq!(
        v,
        json!({"error": {"code": "bad_request", "message": "bad", "requestId": "req_abc123", "type": "invalid_request_error"}})
    );
}

#[test]
fn mistakes_are_config_errors() {
    let f: ErrorProfileFile =
        toml::from_str("format = \"xml\"\n[codes.nope]\nstatus = 200").unwrap();
    let e = ErrorProfile::from_config(&f, "errors.t").unwrap_err();
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "errors.t.format",
            "errors.t.codes.nope",
            "errors.t.codes.nope.status"
        ]
    );
}

#[test]
fn timestamps_are_rfc3339_utc_with_milliseconds() {
    use std::time::{Duration, UNIX_EPOCH};
    let t = UNIX_EPOCH + Duration::from_millis(1_772_280_000_000);
    assert_eq!(timestamp(t), "2026-02-28T12:00:00.000Z");
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_millis(951_782_400_123)),
        "2000-02-29T00:00:00.123Z"
    );
    let p = profile("timestamp_field = \"timestamp\"");
    let v = body(&p.render(&Rejection::NotFound, ID));
    assert_eq!(v["error"]["timestamp"].as_str().unwrap().len(), 24);
}

// The gateway's own format (no profile): code, message, request id and its detail fields.
#[test]
fn body_carries_code_message_and_request_id() {
    let r = Rejection::ContentMismatch {
        declared: "image/jpeg".into(),
        detected: "image/png".into(),
    };
    let v: serde_json::Value =
        serde_json::from_slice(&ErrorProfile::default().render(&r, "rid-1").body).unwrap();
    assert_eq!(v["error"]["code"], "content_mismatch");
    assert_eq!(v["error"]["request_id"], "rid-1");
    assert_eq!(v["error"]["detected"], "image/png");
    assert_eq!(r.status(), 415);
}

#[test]
fn quota_exceeded_names_the_metric_like_media_apis_do() {
    let r = Rejection::QuotaExceeded {
        metric: "storage_bytes",
        used: 900,
        limit: 1000,
    };
    let v: serde_json::Value =
        serde_json::from_slice(&ErrorProfile::default().render(&r, "rid").body).unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(
        v["error"]["message"],
        "tier quota exceeded for storage_bytes"
    );
    assert_eq!(v["error"]["metric"], "storage_bytes");
    assert_eq!(
        v["error"]["quotas"],
        serde_json::json!([{"metric":"storage_bytes","used":900,"limit":1000,"cumulative":true}])
    );
}

#[test]
fn s3_answers_with_its_xml_document_codes_and_statuses() {
    let p = profile("format = \"s3\"");
    let cases = [
        (
            Rejection::ContentMismatch {
                declared: "image/png".into(),
                detected: "application/x-executable".into(),
            },
            "InvalidArgument",
            400,
        ),
        (Rejection::TooLarge("over".into()), "EntityTooLarge", 400),
        (Rejection::Unauthorized("no".into()), "AccessDenied", 403),
        (
            Rejection::RateLimited {
                metric: "requests",
                retry_after_secs: 3,
            },
            "SlowDown",
            503,
        ),
        (Rejection::Internal("x".into()), "InternalError", 500),
    ];
    for (r, code, status) in cases {
        let out = p.render(&r, ID);
        let xml = String::from_utf8(out.body).unwrap();
        assert_eq!((out.status, out.content_type), (status, "application/xml"));
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
        assert!(xml.contains(&format!("<Code>{code}</Code>")), "{xml}");
        assert!(
            xml.ends_with(&format!("<RequestId>{ID}</RequestId></Error>")),
            "{xml}"
        );
    }
    // Messages are character data; a mapping still wins.
    let out = p.render(&Rejection::BadRequest("a <b> & \"c\"\u{1}".into()), ID);
    let xml = String::from_utf8(out.body).unwrap();
    assert!(
        xml.contains("<Message>a &lt;b&gt; &amp; &quot;c&quot;\u{fffd}</Message>"),
        "{xml}"
    );
    let p =
        profile("format = \"s3\"\n[codes.too_large]\ncode = \"EntityTooLarge\"\nstatus = 413\n");
    assert_eq!(p.render(&Rejection::TooLarge("x".into()), ID).status, 413);
}
