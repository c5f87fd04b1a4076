use super::*;
use pingora::http::RequestHeader;
use std::path::Path;

fn rules() -> S3Rules {
    let f: S3File = toml::from_str(
        "access_keys = { AKIDA = \"orgA\", AKIDB = \"orgB\" }\ndomains = [\"s3.test\"]",
    )
    .unwrap();
    S3Rules::from_config(&f, "routes[0].s3", Path::new(".")).unwrap()
}

const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDA%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261206T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=00";

fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHeader {
    let mut r = RequestHeader::build(method, uri.as_bytes(), None).unwrap();
    r.insert_header("host", "127.0.0.1:9000").unwrap();
    for (k, v) in headers {
        r.append_header(k.to_string(), *v).unwrap();
    }
    r
}

fn header_auth(signed: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDB/20261206/us-east-1/s3/aws4_request, \
         SignedHeaders={signed}, Signature=00"
    )
}

#[test]
fn the_credential_scope_names_the_tenant() {
    let r = req(
        "PUT",
        &format!("/b/k.png?{PRESIGNED}"),
        &[("content-type", "image/png")],
    );
    let c = rules().check(&r, true).unwrap();
    assert_eq!(
        (c.access_key.as_str(), c.tenant.as_str()),
        ("AKIDA", "orgA")
    );
    let auth = header_auth("host;x-amz-content-sha256;x-amz-date");
    let r = req(
        "PUT",
        "/b/k.png",
        &[
            ("authorization", &auth),
            ("x-amz-date", "20261206T120000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    assert_eq!(rules().check(&r, true).unwrap().tenant, "orgB");
}

#[test]
fn unsigned_amz_headers_in_any_spelling_are_refused() {
    for (name, value) in [
        ("x-amz-copy-source", "/other/secret.png"),
        ("X-Amz-Meta-Owner", "x"),
        ("x_amz_copy_source", "/other/secret.png"),
        ("X_AMZ_ACL", "public-read"),
    ] {
        let r = req(
            "PUT",
            &format!("/b/k.png?{PRESIGNED}"),
            &[("content-type", "image/png"), (name, value)],
        );
        let e = rules().check(&r, true).unwrap_err();
        assert_eq!(e.code(), "forbidden", "{name}");
    }
    // Signed ones pass the check (a signed copy source is refused as a copy, below).
    let auth = header_auth("host;x-amz-date;x-amz-meta-owner");
    let r = req(
        "PUT",
        "/b/k",
        &[
            ("authorization", &auth),
            ("x-amz-date", "1"),
            ("x-amz-meta-owner", "me"),
        ],
    );
    assert!(rules().check(&r, true).is_ok());
}

#[test]
fn credentials_must_be_sigv4_known_and_unambiguous() {
    let cases: Vec<(RequestHeader, &str)> = vec![
        (req("PUT", "/b/k", &[]), "unauthorized"),
        (
            req("PUT", "/b/k", &[("authorization", "AWS AKIDA:c2ln")]),
            "forbidden",
        ),
        (
            req(
                "PUT",
                "/b/k",
                &[(
                    "authorization",
                    &header_auth("host").replace("AKIDB", "AKIDX"),
                )],
            ),
            "forbidden",
        ),
        (
            req(
                "PUT",
                &format!("/b/k?{PRESIGNED}"),
                &[("authorization", &header_auth("host"))],
            ),
            "bad_request",
        ),
        (
            req(
                "PUT",
                &format!("/b/k?{PRESIGNED}&X-Amz-Credential=AKIDB%2Fd%2Fr%2Fs3%2Faws4_request"),
                &[],
            ),
            "bad_request",
        ),
        (
            req(
                "PUT",
                "/b/k",
                &[
                    ("authorization", &header_auth("host")),
                    ("authorization", &header_auth("host")),
                ],
            ),
            "bad_request",
        ),
        (
            req(
                "PUT",
                "/b/k",
                &[(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDA/x, SignedHeaders=host, Signature=0",
                )],
            ),
            "bad_request",
        ),
        (
            req(
                "PUT",
                &format!(
                    "/b/k?{}",
                    PRESIGNED.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
                ),
                &[],
            ),
            "forbidden",
        ),
    ];
    for (i, (r, code)) in cases.into_iter().enumerate() {
        let e = rules().check(&r, false).unwrap_err();
        assert_eq!(e.code(), code, "case {i}: {e:?}");
    }
}

#[test]
fn an_inspected_route_lets_only_object_uploads_through() {
    let auth = header_auth("host;x-amz-copy-source;x-amz-date");
    let refused = [
        req(
            "PUT",
            &format!("/b/k?partNumber=1&uploadId=u&{PRESIGNED}"),
            &[("content-type", "image/png")],
        ),
        req(
            "PUT",
            &format!("/b/k?acl&{PRESIGNED}"),
            &[("content-type", "image/png")],
        ),
        req(
            "PUT",
            &format!("/b?{PRESIGNED}"),
            &[("content-type", "image/png")],
        ),
        req(
            "PUT",
            &format!("/b/?{PRESIGNED}"),
            &[("content-type", "image/png")],
        ),
        req(
            "POST",
            &format!("/b/k?{PRESIGNED}"),
            &[("content-type", "image/png")],
        ),
        req(
            "PUT",
            "/b/k",
            &[
                ("authorization", &auth),
                ("x-amz-copy-source", "/b/o"),
                ("x-amz-date", "1"),
            ],
        ),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert_eq!(
            rules().check(r, true).unwrap_err().code(),
            "forbidden",
            "case {i}"
        );
        // A route that does not inspect (reads, deletes) lets the operation through.
        assert!(rules().check(r, false).is_ok(), "case {i}");
    }
    // Virtual-hosted style: the bucket is in Host, the whole path is the key.
    let mut r = req(
        "PUT",
        &format!("/k.png?x-id=PutObject&{PRESIGNED}"),
        &[("content-type", "image/png")],
    );
    r.insert_header("host", "bucket.s3.test:9000").unwrap();
    assert!(rules().check(&r, true).is_ok());
    let mut r = req(
        "PUT",
        &format!("/?{PRESIGNED}"),
        &[("content-type", "image/png")],
    );
    r.insert_header("host", "bucket.s3.test").unwrap();
    assert!(rules().check(&r, true).is_err(), "a bucket, not an object");
}

#[test]
fn with_multipart_the_upload_operations_pass_and_copies_still_do_not() {
    let f: S3File = toml::from_str(
        "access_keys = { AKIDA = \"orgA\" }\ndomains = [\"s3.test\"]\nmultipart = true",
    )
    .unwrap();
    let mpu = S3Rules::from_config(&f, "s3", Path::new(".")).unwrap();
    let op = |method: &str, query: &str, extra: &[(&str, &str)]| {
        let r = req(method, &format!("/b/k.mp4?{query}{PRESIGNED}"), extra);
        mpu.check(&r, true).map(|c| c.op)
    };
    let ct = [("content-type", "image/png")];
    assert_eq!(
        op("POST", "uploads&", &ct).unwrap(),
        Some(multipart::Op::Create)
    );
    assert_eq!(
        op("PUT", "partNumber=2&uploadId=u&", &ct).unwrap(),
        Some(multipart::Op::Part {
            number: 2,
            upload_id: "u".into()
        })
    );
    assert_eq!(
        op("POST", "uploadId=u&", &ct).unwrap(),
        Some(multipart::Op::Complete {
            upload_id: "u".into()
        })
    );
    assert_eq!(
        mpu.check(&req("PUT", &format!("/b/k?{PRESIGNED}"), &ct), true)
            .unwrap()
            .region,
        "us-east-1"
    );
    // UploadPartCopy, a delete of many objects, a part without its upload: refused.
    let auth = header_auth("host;x-amz-copy-source;x-amz-date");
    let copy = req(
        "PUT",
        "/b/k?partNumber=1&uploadId=u",
        &[
            ("authorization", &auth),
            ("x-amz-copy-source", "/b/o"),
            ("x-amz-date", "1"),
        ],
    );
    assert_eq!(mpu.check(&copy, true).unwrap_err().code(), "forbidden");
    for (m, q) in [
        ("POST", "delete&"),
        ("PUT", "partNumber=1&"),
        ("POST", "uploads&uploadId=u&"),
    ] {
        assert_eq!(op(m, q, &ct).unwrap_err().code(), "forbidden", "{m} ?{q}");
    }
    // Without multipart, the same operations are refused.
    assert_eq!(
        rules()
            .check(
                &req("POST", &format!("/b/k?uploads&{PRESIGNED}"), &ct),
                true
            )
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

#[test]
fn configuration_names_keys_and_valid_tenants() {
    for text in [
        "access_keys = {}",
        "access_keys = { K = \"~x\" }",
        "access_keys = { K = \"\" }",
    ] {
        let f: S3File = toml::from_str(text).unwrap();
        assert!(
            S3Rules::from_config(&f, "s3", Path::new(".")).is_err(),
            "{text}"
        );
    }
}

#[test]
fn secrets_name_listed_keys_all_of_them_from_one_source() {
    let dir = std::env::temp_dir().join(format!("ugw-s3-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.key"), "  secret-a\n").unwrap();
    std::fs::write(dir.join("empty.key"), "\n").unwrap();
    let load = |secrets: &str| {
        let text = format!("access_keys = {{ A = \"orgA\", B = \"orgB\" }}\n{secrets}");
        let f: S3File = toml::from_str(&text).unwrap();
        S3Rules::from_config(&f, "s3", &dir).map_err(|e| {
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let ok = load("secrets = { A = { file = \"a.key\" }, B = { env = \"HOME\" } }").unwrap();
    assert_eq!(ok.secrets["A"].0, "secret-a", "trimmed");
    assert!(!format!("{ok:?}").contains("secret-a"), "never printed");
    for (secrets, why) in [
        ("secrets = { A = { file = \"a.key\" } }", "B has no secret"),
        (
            "secrets = { A = { file = \"a.key\" }, B = { file = \"a.key\" }, C = { env = \"HOME\" } }",
            "s3.secrets.C: not an access key",
        ),
        (
            "secrets = { A = { file = \"a.key\" }, B = { env = \"UGW_SURELY_UNSET_1\" } }",
            "UGW_SURELY_UNSET_1 is not set",
        ),
        (
            "secrets = { A = { file = \"missing.key\" }, B = { env = \"HOME\" } }",
            "cannot read",
        ),
        (
            "secrets = { A = { file = \"empty.key\" }, B = { env = \"HOME\" } }",
            "s3.secrets.A: the secret key is empty",
        ),
        (
            "secrets = { A = { file = \"a.key\", env = \"HOME\" }, B = { env = \"HOME\" } }",
            "exactly one of env or file",
        ),
        (
            "secrets = { A = {}, B = { env = \"HOME\" } }",
            "exactly one of env or file",
        ),
    ] {
        let err = load(secrets).unwrap_err();
        assert!(err.contains(why), "{secrets}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
