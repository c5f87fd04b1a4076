use super::*;
use crate::rejection::Rejection;
use flate2::{Compression, write::ZlibEncoder};
use std::io::Write;

pub(super) fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

pub(super) fn all() -> Arc<StructureRules> {
    Arc::new(StructureRules {
        max_width: Some(10_000),
        max_height: Some(10_000),
        max_pixels: Some(50_000_000),
        end_marker: true,
        metadata_scripts: true,
        pdf_scripts: true,
        archive_entries: true,
    })
}

/// Runs a check over `bytes`: the first `window` bytes at start, the rest in `chunk`s.
pub(super) fn run_with(
    rules: &Arc<StructureRules>,
    mime: &str,
    bytes: &[u8],
    window: usize,
    chunk: usize,
) -> Result<Option<(u32, u32)>, Rejection> {
    let (seen, rest) = bytes.split_at(window.min(bytes.len()));
    let Some(mut check) = Check::start(rules, mime, seen)? else {
        return Ok(None);
    };
    for c in rest.chunks(chunk) {
        check.feed(c)?;
    }
    check.finish()
}

fn run(mime: &str, bytes: &[u8]) -> Result<Option<(u32, u32)>, Rejection> {
    run_with(&all(), mime, bytes, 4096, 65536)
}

pub(super) fn code(r: Result<Option<(u32, u32)>, Rejection>) -> &'static str {
    r.expect_err("refused").code()
}

#[test]
fn the_corpus_passes_in_any_chunking_with_its_dimensions() {
    for (name, mime) in [
        ("photo.jpg", "image/jpeg"),
        ("photo.png", "image/png"),
        ("photo.gif", "image/gif"),
        ("photo.webp", "image/webp"),
        ("photo.bmp", "image/bmp"),
        ("photo.tiff", "image/tiff"),
        ("icon.ico", "image/vnd.microsoft.icon"),
    ] {
        let bytes = corpus(name);
        let size = imagesize::blob_size(&bytes).unwrap();
        let expected = Some((size.width as u32, size.height as u32));
        for (window, chunk) in [(4096, 65536), (16, 1), (100, 7), (0, 3)] {
            assert_eq!(
                run_with(&all(), mime, &bytes, window, chunk).unwrap(),
                expected,
                "{name} window {window} chunk {chunk}"
            );
        }
    }
    assert_eq!(run("application/pdf", &corpus("report.pdf")).unwrap(), None);
    // The corpus JPEG has "<%" in its compressed scan data: not metadata.
    let jpg = corpus("photo.jpg");
    assert!(jpg.windows(2).any(|w| w == b"<%"));
}

#[test]
fn a_top_down_bmp_has_its_real_height() {
    let mut bmp = corpus("photo.bmp");
    let size = imagesize::blob_size(&bmp).unwrap();
    let height = i32::try_from(size.height).unwrap();
    bmp[22..26].copy_from_slice(&(-height).to_le_bytes());
    for (window, chunk) in [(4096, 65536), (16, 1), (0, 3)] {
        assert_eq!(
            run_with(&all(), "image/bmp", &bmp, window, chunk).unwrap(),
            Some((size.width as u32, size.height as u32))
        );
    }
    // A huge height stays refused whichever way the rows run.
    bmp[22..26].copy_from_slice(&(-100_000i32).to_le_bytes());
    assert_eq!(code(run("image/bmp", &bmp)), "too_large");
}

#[test]
fn data_after_the_end_marker_and_truncation_are_refused() {
    let zip = std::fs::read(format!(
        "{}/tests/fixtures/hostile/archive.zip",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|_| b"PK\x03\x04 a zip".to_vec());
    for (name, mime) in [
        ("photo.jpg", "image/jpeg"),
        ("photo.png", "image/png"),
        ("photo.gif", "image/gif"),
    ] {
        let bytes = corpus(name);
        let polyglot = [bytes.clone(), zip.clone()].concat();
        assert_eq!(code(run(mime, &polyglot)), "invalid_file", "{name} + zip");
        let cut = &bytes[..bytes.len() - 3];
        assert_eq!(code(run(mime, cut)), "invalid_file", "{name} truncated");
        let half = &bytes[..bytes.len() / 2];
        assert_eq!(code(run(mime, half)), "invalid_file", "{name} half");
        // The switch off: the same files pass.
        let lax = Arc::new(StructureRules {
            end_marker: false,
            ..(*all()).clone()
        });
        assert!(run_with(&lax, mime, &polyglot, 4096, 100).is_ok(), "{name}");
        assert!(run_with(&lax, mime, cut, 4096, 100).is_ok(), "{name}");
    }
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&[0; 4]);
    c
}

