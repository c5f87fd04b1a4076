use super::*;

fn b64(json: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json)
}

const POLICY: &str = r#"{"expiration": "2026-12-07T06:00:00.000Z", "conditions": [["content-length-range", 1, 100000], ["starts-with", "$Content-Type", "image/"], {"bucket": "media"}, {"key": "up.jpg"}]}"#;

fn fields(policy: &str, extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut f: Vec<(String, Vec<u8>)> = [
        ("key", "up.jpg".to_string()),
        ("Content-Type", "image/jpeg".to_string()),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_string()),
        (
            "X-Amz-Credential",
            "AKIDA/20261207/us-east-1/s3/aws4_request".to_string(),
        ),
        ("x-amz-date", "20261207T054130Z".to_string()),
        ("policy", b64(policy)),
        ("x-amz-signature", "ab".repeat(32)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_bytes()))
    .collect();
    f.extend(
        extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
    );
    f
}

#[test]
fn the_form_and_its_policy_are_read() {
    let form = read_form(&fields(POLICY, &[])).unwrap();
    assert_eq!(form.access_key, "AKIDA");
    assert_eq!(form.day_and_region(), ("20261207", "us-east-1"));
    assert_eq!(form.expires, 1_796_623_200);
    assert_eq!(form.length, Some((1, 100_000)));
    assert_eq!(form.types, vec![TypeCondition::StartsWith("image/".into())]);
    assert_eq!(form.content_type.as_deref(), Some("image/jpeg"));
    let eq = r#"{"expiration": "2026-12-07T06:00:00Z", "conditions": [{"Content-Type": "image/PNG"}, ["eq", "$content-type", "image/png"], ["content-length-range", "0", "10"]]}"#;
    let form = read_form(&fields(eq, &[])).unwrap();
    assert_eq!(
        form.types,
        vec![
            TypeCondition::Eq("image/png".into()),
            TypeCondition::Eq("image/png".into())
        ]
    );
    assert_eq!(form.length, Some((0, 10)));
}

#[test]
fn malformed_forms_are_refused() {
    for (what, f) in [
        ("no policy", {
            let mut f = fields(POLICY, &[]);
            f.retain(|(k, _)| k != "policy");
            f
        }),
        (
            "two credentials",
            fields(
                POLICY,
                &[(
                    "x-amz-credential",
                    "AKIDB/20261207/us-east-1/s3/aws4_request",
                )],
            ),
        ),
        ("not base64", {
            let mut f = fields(POLICY, &[]);
            f[5].1 = b"%%%".to_vec();
            f
        }),
        ("no expiration", fields(r#"{"conditions": []}"#, &[])),
        (
            "no conditions",
            fields(r#"{"expiration": "2026-12-07T06:00:00Z"}"#, &[]),
        ),
        (
            "two ranges",
            fields(
                r#"{"expiration": "2026-12-07T06:00:00Z", "conditions": [["content-length-range", 1, 2], ["content-length-range", 1, 3]]}"#,
                &[],
            ),
        ),
        (
            "a bad range",
            fields(
                r#"{"expiration": "2026-12-07T06:00:00Z", "conditions": [["content-length-range", -1, "x"]]}"#,
                &[],
            ),
        ),
        (
            "a bad condition",
            fields(
                r#"{"expiration": "2026-12-07T06:00:00Z", "conditions": [7]}"#,
                &[],
            ),
        ),
        ("sigv2", {
            let mut f = fields(POLICY, &[]);
            f[2].1 = b"AWS".to_vec();
            f
        }),
        ("a bad credential", {
            let mut f = fields(POLICY, &[]);
            f[3].1 = b"AKIDA/20261207".to_vec();
            f
        }),
    ] {
        assert!(read_form(&f).is_err(), "{what}");
    }
}

#[test]
fn the_detected_type_and_the_size_answer_to_the_policy() {
    let form = read_form(&fields(POLICY, &[])).unwrap();
    form.check_type("image/jpeg").unwrap();
    // Declared image/jpeg, but the bytes are a PDF: a mismatch.
    assert_eq!(
        form.check_type("application/pdf").unwrap_err().code(),
        "content_mismatch"
    );
    // Declared application/pdf under a starts-with image/ policy: the detected type fails it.
    let mut pdf = form.clone();
    pdf.content_type = Some("application/pdf".into());
    assert_eq!(
        pdf.check_type("application/pdf").unwrap_err().code(),
        "forbidden"
    );
    pdf.content_type = None;
    assert_eq!(
        pdf.check_type("application/pdf").unwrap_err().code(),
        "forbidden"
    );
    let mut eq = form.clone();
    eq.types = vec![TypeCondition::Eq("image/png".into())];
    eq.content_type = None;
    eq.check_type("image/png").unwrap();
    assert!(eq.check_type("image/jpeg").is_err());
    form.check_size(100_000, true).unwrap();
    form.check_size(0, false).unwrap();
    assert_eq!(
        form.check_size(100_001, false).unwrap_err().code(),
        "too_large"
    );
    assert_eq!(form.check_size(0, true).unwrap_err().code(), "bad_request");
}
