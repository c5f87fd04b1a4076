use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

const V: (&str, &str) = ("tus-resumable", "1.0.0");

#[test]
fn creation_reads_length_and_metadata() {
    let h = headers(&[
        V,
        ("upload-length", "1024"),
        (
            "upload-metadata",
            "filename YS5wbmc=,filetype aW1hZ2UvcG5n,is_confidential",
        ),
    ]);
    assert_eq!(
        ask("POST", &h, None).unwrap(),
        Ask::Create {
            length: Some(1024),
            meta: Metadata {
                filename: Some("a.png".into()),
                filetype: Some("image/png".into()),
            },
            with_upload: false,
        }
    );
    let deferred = headers(&[V, ("upload-defer-length", "1")]);
    assert!(matches!(
        ask("POST", &deferred, None).unwrap(),
        Ask::Create { length: None, .. }
    ));
    let with_body = headers(&[
        V,
        ("upload-length", "10"),
        ("content-type", "application/offset+octet-stream"),
    ]);
    assert!(matches!(
        ask("POST", &with_body, Some(10)).unwrap(),
        Ask::Create {
            with_upload: true,
            ..
        }
    ));
}

#[test]
fn malformed_requests_are_refused() {
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        ("POST", vec![("upload-length", "1")], 412),
        (
            "POST",
            vec![("tus-resumable", "0.2.2"), ("upload-length", "1")],
            412,
        ),
        ("POST", vec![V], 400),
        ("POST", vec![V, ("upload-length", "-1")], 400),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("upload-length", "2")],
            400,
        ),
        (
            "POST",
            vec![V, ("upload-length", "99999999999999999999")],
            400,
        ),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("upload-defer-length", "1")],
            400,
        ),
        ("POST", vec![V, ("upload-defer-length", "0")], 400),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("upload-metadata", "a b c")],
            400,
        ),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("upload-metadata", "a !!")],
            400,
        ),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("upload-metadata", "a,a")],
            400,
        ),
        (
            "POST",
            vec![V, ("upload-concat", "final;/files/a /files/b")],
            403,
        ),
        (
            "POST",
            vec![V, ("upload-length", "1"), ("content-type", "image/png")],
            415,
        ),
        ("PATCH", vec![V, ("upload-offset", "0")], 415),
        (
            "PATCH",
            vec![V, ("content-type", "application/offset+octet-stream")],
            400,
        ),
        ("HEAD", vec![], 412),
    ];
    for (method, pairs, status) in cases {
        let r = ask(method, &headers(&pairs), Some(1)).unwrap_err();
        assert_eq!(r.status(), status, "{method} {pairs:?}: {r:?}");
    }
    assert_eq!(ask("OPTIONS", &headers(&[]), None).unwrap(), Ask::Other);
    assert_eq!(ask("GET", &headers(&[]), None).unwrap(), Ask::Get);
}

#[test]
fn a_patch_carries_its_offset_and_maybe_the_deferred_length() {
    let h = headers(&[
        V,
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", "65536"),
        ("upload-length", "100000"),
    ]);
    assert_eq!(
        ask("PATCH", &h, Some(34464)).unwrap(),
        Ask::Patch {
            offset: 65536,
            length: Some(100_000)
        }
    );
}

#[test]
fn keys_are_per_tenant_and_credential() {
    let a = state_key("org-a", "key:1", "/files/x");
    assert_ne!(a, state_key("org-b", "key:1", "/files/x"));
    assert_ne!(a, state_key("org-a", "key:2", "/files/x"));
    assert_ne!(a, state_key("org-a", "key:1", "/files/y"));
    // Lengths are part of the key: no two splits of one string collide.
    assert_ne!(state_key("ab", "c", "/"), state_key("a", "bc", "/"));
}

#[test]
fn a_location_names_a_path() {
    assert_eq!(
        location_path("http://gw:8080/files/abc?x=1").as_deref(),
        Some("/files/abc")
    );
    assert_eq!(location_path("/files/abc").as_deref(), Some("/files/abc"));
    assert_eq!(location_path("files/abc"), None);
    assert_eq!(location_path("http://gw"), None);
}

#[test]
fn a_cut_request_leaves_offsets_to_continue_from() {
    let s = UploadState {
        offset: 10,
        hash: "h10".into(),
        cut: vec![(20, "h20".into()), (30, "h30".into())],
        ..Default::default()
    };
    assert_eq!(s.hash_at(10), Some("h10"));
    assert_eq!(s.hash_at(30), Some("h30"));
    assert_eq!(s.hash_at(25), None);
}