/// The corpus PNG with `chunk` after IHDR.
fn png_with(chunk: Vec<u8>) -> Vec<u8> {
    let png = corpus("photo.png");
    [&png[..33], &chunk[..], &png[33..]].concat()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

#[test]
fn scripts_in_image_metadata_are_refused_in_every_segment_kind() {
    let text = png_with(png_chunk(b"tEXt", b"Comment\0<?php system($_GET[0]); ?>"));
    let ztxt = png_with(png_chunk(
        b"zTXt",
        &[
            &b"Comment\0\0"[..],
            &zlib(b"hello <script>alert(1)</script>"),
        ]
        .concat(),
    ));
    let itxt = png_with(png_chunk(
        b"iTXt",
        &[
            &b"XML:com.adobe.xmp\0\x01\0en\0\0"[..],
            &zlib(b"<x><%= evil %></x>"),
        ]
        .concat(),
    ));
    for (what, bytes) in [("tEXt", text), ("zTXt", ztxt), ("iTXt", itxt)] {
        for chunk in [1, 5, 65536] {
            let r = run_with(&all(), "image/png", &bytes, 16, chunk);
            assert_eq!(code(r), "unsupported_media_type", "{what} chunk {chunk}");
        }
    }
    let clean = png_with(png_chunk(b"tEXt", b"Comment\0a photo < 3 % ok"));
    assert!(run("image/png", &clean).is_ok());
    // Every other metadata chunk too: eXIf, private chunks, a compressed ICC profile; and
    // another format's signature in metadata makes the image a polyglot.
    let iccp = [
        &b"icc\0\0"[..],
        &zlib(b"profile <?php system($_GET[0]); ?>"),
    ]
    .concat();
    let pdf = b"Comment\0%PDF-1.7\n1 0 obj << /OpenAction 2 0 R >> endobj";
    for (what, bytes) in [
        (
            "eXIf",
            png_with(png_chunk(b"eXIf", b"MM\0*<script>alert(1)</script>")),
        ),
        ("prVt", png_with(png_chunk(b"prVt", b"<?php echo 1; ?>"))),
        ("htMl", png_with(png_chunk(b"htMl", b"<HTML><body>"))),
        ("iCCP", png_with(png_chunk(b"iCCP", &iccp))),
        ("PDF in tEXt", png_with(png_chunk(b"tEXt", pdf))),
        (
            "ZIP in prVt",
            png_with(png_chunk(b"prVt", b"PK\x03\x04\x14\0")),
        ),
    ] {
        for chunk in [1, 5, 65536] {
            let r = run_with(&all(), "image/png", &bytes, 16, chunk);
            assert_eq!(code(r), "unsupported_media_type", "{what} chunk {chunk}");
        }
    }
    let icc = [&b"icc\0\0"[..], &zlib(b"an ordinary colour profile")].concat();
    assert!(run("image/png", &png_with(png_chunk(b"iCCP", &icc))).is_ok());
    // Chance bytes are not markers: `<%` inside compressed data (the profile itself is clean)
    // or inside binary EXIF.
    let (mut seed, mut profile) = (7u32, Vec::new());
    let compressed = loop {
        profile.clear();
        for _ in 0..4096 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            profile.push((seed >> 16) as u8 & 0x7f | 0x40);
        }
        let z = zlib(&profile);
        if z.windows(2).any(|w| w == b"<%") {
            break z;
        }
    };
    let icc = [&b"icc\0\0"[..], &compressed].concat();
    assert!(run("image/png", &png_with(png_chunk(b"iCCP", &icc))).is_ok());
    let exif = png_with(png_chunk(b"eXIf", b"MM\0*\0\0\0\x08<%\x01\x02"));
    assert!(run("image/png", &exif).is_ok());

    let jpg = corpus("photo.jpg");
    let com = b"<?php echo 1; ?>";
    let mut seg = vec![0xFF, 0xFE, 0, (com.len() + 2) as u8];
    seg.extend_from_slice(com);
    let bad = [&jpg[..2], &seg[..], &jpg[2..]].concat();
    assert_eq!(code(run("image/jpeg", &bad)), "unsupported_media_type");
    // In an APP1 (EXIF) segment: the long markers count, a chance `<%` in binary data does not.
    let app1 = |payload: &[u8]| {
        let mut seg = vec![0xFF, 0xE1, 0, (payload.len() + 2) as u8];
        seg.extend_from_slice(payload);
        [&jpg[..2], &seg[..], &jpg[2..]].concat()
    };
    let php = app1(b"Exif\0\0MM\0*<?php echo 1; ?>");
    assert_eq!(code(run("image/jpeg", &php)), "unsupported_media_type");
    assert!(run("image/jpeg", &app1(b"Exif\0\0MM\0*\x00<%\x10\x20")).is_ok());

    let gif = corpus("photo.gif");
    let comment = [&[0x21, 0xFE, 13][..], b"<?php x(); ?>", &[0]].concat();
    let bad = [&gif[..gif.len() - 1], &comment[..], &[0x3B]].concat();
    for chunk in [1, 3, 65536] {
        let r = run_with(&all(), "image/gif", &bad, 20, chunk);
        assert_eq!(code(r), "unsupported_media_type");
    }
    // Extensions of any label: an unknown one, an over-long graphic control block.
    for ext in [
        [&[0x21, 0x99, 13][..], b"<?php x(); ?>", &[0]].concat(),
        [&[0x21, 0xF9, 4, 0, 0, 0, 0, 12][..], b"<script>x()", &[0]].concat(),
    ] {
        let hidden = [&gif[..gif.len() - 1], &ext[..], &[0x3B]].concat();
        for chunk in [1, 65536] {
            let r = run_with(&all(), "image/gif", &hidden, 20, chunk);
            assert_eq!(code(r), "unsupported_media_type");
        }
    }
    let off = Arc::new(StructureRules {
        metadata_scripts: false,
        ..(*all()).clone()
    });
    assert!(run_with(&off, "image/gif", &bad, 4096, 100).is_ok());
}

