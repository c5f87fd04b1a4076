use super::*;
use crate::multipart::Form;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test";

fn settings() -> VerdictSettings {
    VerdictSettings {
        key: KEY.to_vec(),
        field: "upload_gateway_verdict".into(),
        signature_field: "upload_gateway_verdict_signature".into(),
    }
}

fn report(bytes: &[u8]) -> FileReport {
    FileReport {
        field: "file".into(),
        filename: Some("a.png".into()),
        content_type: "image/png".into(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        dimensions: Some((2, 3)),
        scan: Some(crate::scan::Verdict::Clean),
    }
}

/// A multipart body as the backend receives it: the client's parts, then the verdict's.
fn received(file: &[u8], now: u64) -> (String, Vec<u8>) {
    let form = Form::new("bnd")
        .field("title", "x")
        .file("file", "a.png", "image/png", file);
    let ct = form.content_type();
    let body = form.finish();
    let close = body.len() - b"\r\n--bnd--\r\n".len();
    let ctx = VerdictContext {
        request_id: "rid-1".into(),
        route: "upload".into(),
        subject: Some("alice".into()),
        tenant: None,
    };
    let json = verdict_json(&ctx, &[report(file)], now);
    let mut out = body[..close].to_vec();
    out.extend_from_slice(&parts(&settings(), "bnd", &json));
    out.extend_from_slice(&body[close..]);
    (ct, out)
}

fn expect(now: u64) -> Expect<'static> {
    Expect {
        request_id: Some("rid-1"),
        max_age_secs: 300,
        now,
    }
}

#[test]
fn a_signed_verdict_verifies_and_tampering_does_not() {
    let now = 1_800_000_000;
    let (ct, body) = received(b"\x89PNG file bytes", now);
    let v = check_body(KEY, "upload_gateway_verdict", &ct, &body, &expect(now)).unwrap();
    assert_eq!(v["files"][0]["width"], 2);
    assert_eq!(v["files"][0]["scan"], "clean");
    assert_eq!(v["subject"], "alice");

    let field = "upload_gateway_verdict";
    let flip = |from: &[u8], to: &[u8]| {
        let at = body.windows(from.len()).position(|w| w == from).unwrap();
        let mut b = body.clone();
        b[at..at + to.len()].copy_from_slice(to);
        b
    };
    let tampered_file = flip(b"file bytes", b"FILE bytes");
    let e = check_body(KEY, field, &ct, &tampered_file, &expect(now)).unwrap_err();
    assert!(e.contains("not the files"), "{e}");
    let tampered_verdict = flip(b"\"alice\"", b"\"mallo\"");
    let e = check_body(KEY, field, &ct, &tampered_verdict, &expect(now)).unwrap_err();
    assert!(e.contains("signature"), "{e}");
    let e = check_body(
        b"another key of at least 32 bytes!!",
        field,
        &ct,
        &body,
        &expect(now),
    );
    assert!(e.is_err());
    let other = Expect {
        request_id: Some("rid-2"),
        ..expect(now)
    };
    assert!(
        check_body(KEY, field, &ct, &body, &other)
            .unwrap_err()
            .contains("another request")
    );
    assert!(
        check_body(KEY, field, &ct, &body, &expect(now + 301))
            .unwrap_err()
            .contains("issued")
    );
    let plain = Form::new("bnd").file("file", "a.png", "image/png", b"x");
    let e = check_body(
        KEY,
        field,
        &plain.content_type(),
        &plain.finish(),
        &expect(now),
    );
    assert!(e.unwrap_err().contains("no upload_gateway_verdict"));
}

#[test]
fn settings_need_a_long_key_and_a_token_field() {
    let dir = std::env::temp_dir().join(format!("ugw-verdict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("short.key"), "short\n").unwrap();
    std::fs::write(dir.join("ok.key"), format!("{}\n", "k".repeat(40))).unwrap();
    let f = |s: &str| {
        VerdictSettings::from_config(&toml::from_str(s).unwrap(), "routes[0].verdict", &dir)
    };
    assert!(f("key_file = \"short.key\"").is_err());
    assert!(f("key_file = \"missing.key\"").is_err());
    assert!(f("").is_err());
    assert!(f("key_file = \"ok.key\"\nfield = \"a b\"").is_err());
    let ok = f("key_file = \"ok.key\"").unwrap();
    assert_eq!(ok.key.len(), 40, "trailing newline trimmed");
    assert!(ok.reserves("upload_gateway_verdict_signature"));
    let _ = std::fs::remove_dir_all(&dir);
}
