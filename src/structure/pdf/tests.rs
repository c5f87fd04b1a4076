//! Object streams behind every filter `filters.rs` undoes: script in them is found whatever
//! the encoding and the chunking; clean ones pass.

use super::Pdf;
use super::filters::paeth;
use crate::structure::Problem;
use flate2::{Compression, write::ZlibEncoder};
use std::io::Write;

const SCRIPT: &[u8] = b"2 0 3 0 << /S /JavaScript /JS (app.alert(1)) >> << /Title (x) >>";
const CLEAN: &[u8] = b"2 0 3 0 << /Type /Page /Parent 1 0 R >> << /Title (JS: a book) >>";

fn feed(bytes: &[u8], chunk: usize) -> Result<(), Problem> {
    let mut pdf = Pdf::default();
    for c in bytes.chunks(chunk) {
        pdf.feed(c)?;
    }
    pdf.finish()
}

/// A PDF with one object stream: `dict` its dictionary's filter entries, `data` its bytes.
fn with_object_stream(dict: &str, data: &[u8], eol: &str) -> Vec<u8> {
    let mut bytes = format!(
        "%PDF-1.7\n5 0 obj << /Type /ObjStm /N 2 /First 8 {dict} /Length {} >>\nstream{eol}",
        data.len()
    )
    .into_bytes();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\nendstream\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    bytes
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// PNG-predicted rows of `columns` bytes, the row filters taking turns (None, Sub, Up, Average,
/// Paeth), one byte per pixel.
fn png_predict(data: &[u8], columns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = vec![0u8; columns];
    for (n, row) in data.chunks(columns).enumerate() {
        let mut row = row.to_vec();
        row.resize(columns, b' ');
        let kind = (n % 5) as u8;
        out.push(kind);
        for i in 0..columns {
            let a = if i > 0 { row[i - 1] } else { 0 };
            let (b, c) = (prev[i], if i > 0 { prev[i - 1] } else { 0 });
            let p = match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                _ => paeth(a, b, c),
            };
            out.push(row[i].wrapping_sub(p));
        }
        prev = row;
    }
    out
}

fn tiff_predict(data: &[u8], columns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for row in data.chunks(columns) {
        out.push(row[0]);
        out.extend(row.windows(2).map(|w| w[1].wrapping_sub(w[0])));
    }
    out
}

fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for group in data.chunks(4) {
        let mut word = [0u8; 4];
        word[..group.len()].copy_from_slice(group);
        let mut v = u32::from_be_bytes(word);
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = (v % 85) as u8 + b'!';
            v /= 85;
        }
        out.extend_from_slice(&digits[..group.len() + 1]);
        out.push(b'\n');
    }
    out.extend_from_slice(b"~>");
    out
}

fn run_length(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // A repeat run first (`257 - n`), then literals of up to 128 bytes.
    out.extend_from_slice(&[254, b' ']);
    for lit in data.chunks(100) {
        out.push((lit.len() - 1) as u8);
        out.extend_from_slice(lit);
    }
    out.push(128);
    out
}

fn lzw(data: &[u8], early: bool) -> Vec<u8> {
    let mut e = match early {
        true => weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8),
        false => weezl::encode::Encoder::new(weezl::BitOrder::Msb, 8),
    };
    e.encode(data).unwrap()
}