#[test]
fn pixel_bombs_are_refused_from_their_headers() {
    let mut png = corpus("photo.png");
    png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let r = run_with(&all(), "image/png", &png, 4096, 65536).unwrap_err();
    assert_eq!(r.code(), "too_large");
    assert!(r.message().contains("60000×60000"), "{}", r.message());

    let mut gif = corpus("photo.gif");
    gif[6..8].copy_from_slice(&60_000u16.to_le_bytes());
    gif[8..10].copy_from_slice(&60_000u16.to_le_bytes());
    assert_eq!(code(run("image/gif", &gif)), "too_large");

    let jpg = corpus("photo.jpg");
    let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut bomb = jpg.clone();
    bomb[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    assert_eq!(code(run("image/jpeg", &bomb)), "too_large");

    // Only pixels limited: a wide but small image passes, a large area does not.
    let pixels = Arc::new(StructureRules {
        max_pixels: Some(1_000_000),
        ..Default::default()
    });
    assert!(run_with(&pixels, "image/png", &corpus("photo.png"), 4096, 100).is_ok());
    assert_eq!(
        code(run_with(&pixels, "image/png", &png, 4096, 100)),
        "too_large"
    );
}

fn pdf(body: &str) -> Vec<u8> {
    format!("%PDF-1.7\n{body}\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n").into_bytes()
}

#[test]
fn pdf_active_content_is_refused_however_spelled() {
    for body in [
        "1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj",
        "1 0 obj << /AA << /O << /S /J#61vaScript >> >> >> endobj",
        "1 0 obj << /S /Launch /F (cmd.exe) >> endobj",
        "1 0 obj << /Names << /EmbeddedFiles 2 0 R >> >> endobj",
        "1 0 obj << /Type /EmbeddedFile >> endobj",
        "1 0 obj << /S /SubmitForm /F (https://evil.example/) >> endobj",
        "1 0 obj << /S /ImportData /F (x.fdf) >> endobj",
        "1 0 obj << /S /GoToE /T << /R /C /N (x) >> >> endobj",
        // A comment that says `stream` starts no stream data: what follows is still read.
        "%stream
1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj
%endstream",
        "% x stream
1 0 obj << /S /Launch /F (cmd.exe) >> endobj",
        "1 0 obj << /A << /S /URI /URI (javascript:app.alert(1)) >> >> endobj",
        "1 0 obj << /A << /S /URI /URI (Java\\163cript\\n:x) >> >> endobj",
        "1 0 obj << /A << /S /URI /URI ( java\\\nscript:x) >> >> endobj",
        // The same link target as a hex string, with spaces and an odd last digit.
        "1 0 obj << /A << /S /URI /URI <6A617661 7363726970743A 616C657274283129> >> >> endobj",
        "1 0 obj << /A << /S /URI /URI<4A41564153435249 50543a78 3>>>endobj",
    ] {
        let bytes = pdf(body);
        for chunk in [1, 4, 65536] {
            let r = run_with(&all(), "application/pdf", &bytes, 8, chunk);
            assert_eq!(code(r), "unsupported_media_type", "{body} chunk {chunk}");
        }
    }
    // Hidden in a compressed object stream, named as one or only by its /N and /First.
    let objects = zlib(b"2 0 << /S /JavaScript /JS (x) >>");
    for ty in ["/Type /ObjStm", "/Type 7 0 R"] {
        let mut bytes = format!(
            "%PDF-1.7\n1 0 obj << {ty} /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
            objects.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&objects);
        bytes.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        for chunk in [1, 3, 65536] {
            let r = run_with(&all(), "application/pdf", &bytes, 8, chunk);
            assert_eq!(
                code(r),
                "unsupported_media_type",
                "object stream {ty}, chunk {chunk}"
            );
        }
    }
    // Strings that only mention script are text.
    let benign = pdf(
        "1 0 obj << /Title (JavaScript: The Good Parts) /Author (x\\(y\\)) /URI (https://e.example/javascript:) >> endobj",
    );
    assert!(run_with(&all(), "application/pdf", &benign, 8, 3).is_ok());
    // Hex strings that are not script links, next to dictionaries.
    let hex = pdf(
        "1 0 obj <</A <</S /URI /URI <68747470733A2F2F652E6578616D706C652F>>> /ID [<6A617661> <00FF>]>> endobj",
    );
    for chunk in [1, 2, 65536] {
        assert!(
            run_with(&all(), "application/pdf", &hex, 8, chunk).is_ok(),
            "chunk {chunk}"
        );
    }
    let bad = pdf("1 0 obj << /ID [<6A6Z>] >> endobj");
    assert!(run_with(&all(), "application/pdf", &bad, 8, 65536).is_err());
    // The same bytes in stream data (an image, a font) and in a comment of the text are not
    // names: a stream is skipped to endstream.
    let mut bytes = b"%PDF-1.7\n1 0 obj << /Length 20 >>\nstream\n".to_vec();
    bytes.extend_from_slice(b"\x00/JS /Launch \xff\x01(x)\n");
    bytes.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    for chunk in [1, 2, 65536] {
        assert!(run_with(&all(), "application/pdf", &bytes, 8, chunk).is_ok());
    }
    let off = Arc::new(StructureRules::default());
    assert!(run_with(&off, "application/pdf", &pdf("<< /JS (x) >>"), 8, 100).is_ok());
}

#[test]
fn checks_start_only_for_types_the_rules_concern() {
    let dims = Arc::new(StructureRules {
        max_width: Some(10),
        ..Default::default()
    });
    assert!(Check::start(&dims, "video/mp4", b"....").unwrap().is_none());
    assert!(
        Check::start(&dims, "application/pdf", b"%PDF")
            .unwrap()
            .is_none()
    );
    let webp = corpus("photo.webp");
    let r = Check::start(&dims, "image/webp", &webp[..64]);
    assert_eq!(r.err().map(|r| r.code()), Some("too_large"));
    let pdf_only = Arc::new(StructureRules {
        pdf_scripts: true,
        ..Default::default()
    });
    assert!(
        Check::start(&pdf_only, "image/png", &corpus("photo.png"))
            .unwrap()
            .is_none()
    );
}
