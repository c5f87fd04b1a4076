//! Structure checks through the gateway: hostile files built here from the real corpus (script
//! in a GIF comment, a ZIP after a JPEG's end, a PNG cut before IEND, PNG/GIF headers declaring
//! 60,000 × 60,000 pixels, a TIFF whose second page and an ICO whose PNG do, PHP after a JPEG's
//! DQT table, a PDF with JavaScript, also in a predicted object stream, an XFA form, an
//! executable in a docx) are refused on a route with the checks, the
//! upstream never receiving a complete body; the real corpus passes byte-identical; a route
//! without the checks lets the same hostile files through.

use crate::common::*;
use upload_gateway::multipart::Form;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn config() -> String {
    let text = TEST_CONFIG.replace(
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n",
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n\
         [routes.upload.structure]\nmax_width = 10000\nmax_height = 10000\n\
         max_pixels = 40000000\nend_marker = true\nmetadata_scripts = true\npdf_scripts = true\narchive_entries = true\n",
    );
    assert!(
        text.contains("[routes.upload.structure]"),
        "the template changed"
    );
    text
}

fn hostile() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let gif = fixture("media/photo.gif");
    let jpg = fixture("media/photo.jpg");
    let png = fixture("media/photo.png");
    let zip = fixture("hostile/archive.zip");
    let comment = [&[0x21, 0xFE, 22][..], b"<?php system($_GET[0]);", &[0]].concat();
    let mut png_bomb = png.clone();
    png_bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    png_bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let mut gif_bomb = gif.clone();
    gif_bomb[6..8].copy_from_slice(&60_000u16.to_le_bytes());
    gif_bomb[8..10].copy_from_slice(&60_000u16.to_le_bytes());
    let mut pdf = fixture("media/report.pdf");
    let at = pdf.len() - 6;
    pdf.splice(
        at..at,
        b"9 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n".to_vec(),
    );
    let hidden = [
        pdf_with(b"5 0 obj << /Type 8 0 R /N 1 /First 4 /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 5 >> >>\nstream\r\n", &zlib(&up_rows(b"2 0 << /S /JavaScript /JS (app.alert(1)) >>", 5)), b"\nendstream endobj\n"),
        pdf_with(b"5 0 obj << /AcroForm << /XFA 7 0 R >> >> endobj\n", b"", b""),
    ];
    let [predicted, xfa] = hidden;
    // The corpus TIFF with a second page of 60,000² (its IFD chained after the first, at the
    // end); the corpus ICO's image swapped for a 60,000² PNG; a DQT table with PHP after it.
    let mut tiff = fixture("media/photo.tiff");
    let page2 = tiff.len() as u32;
    let first = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes([tiff[first], tiff[first + 1]]) as usize;
    let next = first + 2 + 12 * entries;
    tiff[next..next + 4].copy_from_slice(&page2.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    for tag in [256u16, 257] {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&60_000u32.to_le_bytes());
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut ico = fixture("media/icon.ico")[..22].to_vec();
    ico[14..18].copy_from_slice(&(png_bomb.len() as u32).to_le_bytes());
    ico.extend_from_slice(&png_bomb);
    let mut dqt = vec![0xFF, 0xDB, 0, 2 + 65 + 26, 0];
    dqt.extend(1..=64u8);
    dqt.extend_from_slice(b"<?php system($_GET[0]); ?>");
    let jpg_dqt = [&jpg[..2], &dqt[..], &jpg[2..]].concat();
    // A stored PE entry added before the corpus document's central directory.
    let mut docx = fixture("media/report.docx");
    let directory = docx.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    let mut exe = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    exe.extend_from_slice(&[64, 0, 0, 0, 64, 0, 0, 0, 9, 0, 0, 0]);
    exe.extend_from_slice(b"word/x.js");
    exe.extend_from_slice(&[b"MZ".as_slice(), &[0; 62]].concat());
    docx.splice(directory..directory, exe);
    vec![
        (
            "a TIFF whose page 2 is 60,000²",
            "image/tiff",
            tiff,
            "too_large",
        ),
        (
            "an ICO holding a 60,000² PNG",
            "image/vnd.microsoft.icon",
            ico,
            "too_large",
        ),
        (
            "PHP after a JPEG's DQT table",
            "image/jpeg",
            jpg_dqt,
            "unsupported_media_type",
        ),
        (
            "JavaScript in a PNG-predicted object stream",
            "application/pdf",
            predicted,
            "unsupported_media_type",
        ),
        (
            "an executable inside a docx",
            DOCX,
            docx,
            "unsupported_media_type",
        ),
        (
            "an XFA form",
            "application/pdf",
            xfa,
            "unsupported_media_type",
        ),
        (
            "script in a GIF comment",
            "image/gif",
            [&gif[..gif.len() - 1], &comment[..], &[0x3B]].concat(),
            "unsupported_media_type",
        ),
        (
            "a ZIP after the JPEG's EOI",
            "image/jpeg",
            [jpg.clone(), zip].concat(),
            "invalid_file",
        ),
        (
            "a PNG cut before IEND",
            "image/png",
            png[..png.len() - 20].to_vec(),
            "invalid_file",
        ),
        ("a 60,000² PNG", "image/png", png_bomb, "too_large"),
        ("a 60,000² GIF", "image/gif", gif_bomb, "too_large"),
        (
            "a PDF with JavaScript",
            "application/pdf",
            pdf,
            "unsupported_media_type",
        ),
    ]
}

