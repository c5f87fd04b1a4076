//! One verdict whatever the chunking: every clean and hostile fixture, and hostile files built
//! here (an SVG whose `onerror` straddles the sniff window, a PDF hiding script behind a
//! predictor, a docx holding an executable), inspected as one chunk, split at every offset
//! (small bodies) or around the sniff boundaries, and at random cuts (proptest) — the same
//! types and hashes, or the same refusal, every time.

use super::*;
use crate::config::file::UploadFile;
use crate::multipart::Form;
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The route's policy, built once (thousands of inspections use it).
fn policy() -> Arc<UploadPolicy> {
    static POLICY: std::sync::LazyLock<Arc<UploadPolicy>> = std::sync::LazyLock::new(build);
    POLICY.clone()
}

fn build() -> Arc<UploadPolicy> {
    let text = r#"
allowed_types = ["image/*", "video/*", "audio/*", "application/pdf", "application/msword",
  "application/vnd.ms-excel", "application/zip", "text/plain",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.oasis.opendocument.text"]
max_file_parts = 2
[max_bytes]
image = 4000000
other = 4000000
document = 4000000
[structure]
max_width = 10000
max_height = 10000
max_pixels = 40000000
end_marker = true
metadata_scripts = true
pdf_scripts = true
archive_entries = true
"#;
    let f: UploadFile = toml::from_str(text).unwrap();
    Arc::new(UploadPolicy::from_config(&f, "t").unwrap())
}

/// Every fixture as (name, declared type, bytes).
fn fixtures() -> Vec<(String, String, Vec<u8>)> {
    let tsv = std::fs::read_to_string(format!("{FIXTURES}/media/TYPES.tsv")).unwrap();
    let mut out: Vec<(String, String, Vec<u8>)> = tsv
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, ty)| {
            let bytes = std::fs::read(format!("{FIXTURES}/media/{name}")).unwrap();
            (name.to_string(), ty.to_string(), bytes)
        })
        .collect();
    for (name, ty) in [
        ("archive.zip", "application/zip"),
        ("elf-binary.bin", "application/octet-stream"),
        ("page.html", "image/svg+xml"),
        ("script.sh", "text/plain"),
        ("scripted.svg", "image/svg+xml"),
        ("windows.exe", "application/octet-stream"),
    ] {
        let bytes = std::fs::read(format!("{FIXTURES}/hostile/{name}")).unwrap();
        out.push((name.into(), ty.into(), bytes));
    }
    // `onerror` and 400 spaces before its `=`, across the 64 KiB sniff window's end.
    let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><!--".to_vec();
    svg.resize(65536 - 200, b'-');
    svg.extend_from_slice(b"--><image href=\"#a\" onerror");
    svg.extend(std::iter::repeat_n(b' ', 400));
    svg.extend_from_slice(b"=\"alert(1)\"/></svg>");
    out.push(("straddling.svg".into(), "image/svg+xml".into(), svg));
    let mut html = b"<!doctype html>\n<svg></svg><img src=\"x\"onerror=alert(1)>".to_vec();
    html.extend_from_slice(&[b' '; 100]);
    out.push(("html-as.svg".into(), "image/svg+xml".into(), html));
    // Text that is markup further in: script right after a letter, an SVG after 70 KB.
    out.push((
        "script.txt".into(),
        "text/plain".into(),
        b"x<script>alert(1)</script>".to_vec(),
    ));
    let mut late = b"notes ".to_vec();
    late.resize(70_000, b'-');
    late.extend_from_slice(b"\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>");
    out.push(("late-svg.txt".into(), "text/plain".into(), late));
    out.push((
        "plain.txt".into(),
        "text/plain".into(),
        b"a < b, on time: x = 1\n".repeat(500),
    ));
    out
}

/// What an inspection decided: each file's type and hash, or the refusal's code.
fn verdict(body: &[u8], cuts: &[usize]) -> Result<Vec<(String, String)>, &'static str> {
    let mut i = Inspector::new(
        policy(),
        &Framing::Multipart {
            boundary: "b0undary".into(),
        },
    );
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort();
    points.push(body.len());
    feed_all(&mut i, body, &points).map_err(|r| r.code())?;
    Ok(i.files()
        .iter()
        .map(|f| (f.content_type.clone(), f.sha256.clone()))
        .collect())
}

fn feed_all(i: &mut Inspector, body: &[u8], points: &[usize]) -> Result<(), Rejection> {
    let mut last = 0;
    for &cut in points {
        i.feed(Bytes::copy_from_slice(&body[last..cut]))?;
        last = cut;
    }
    i.finish()
}

fn bodies() -> Vec<(String, Vec<u8>)> {
    fixtures()
        .into_iter()
        .map(|(name, ty, bytes)| {
            let body = Form::new("b0undary")
                .field("title", "x")
                .file("file", &name, &ty, &bytes)
                .finish();
            (name, body)
        })
        .collect()
}

#[test]
fn every_fixture_has_one_verdict_at_every_split() {
    let mut refused = Vec::new();
    for (name, body) in bodies() {
        let one = verdict(&body, &[]);
        if one.is_err() {
            refused.push(name.clone());
        }
        // Every offset for small bodies; else around the first look (4096) and the SVG/sniff
        // window (65536), and every 997th byte.
        let splits: Vec<usize> = if body.len() <= 2048 {
            (1..body.len()).collect()
        } else {
            (4000..4200)
                .chain(65_300..65_800)
                .chain((0..body.len()).step_by(997))
                .filter(|&s| s < body.len())
                .collect()
        };
        for s in splits {
            assert_eq!(verdict(&body, &[s]), one, "{name} split at {s}");
        }
    }
    // The clean corpus passes; every hostile fixture but the zip (a plain text entry) is refused.
    assert_eq!(
        refused,
        [
            "elf-binary.bin",
            "page.html",
            "script.sh",
            "scripted.svg",
            "windows.exe",
            "straddling.svg",
            "html-as.svg",
            "script.txt",
            "late-svg.txt"
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_fixture_has_one_verdict_at_random_cuts(
        cuts in proptest::collection::vec(0usize..2_000_000, 1..48)
    ) {
        for (name, body) in bodies() {
            prop_assert_eq!(verdict(&body, &cuts), verdict(&body, &[]), "{}", name);
        }
    }
}
