use super::*;
use crate::config::file::UploadFile;
use crate::multipart::Form;
use bytes::Bytes;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn policy(extra: &str) -> Arc<UploadPolicy> {
    let text = format!(
        "allowed_types = [\"image/*\", \"video/mp4\", \"application/pdf\"]\nmax_file_parts = 2\n{extra}"
    );
    let f: UploadFile = toml::from_str(&text).unwrap();
    Arc::new(UploadPolicy::from_config(&f, "t").unwrap())
}

fn multipart() -> Framing {
    Framing::Multipart {
        boundary: "b0undary".into(),
    }
}

/// The corpus PNG (shared with the stream tests).
pub(super) fn png() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/media/photo.png"
    ))
    .unwrap()
}

fn run(p: Arc<UploadPolicy>, body: &[u8], cuts: &[usize]) -> Result<Vec<FileReport>, Rejection> {
    let mut i = Inspector::new(p, &multipart());
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort();
    points.push(body.len());
    let mut last = 0;
    for cut in points {
        i.feed(Bytes::copy_from_slice(&body[last..cut]))?;
        assert!(i.releasable() <= cut as u64);
        last = cut;
    }
    i.finish()?;
    assert_eq!(i.releasable(), body.len() as u64);
    Ok(i.files().to_vec())
}

#[test]
fn accepted_file_is_hashed_and_typed() {
    let data = png();
    let body = Form::new("b0undary")
        .field("title", "x")
        .file("file", "p.png", "image/png", &data)
        .finish();
    let files = run(policy(""), &body, &[]).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].content_type, "image/png");
    assert_eq!(files[0].size, data.len() as u64);
    assert_eq!(files[0].sha256, hex::encode(Sha256::digest(&data)));
}

#[test]
fn mismatch_and_disallowed_and_limits() {
    let data = png();
    let mismatch = Form::new("b0undary")
        .file("file", "p.jpg", "image/jpg", &data)
        .finish();
    assert!(matches!(
        run(policy(""), &mismatch, &[]),
        Err(Rejection::ContentMismatch { .. })
    ));
    let audio = Form::new("b0undary")
        .file("file", "p.mp3", "audio/mpeg", &data)
        .finish();
    assert!(matches!(
        run(policy(""), &audio, &[]),
        Err(Rejection::UnsupportedMediaType(_))
    ));
    let small = policy("[max_bytes]\nimage = 1000");
    let body = Form::new("b0undary")
        .file("file", "p.png", "image/png", &data)
        .finish();
    assert!(matches!(
        run(small, &body, &[]),
        Err(Rejection::TooLarge(_))
    ));
    let nofile = Form::new("b0undary").field("title", "x").finish();
    assert!(matches!(
        run(policy(""), &nofile, &[]),
        Err(Rejection::Validation { .. })
    ));
    let long = policy("[fields.client_reference_id]\nmax_bytes = 256");
    let body = Form::new("b0undary")
        .field("client_reference_id", &"r".repeat(257))
        .finish();
    assert!(matches!(
        run(long, &body, &[]),
        Err(Rejection::Validation { .. })
    ));
}

#[test]
fn filename_less_file_field_is_still_inspected() {
    let body = Form::new("b0undary")
        .raw_part(
            &[
                "Content-Disposition: form-data; name=\"file\"",
                "Content-Type: image/jpeg",
            ],
            &png(),
        )
        .finish();
    assert!(matches!(
        run(policy(""), &body, &[]),
        Err(Rejection::ContentMismatch { .. })
    ));
}

#[test]
fn undecided_file_bytes_are_held_back() {
    let data = png();
    let body = Form::new("b0undary")
        .file("file", "p.png", "image/png", &data)
        .finish();
    let data_start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut i = Inspector::new(policy(""), &multipart());
    i.feed(Bytes::copy_from_slice(&body[..data_start + 100]))
        .unwrap();
    assert_eq!(
        i.releasable(),
        data_start as u64,
        "file bytes held until decided"
    );
    i.feed(Bytes::copy_from_slice(
        &body[data_start + 100..data_start + 5000],
    ))
    .unwrap();
    assert!(i.releasable() > data_start as u64 + 4000);
    i.feed(Bytes::copy_from_slice(&body[data_start + 5000..]))
        .unwrap();
    let closing_at = body.len() - b"\r\n--b0undary--\r\n".len();
    assert_eq!(
        i.releasable(),
        closing_at as u64,
        "closing delimiter held until the end"
    );
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_reports(cuts in proptest::collection::vec(0usize..40_000, 0..30)) {
        let data = png();
        let pdf = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/media/report.pdf")).unwrap();
        let body = Form::new("b0undary").field("a", "1").file("file", "p.png", "image/png", &data)
            .file("extra", "r.pdf", "application/pdf", &pdf).finish();
        prop_assert_eq!(run(policy(""), &body, &cuts).unwrap(), run(policy(""), &body, &[]).unwrap());
    }
}

/// An SVG whose bytes around the end of the sniff window (64 KiB, the default) would
/// read as an `on…=` handler if the window's tail were scanned twice: `a= b on` + `c`, where
/// `a= b on` + `a= b on` + `c` holds ` ona=`.
fn svg_with_a_seam_at_the_window() -> Vec<u8> {
    let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><text>".to_vec();
    let marker = b"a= b on";
    while svg.len() < 64 * 1024 - marker.len() {
        svg.push(b'x');
    }
    svg.extend_from_slice(marker);
    svg.extend_from_slice(b"c</text></svg>");
    svg
}