/// The corpus PDF with an object spliced in before its `%%EOF`.
fn pdf_with(head: &[u8], data: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut pdf = fixture("media/report.pdf");
    let at = pdf.len() - 6;
    pdf.splice(at..at, [head, data, tail].concat());
    pdf
}

/// Rows of `columns` bytes, each PNG-filtered with "Up" (the difference to the row above).
fn up_rows(data: &[u8], columns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = vec![0u8; columns];
    for row in data.chunks(columns) {
        let mut row = row.to_vec();
        row.resize(columns, b' ');
        out.push(2);
        out.extend(row.iter().zip(&prev).map(|(x, p)| x.wrapping_sub(*p)));
        prev = row;
    }
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A body whose file part is followed by more than the sniff window of form data, so the file
/// streams upstream (the stream phase) before its end is judged.
fn form(name: &str, ty: &str, bytes: &[u8]) -> Form {
    Form::new("structure-boundary")
        .file("file", name, ty, bytes)
        .field("notes", &"n".repeat(100_000))
}

#[test]
fn hostile_files_are_refused_and_the_corpus_passes() {
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(), up.addr);
    for (what, ty, bytes, code) in hostile() {
        let r = gw.request().path("/media").form(form("f", ty, &bytes));
        r.assert_error(if code == "too_large" { 413 } else { r.status }, code);
        assert!(r.json()["error"]["message"].is_string(), "{what}");
    }
    up.assert_no_complete_body();
    up.requests.lock().unwrap().clear();

    for (name, ty) in [
        ("photo.jpg", "image/jpeg"),
        ("photo.png", "image/png"),
        ("photo.gif", "image/gif"),
        ("photo.webp", "image/webp"),
        ("report.pdf", "application/pdf"),
        ("report.docx", DOCX),
        ("photo.tiff", "image/tiff"),
        ("icon.ico", "image/vnd.microsoft.icon"),
        ("clip.mp4", "video/mp4"),
    ] {
        let bytes = fixture(&format!("media/{name}"));
        let body = form(name, ty, &bytes);
        let whole = body.clone().finish();
        let r = gw.request().path("/media").form(body);
        assert_eq!(
            r.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let got = up.wait_for(1);
        let last = got.last().unwrap();
        assert!(last.complete, "{name}");
        assert_eq!(last.sha256, sha256_hex(&whole), "{name} byte-identical");
        up.requests.lock().unwrap().clear();
    }
}

#[test]
fn a_route_without_the_checks_lets_them_through() {
    let up = RecordingUpstream::start();
    let gw = TestGateway::start(up.addr);
    for (what, ty, bytes, _) in hostile() {
        let r = gw.request().path("/media").form(form("f", ty, &bytes));
        assert_eq!(
            r.status,
            201,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