/// Every encoding of `objects` the filters undo: (dictionary entries, stream data).
fn encodings(objects: &[u8]) -> Vec<(String, Vec<u8>)> {
    let hex = [hex::encode_upper(objects).as_bytes(), b">"].concat();
    vec![
        ("/Filter /FlateDecode".into(), zlib(objects)),
        (
            "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >>".into(),
            zlib(&png_predict(objects, 7)),
        ),
        (
            "/Filter [/Fl] /DecodeParms [<< /Predictor 15 /Columns 9 >>]".into(),
            zlib(&png_predict(objects, 9)),
        ),
        (
            "/DecodeParms << /Predictor 2 /Colors 1 /Columns 6 >> /Filter /FlateDecode".into(),
            zlib(&tiff_predict(objects, 6)),
        ),
        ("/Filter /ASCIIHexDecode".into(), hex.clone()),
        ("/Filter /AHx".into(), hex.to_ascii_lowercase()),
        ("/Filter /ASCII85Decode".into(), ascii85(objects)),
        (
            "/Filter [/A85 /FlateDecode]".into(),
            ascii85(&zlib(objects)),
        ),
        ("/Filter /RunLengthDecode".into(), run_length(objects)),
        ("/Filter /LZWDecode".into(), lzw(objects, true)),
        (
            "/Filter /LZW /DecodeParms << /EarlyChange 0 >>".into(),
            lzw(objects, false),
        ),
        (
            "/Filter [/AHx /LZW] /DecodeParms [null << /Predictor 12 /Columns 4 >>]".into(),
            [
                hex::encode(lzw(&png_predict(objects, 4), true)).as_bytes(),
                b">",
            ]
            .concat(),
        ),
        ("".into(), objects.to_vec()),
    ]
}

#[test]
fn script_behind_any_filter_chain_is_found() {
    for (dict, data) in encodings(SCRIPT) {
        for eol in ["\n", "\r\n"] {
            let bytes = with_object_stream(&dict, &data, eol);
            for chunk in [1, 3, 64, 65536] {
                assert_eq!(
                    feed(&bytes, chunk),
                    Err(Problem::Active("JavaScript")),
                    "{dict} chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn clean_object_streams_pass_behind_any_filter_chain() {
    for (dict, data) in encodings(CLEAN) {
        for eol in ["\n", "\r\n"] {
            let bytes = with_object_stream(&dict, &data, eol);
            for chunk in [1, 7, 65536] {
                assert_eq!(
                    feed(&bytes, chunk),
                    Ok(()),
                    "{dict} eol {eol:?} chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn object_streams_that_cannot_be_read_are_refused() {
    let z = zlib(CLEAN);
    for dict in [
        "/Filter /DCTDecode",
        "/Filter [/FlateDecode /Crypt]",
        "/Filter 9 0 R",
        "/Filter /FlateDecode /DecodeParms << /Predictor 3 >>",
        "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 99999999 /Colors 99 >>",
        "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 0 >>",
    ] {
        let r = feed(&with_object_stream(dict, &z, "\n"), 65536);
        assert!(matches!(r, Err(Problem::Malformed(_))), "{dict}: {r:?}");
    }
    let bad = [
        ("/Filter /AHx", b"6A7G>".to_vec()),
        ("/Filter /A85", b"ab{cd~>".to_vec()),
        ("/Filter /A85", b"s8W-\"~>".to_vec()),
        ("/Filter /LZW", vec![0xff; 64]),
        // A PNG row whose filter type is not 0–4.
        (
            "/Filter /Fl /DecodeParms << /Predictor 12 /Columns 3 >>",
            zlib(&[7, 1, 2, 3]),
        ),
    ];
    for (dict, data) in bad {
        let r = feed(&with_object_stream(dict, &data, "\n"), 65536);
        assert!(matches!(r, Err(Problem::Malformed(_))), "{dict}: {r:?}");
    }
}

#[test]
fn an_xfa_form_is_refused() {
    let bytes = b"%PDF-1.7\n1 0 obj << /AcroForm << /XFA 7 0 R >> >> endobj\n%%EOF\n";
    assert_eq!(
        feed(bytes, 5),
        Err(Problem::Active("an XFA form (its scripts)"))
    );
}

#[test]
fn a_decoding_bomb_stops_at_the_bound() {
    // 65 MiB of spaces compress to ~65 KiB.
    let spaces = vec![b' '; 65 << 20];
    let bytes = with_object_stream("/Filter /FlateDecode", &zlib(&spaces), "\n");
    let r = feed(&bytes, 65536);
    assert_eq!(
        r,
        Err(Problem::Malformed(
            "PDF object streams decoding beyond 64 MiB"
        ))
    );
}