proptest! {
    /// Every split of a markup body gives the same verdict: a harmless SVG is accepted, one with
    /// a script refused, however it is chunked.
    #[test]
    fn any_chunking_gives_the_same_markup_verdict(cuts in proptest::collection::vec(0usize..70_000, 0..12)) {
        let clean = svg_with_a_seam_at_the_window();
        let body = Form::new("b0undary").file("file", "a.svg", "image/svg+xml", &clean).finish();
        let files = run(policy(""), &body, &cuts).unwrap();
        prop_assert_eq!(files[0].content_type.as_str(), "image/svg+xml");
        let mut scripted = clean.clone();
        scripted.splice(clean.len() - 6.., b"<script>x()</script></svg>".iter().copied());
        let body = Form::new("b0undary").file("file", "a.svg", "image/svg+xml", &scripted).finish();
        prop_assert!(matches!(run(policy(""), &body, &cuts), Err(Rejection::UnsupportedMediaType(_))));
        let html = b"<!doctype html><html><body>".iter().chain(&clean[..]).copied().collect::<Vec<u8>>();
        let body = Form::new("b0undary").file("file", "a.svg", "image/svg+xml", &html).finish();
        let whole = run(policy(""), &body, &[]).map_err(|e| e.code());
        prop_assert_eq!(run(policy(""), &body, &cuts).map_err(|e| e.code()), whole);
    }
}

#[test]
fn a_harmless_svg_is_accepted_wherever_it_is_cut() {
    let body = Form::new("b0undary")
        .file(
            "file",
            "a.svg",
            "image/svg+xml",
            &svg_with_a_seam_at_the_window(),
        )
        .finish();
    let at = memchr::memmem::find(&body, b"a= b on").unwrap();
    // A chunk starting at the marker, after the window's tail that ends with it.
    for cuts in [
        vec![],
        vec![at],
        vec![at - 1],
        vec![100, at],
        vec![at, at + 7],
    ] {
        let files = run(policy(""), &body, &cuts);
        assert_eq!(
            files.map(|f| f[0].content_type.clone()),
            Ok("image/svg+xml".to_string()),
            "{cuts:?}"
        );
    }
}

#[test]
fn script_after_the_sniff_window_is_still_found() {
    let p = policy("");
    let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec();
    while svg.len() < 100_000 {
        svg.extend_from_slice(b"<rect width=\"1\" height=\"1\"/>\n");
    }
    let clean = [svg.clone(), b"</svg>".to_vec()].concat();
    let scripted = [svg, b"<script>alert(1)</script></svg>".to_vec()].concat();
    let ok = Form::new("b0undary")
        .file("file", "a.svg", "image/svg+xml", &clean)
        .finish();
    assert_eq!(
        run(p.clone(), &ok, &[70_000, 100_050]).unwrap()[0].content_type,
        "image/svg+xml"
    );
    let bad = Form::new("b0undary")
        .file("file", "a.svg", "image/svg+xml", &scripted)
        .finish();
    for cuts in [vec![], vec![100_071], vec![70_000, 100_080]] {
        assert!(
            matches!(
                run(p.clone(), &bad, &cuts),
                Err(Rejection::UnsupportedMediaType(_))
            ),
            "{cuts:?}"
        );
    }
}

#[test]
fn unknown_fields_total_limit_and_empty_files() {
    let data = png();
    let strict = policy("unknown_fields = \"reject\"");
    let body = Form::new("b0undary")
        .field("nickname", "x")
        .file("file", "p.png", "image/png", &data)
        .finish();
    assert!(
        matches!(run(strict.clone(), &body, &[]), Err(Rejection::Validation { message: m, .. }) if m.contains("nickname"))
    );
    let ok = Form::new("b0undary")
        .file("file", "p.png", "image/png", &data)
        .finish();
    assert!(run(strict, &ok, &[]).is_ok());
    let small_total = policy("max_total_bytes = 5000");
    assert!(matches!(
        run(small_total, &ok, &[100, 3000]),
        Err(Rejection::TooLarge(_))
    ));
    let empty = Form::new("b0undary")
        .file("file", "p.png", "image/png", b"")
        .finish();
    assert!(
        matches!(run(policy(""), &empty, &[]), Err(Rejection::Validation { message: m, .. }) if m.contains("empty"))
    );
}

#[test]
fn an_svg_larger_than_the_route_allows_is_refused() {
    let p = policy("[structure]\nmax_width = 4000\nmax_height = 4000\n");
    let form = |svg: &str| {
        Form::new("b0undary")
            .file("file", "a.svg", "image/svg+xml", svg.as_bytes())
            .finish()
    };
    let ns = "xmlns=\"http://www.w3.org/2000/svg\"";
    for big in [
        format!("<svg {ns} width=\"100000\" height=\"100000\"><rect/></svg>"),
        format!("<svg {ns} width=\"50in\" height=\"1in\"><rect/></svg>"),
        format!("<svg {ns} viewBox=\"0 0 100000 10\"><rect/></svg>"),
    ] {
        for cuts in [vec![], vec![20], vec![5, 30, 60]] {
            let r = run(p.clone(), &form(&big), &cuts);
            assert_eq!(r.map_err(|e| e.code()).err(), Some("too_large"), "{big}");
        }
    }
    for fine in [
        format!("<svg {ns} width=\"400\" height=\"300\"><rect/></svg>"),
        format!("<svg {ns} width=\"100%\" height=\"100%\" viewBox=\"0,0,640,480\"><rect/></svg>"),
        format!("<svg {ns}><rect/></svg>"),
    ] {
        assert!(run(p.clone(), &form(&fine), &[]).is_ok(), "{fine}");
    }
}
