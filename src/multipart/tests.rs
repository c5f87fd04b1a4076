use super::*;
use proptest::prelude::*;

const B: &str = "XyZ-boundary";

fn body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n",
    );
    b.extend_from_slice(b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    b.extend((0..5000u32).map(|i| (i * 7 % 251) as u8));
    b.extend_from_slice(b"\r\n--XyZ-boundar not yet\r\n--XyZ-boundary--\r\n");
    b
}

/// Parses `data` split at `cuts`, merging adjacent Data events.
fn parse(data: &[u8], cuts: &[usize]) -> Result<Vec<Event>, String> {
    let mut p = Parser::new(B, 1024);
    let mut out: Vec<Event> = Vec::new();
    let mut last = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort();
    points.push(data.len());
    for cut in points {
        p.push(Bytes::copy_from_slice(&data[last..cut]));
        last = cut;
        while let Some(ev) = p.poll()? {
            match (out.last_mut(), ev) {
                (Some(Event::Data(prev)), Event::Data(d)) => {
                    let mut v = prev.to_vec();
                    v.extend_from_slice(&d);
                    *prev = Bytes::from(v);
                }
                (_, ev) => out.push(ev),
            }
        }
    }
    p.finish()?;
    Ok(out)
}

#[test]
fn parses_fields_and_files() {
    let ev = parse(&body(), &[]).unwrap();
    assert_eq!(ev.len(), 7);
    match &ev[3] {
        Event::PartStart(h) => {
            assert_eq!(h.name, "file");
            assert_eq!(h.filename.as_deref(), Some("a.bin"));
            assert_eq!(h.content_type.as_deref(), Some("application/octet-stream"));
        }
        e => panic!("unexpected {e:?}"),
    }
    match &ev[4] {
        Event::Data(d) => assert!(d.ends_with(b"\r\n--XyZ-boundar not yet")),
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(ev[6], Event::Finished);
}

fn err_of(body: &[u8]) -> String {
    parse(body, &[]).unwrap_err()
}

#[test]
fn refuses_ambiguities() {
    let cases: &[(&[u8], &str)] = &[
        (b"preamble\r\n--XyZ-boundary\r\n", "preamble"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\nX: y\r\n\r\nv\r\n--XyZ-boundary--", "bare LF"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n--XyZ-boundary--", "folded"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nv\r\n--XyZ-boundary--", "twice"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain\r\ncontent-type: image/png\r\n\r\nv\r\n--XyZ-boundary--", "twice"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x.png\"; filename*=UTF-8''y.png\r\n\r\nv\r\n--XyZ-boundary--", "disagree"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64\r\n\r\nv\r\n--XyZ-boundary--", "Transfer-Encoding"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\nv\r\n--XyZ-boundary--", "nested"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ-boundary--\r\ntrailing", "after the closing"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ-boundaryX\r\n", "unexpected bytes"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nv\r\n--XyZ-boundary--", "twice"),
        (b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv", "closing"),
    ];
    for (body, want) in cases {
        let e = err_of(body);
        assert!(
            e.contains(want),
            "{want:?} not in {e:?} for {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn header_cap_is_enforced_without_a_terminator() {
    let mut b = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ".to_vec();
    b.extend(std::iter::repeat_n(b'a', 2000));
    let mut p = Parser::new(B, 1024);
    p.push(Bytes::from(b));
    assert!(p.poll().unwrap_err().contains("exceed"));
}

/// Found by the differential fuzz target: part types multer's MIME parser reads as none.
#[test]
fn part_types_must_be_canonical() {
    for ct in [
        "apfi|an*/octet-stream",
        "mi/gaep ; filename*=UTF-8''ng",
        "image/p; filem=*aen+++",
        "con/octet;\t filename=am",
        "image/png/x",
        // Whitespace after a parameter value (2026-11-26): mime stops at it, multer sees none.
        "image/VVVV--b0undary--VV; filename=form-dat ;aname=\"title\"",
        "image/png; a=b ;c=d",
        "image/png; a =b",
        "image/png;; a=b",
        "image/png; ",
    ] {
        let b = format!(
            "--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: {ct}\r\n\r\nv\r\n--XyZ-boundary--"
        );
        assert!(parse(b.as_bytes(), &[]).is_err(), "{ct}");
    }
    let ok = "--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(ok.as_bytes(), &[]).is_ok());
}

/// Found by the differential fuzz target (2026-11-26): multer takes `filename` after a space
/// inside a quoted value for the parameter and gives up, so the real filename is lost.
#[test]
fn parameter_names_inside_values_are_refused() {
    for cd in [
        "form-data; name=\"a Content-Type: filename*x\"; filename=\"\"",
        "form-data; name=\"my filename\"; filename=\"x.png\"",
        "form-data; filename=\"a name.png\"; name=\"f\"",
        "form-data; filename*=UTF-8''; name=\"avatar\"; filename=\"\"",
    ] {
        let b = format!("--XyZ-boundary\r\nContent-Disposition: {cd}\r\n\r\nv\r\n--XyZ-boundary--");
        assert!(parse(b.as_bytes(), &[]).is_err(), "{cd}");
    }
    // Name first (what browsers and curl send): a space and "name" in a filename is harmless.
    let ok = "--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"project name.png\"\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(ok.as_bytes(), &[]).is_ok());
}

/// Found by the differential fuzz target: multer finds `filename=` inside a quoted name.
#[test]
fn separators_inside_quoted_values_are_refused() {
    let b = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"fi; filename=le\"; filename=\"p.png\"\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(b, &[]).unwrap_err().contains("ambiguous"));
    let upper = b"--XyZ-boundary\r\nContent-Disposition: form-data; namE=\"f\"\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(upper, &[]).unwrap_err().contains("lower-case"));
    // Found next: an unquoted filename after an unknown `filenamep*` parameter.
    let odd = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"; filenamep*=UTF-8'; filename=a.png\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(odd, &[]).is_err());
    let unquoted = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=a.png\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(unquoted, &[]).unwrap_err().contains("quoted"));
}

/// Found by the differential fuzz target (fuzz/fuzz_targets/differential.rs): multer ignores
/// `filename*`, so a part carrying only `filename*` is a text field to it and a file to us.
#[test]
fn filename_star_alone_is_refused_and_an_agreeing_one_decoded() {
    let alone = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''caf%C3%A9.png\r\n\r\nv\r\n--XyZ-boundary--";
    assert!(parse(alone, &[]).unwrap_err().contains("filename*"));
    let both = "--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"; filename=\"café.png\"; filename*=UTF-8''caf%C3%A9.png\r\n\r\nv\r\n--XyZ-boundary--";
    match &parse(both.as_bytes(), &[]).unwrap()[0] {
        Event::PartStart(h) => assert_eq!(h.filename.as_deref(), Some("café.png")),
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn request_boundary_rules() {
    let ok = boundary_from_content_type(b"multipart/form-data; boundary=abc").unwrap();
    assert_eq!(ok.as_deref(), Some("abc"));
    let quoted = boundary_from_content_type(b"multipart/form-data; boundary=\"a'b\"").unwrap();
    assert_eq!(quoted.as_deref(), Some("a'b"));
    assert_eq!(
        boundary_from_content_type(b"application/json").unwrap(),
        None
    );
    for bad in [
        &b"multipart/form-data"[..],
        b"multipart/form-data; boundary=a; boundary=b",
        b"multipart/form-data; boundary= abc",
        b"multipart/form-data; boundary =abc",
        b"multipart/form-data; boundary=\"abc \"",
        b"multipart/form-data; boundary=",
    ] {
        assert!(
            boundary_from_content_type(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let long = format!("multipart/form-data; boundary={}", "a".repeat(71));
    assert!(boundary_from_content_type(long.as_bytes()).is_err());
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(cuts in proptest::collection::vec(0usize..6000, 0..40)) {
        let data = body();
        prop_assert_eq!(parse(&data, &cuts).unwrap(), parse(&data, &[]).unwrap());
    }
}

/// File content full of delimiter prefixes: the parser must hand all of it out as data,
/// whatever the chunking.
fn tricky_body() -> (Vec<u8>, Vec<u8>) {
    let mut content = Vec::new();
    for i in 0..200 {
        content.extend_from_slice(&b"\r\n--XyZ-boundary"[..(i % 15) + 1]);
        content.extend_from_slice(b"x\r");
    }
    let mut b =
        b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t\"\r\n\r\n"
            .to_vec();
    b.extend_from_slice(&content);
    b.extend_from_slice(b"\r\n--XyZ-boundary--");
    (b, content)
}

proptest! {
    #[test]
    fn delimiter_prefixes_in_content_survive_any_chunking(cuts in proptest::collection::vec(0usize..4000, 0..60)) {
        let (body, content) = tricky_body();
        let events = parse(&body, &cuts).unwrap();
        prop_assert_eq!(&events[1], &Event::Data(Bytes::from(content)));
        prop_assert_eq!(events.len(), 4);
    }
}

/// Arbitrary bytes after a valid start: never a panic, and the outcome (events or the error)
/// does not depend on the chunking.
fn outcome(data: &[u8], cuts: &[usize]) -> Result<Vec<Event>, String> {
    parse(data, cuts)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_ignore_chunking(
        tail in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'-'), Just(b':'), Just(b'"'), Just(b';'), any::<u8>()],
            0..400,
        ),
        cuts in proptest::collection::vec(0usize..600, 0..20),
    ) {
        let mut data = b"--XyZ-boundary\r\nContent-Disposition: form-data; name=\"f\"\r\n".to_vec();
        data.extend_from_slice(&tail);
        data.extend_from_slice(b"\r\n--XyZ-boundary--");
        prop_assert_eq!(outcome(&data, &cuts), outcome(&data, &[]));
    }
}
