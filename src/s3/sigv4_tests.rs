//! AWS's own SigV4 examples (the S3 "Signature Calculations" pages: GET with Range, PUT with a
//! signed payload, a presigned GET) verify; every change to a signed part does not.

use super::super::sigv4 as parse;
use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2013-05-24T00:00:00Z, the examples' date.
const AT: u64 = 1_369_353_600;
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const GET_SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHeader {
    let mut r = RequestHeader::build(method, uri.as_bytes(), None).unwrap();
    for (k, v) in headers {
        r.append_header(k.to_string(), *v).unwrap();
    }
    r
}

fn check(r: &RequestHeader, now: u64) -> Result<(), Rejection> {
    let query = r.uri.query().unwrap_or("");
    let sig = parse(query, r)?;
    verify(&sig, r, query, SECRET, now)
}

fn get(signature: &str, edit: impl Fn(&mut Vec<(&'static str, String)>)) -> RequestHeader {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}"
    );
    let mut h: Vec<(&'static str, String)> = vec![
        ("host", HOST.into()),
        ("range", "bytes=0-9".into()),
        ("x-amz-content-sha256", EMPTY.into()),
        ("x-amz-date", "20130524T000000Z".into()),
        ("authorization", auth),
    ];
    edit(&mut h);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    request("GET", "/test.txt", &h)
}

fn code(r: Result<(), Rejection>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

#[test]
fn the_aws_examples_verify() {
    assert_eq!(code(check(&get(GET_SIG, |_| {}), AT)), "ok");
    let put = request(
        "PUT",
        "/test$file.text",
        &[
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", HOST),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ],
    );
    assert_eq!(code(check(&put, AT)), "ok");
    // The same path sent encoded canonicalises the same.
    let mut encoded = put.clone();
    encoded.set_uri("/test%24file.text".parse().unwrap());
    assert_eq!(code(check(&encoded, AT)), "ok");
    let presigned = request("GET", &format!("/test.txt?{PRESIGNED}"), &[("host", HOST)]);
    assert_eq!(code(check(&presigned, AT + 3600)), "ok");
    // Header values are trimmed and inner runs of spaces collapsed, as the client did.
    let spaced = get(GET_SIG, |h| h[1].1 = "  bytes=0-9 ".into());
    assert_eq!(code(check(&spaced, AT)), "ok");
}

#[test]
fn a_change_to_anything_signed_is_a_mismatch() {
    let cases: Vec<(&str, RequestHeader)> = vec![
        ("range", get(GET_SIG, |h| h[1].1 = "bytes=0-99".into())),
        (
            "host",
            get(GET_SIG, |h| h[0].1 = "other.s3.amazonaws.com".into()),
        ),
        (
            "a second range",
            get(GET_SIG, |h| h.push(("range", "bytes=0-1".into()))),
        ),
        (
            "payload hash",
            get(GET_SIG, |h| h[2].1 = "UNSIGNED-PAYLOAD".into()),
        ),
        ("signature", get(&GET_SIG.replace('f', "e"), |_| {})),
    ];
    for (what, r) in cases {
        assert_eq!(code(check(&r, AT)), "signature_mismatch", "{what}");
    }
    let mut method = get(GET_SIG, |_| {});
    method.set_method(pingora::http::Method::HEAD);
    assert_eq!(code(check(&method, AT)), "signature_mismatch");
    let mut path = get(GET_SIG, |_| {});
    path.set_uri("/test.txt2".parse().unwrap());
    assert_eq!(code(check(&path, AT)), "signature_mismatch");
    let mut query = get(GET_SIG, |_| {});
    query.set_uri("/test.txt?acl".parse().unwrap());
    assert_eq!(code(check(&query, AT)), "signature_mismatch");
    let r = get(GET_SIG, |_| {});
    let sig = parse("", &r).unwrap();
    assert_eq!(
        code(verify(&sig, &r, "", "another-secret", AT)),
        "signature_mismatch"
    );
    // A presigned URL's query is signed too.
    let extra = request(
        "GET",
        &format!("/test.txt?{PRESIGNED}&versionId=1"),
        &[("host", HOST)],
    );
    assert_eq!(code(check(&extra, AT)), "signature_mismatch");
}

#[test]
fn malformed_signatures_are_refused_not_guessed() {
    for (what, sig) in [
        ("short", "f0e8"),
        ("upper-case hex", &GET_SIG.to_ascii_uppercase()[..]),
        ("not hex", &GET_SIG.replace('f', "g")[..]),
        ("missing", ""),
    ] {
        assert_eq!(
            code(check(&get(sig, |_| {}), AT)),
            "signature_mismatch",
            "{what}"
        );
    }
    let no_hash = get(GET_SIG, |h| {
        h.remove(2);
    });
    assert_eq!(code(check(&no_hash, AT)), "bad_request");
    let no_date = get(GET_SIG, |h| {
        h.remove(3);
    });
    assert_eq!(code(check(&no_date, AT)), "bad_request");
    let bad_date = get(GET_SIG, |h| h[3].1 = "2013-05-24T00:00:00Z".into());
    assert_eq!(code(check(&bad_date, AT)), "bad_request");
    let host_unsigned = request(
        "GET",
        &format!(
            "/test.txt?{}",
            PRESIGNED.replace("SignedHeaders=host", "SignedHeaders=range")
        ),
        &[("host", HOST), ("range", "bytes=0-9")],
    );
    assert_eq!(code(check(&host_unsigned, AT)), "signature_mismatch");
    let other_service = get(GET_SIG, |h| {
        h[4].1 = h[4].1.replace("/s3/", "/iam/");
    });
    assert_eq!(code(check(&other_service, AT)), "signature_mismatch");
    let other_day = get(GET_SIG, |h| {
        h[4].1 = h[4].1.replace("20130524/", "20130525/");
    });
    assert_eq!(code(check(&other_day, AT)), "signature_mismatch");
}

#[test]
fn time_bounds_hold() {
    let r = get(GET_SIG, |_| {});
    assert_eq!(code(check(&r, AT + 900)), "ok");
    assert_eq!(code(check(&r, AT - 900)), "ok");
    assert_eq!(code(check(&r, AT + 901)), "forbidden");
    assert_eq!(code(check(&r, AT - 901)), "forbidden");
    let presigned = request("GET", &format!("/test.txt?{PRESIGNED}"), &[("host", HOST)]);
    assert_eq!(code(check(&presigned, AT + 86_400)), "ok");
    assert_eq!(code(check(&presigned, AT + 86_401)), "forbidden");
    assert_eq!(code(check(&presigned, AT - 901)), "forbidden");
    for expires in ["0", "604801", "-1", "x"] {
        let q = PRESIGNED.replace("X-Amz-Expires=86400", &format!("X-Amz-Expires={expires}"));
        let r = request("GET", &format!("/test.txt?{q}"), &[("host", HOST)]);
        assert_eq!(code(check(&r, AT)), "bad_request", "{expires}");
    }
}

#[test]
fn over_http2_the_host_is_the_authority() {
    let mut r = request("GET", "/", &[]);
    r.set_uri(
        format!("http://{HOST}/test.txt?{PRESIGNED}")
            .parse()
            .unwrap(),
    );
    r.set_version(pingora::http::Version::HTTP_2);
    assert_eq!(code(check(&r, AT)), "ok");
}

#[test]
fn amz_dates_parse_exactly() {
    assert_eq!(amz_date("20130524T000000Z"), Some(AT));
    for bad in [
        "20130524T000000",
        "2013052T000000ZZ",
        "20130524 000000Z",
        "2013052éT00000Z",
    ] {
        assert_eq!(amz_date(bad), None, "{bad}");
    }
}

#[test]
fn what_the_gateway_signs_verifies() {
    let mut r = request(
        "DELETE",
        "/media/v%20x.mp4?uploadId=a%2Fb%3D",
        &[("host", HOST)],
    );
    sign(&mut r, "AKIAIOSFODNN7EXAMPLE", SECRET, "eu-west-1", AT).unwrap();
    assert_eq!(code(check(&r, AT)), "ok");
    assert_eq!(code(check(&r, AT + 901)), "forbidden");
    let mut other = r.clone();
    other.set_method(pingora::http::Method::GET);
    assert_eq!(code(check(&other, AT)), "signature_mismatch");
}

#[test]
fn a_post_forms_signature_is_its_policy_signed_with_the_scopes_key() {
    let policy = "eyJleHBpcmF0aW9uIjogIjIwMTMtMDUtMjVUMDA6MDA6MDBaIn0=";
    let key = signing_key(SECRET, "20130524", "us-east-1");
    let good = hex::encode(hmac(&key, policy.as_bytes()).finalize().into_bytes());
    let form = |signature: &str, date: &str| super::super::post::Form {
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        date: date.into(),
        signature: signature.into(),
        policy: policy.into(),
        expires: AT,
        types: Vec::new(),
        length: None,
        content_type: None,
    };
    assert_eq!(
        code(verify_post(&form(&good, "20130524T000000Z"), SECRET)),
        "ok"
    );
    for (what, f, secret) in [
        ("another secret", form(&good, "20130524T000000Z"), "other"),
        (
            "upper-case",
            form(&good.to_ascii_uppercase(), "20130524T000000Z"),
            SECRET,
        ),
        ("short", form(&good[..62], "20130524T000000Z"), SECRET),
        ("another day", form(&good, "20130525T000000Z"), SECRET),
    ] {
        assert_eq!(
            code(verify_post(&f, secret)),
            "signature_mismatch",
            "{what}"
        );
    }
    let mut other_policy = form(&good, "20130524T000000Z");
    other_policy.policy.push('x');
    assert_eq!(
        code(verify_post(&other_policy, SECRET)),
        "signature_mismatch"
    );
}

#[test]
fn uri_encoding_keeps_only_unreserved_bytes_and_decoding_refuses_broken_escapes() {
    let encode = |s: &str, slash: bool| {
        let mut out = String::new();
        uri_encode(&mut out, s, slash);
        out
    };
    assert_eq!(encode("a-b_c.d~e/f g+é", false), "a-b_c.d~e/f%20g%2B%C3%A9");
    assert_eq!(encode("a/b=c&d", true), "a%2Fb%3Dc%26d");
    assert_eq!(percent_decode("/a%2Fb+c%C3%A9").as_deref(), Some("/a/b+cé"));
    for broken in ["/a%", "/a%2", "/a%zz", "/a%+1", "/a%%41", "/a%FF"] {
        assert_eq!(percent_decode(broken), None, "{broken}");
    }
}
