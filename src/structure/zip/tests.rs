//! The zip walk on the real office corpus and on archives built here: executables, manifests
//! and macros anywhere in the archive are found whatever the layout and the chunking; entries
//! only the central directory shows are refused.

use super::Zip;
use crate::structure::Problem;
use flate2::{Compression, write::DeflateEncoder};
use std::io::Write;

fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

fn walk(mime: &str, bytes: &[u8], chunk: usize) -> Result<(), Problem> {
    let mut z = Zip::new(mime);
    for c in bytes.chunks(chunk) {
        z.feed(c)?;
    }
    z.finish()
}

/// How an entry is written.
#[derive(Clone, Copy)]
enum Way {
    Stored,
    Deflated,
    /// Deflated, sizes in a data descriptor after the data (with its signature or without).
    Streamed {
        signed: bool,
    },
}

/// A zip of `entries`; `hidden` adds a directory record pointing into the first entry's data.
fn zip(entries: &[(&str, &[u8], Way)], hidden: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut directory = Vec::new();
    let mut records = 0u16;
    for (name, data, way) in entries {
        let offset = out.len() as u32;
        let body = match way {
            Way::Stored => data.to_vec(),
            _ => {
                let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
                d.write_all(data).unwrap();
                d.finish().unwrap()
            }
        };
        let (method, flags) = match way {
            Way::Stored => (0u16, 0u16),
            Way::Deflated => (8, 0),
            Way::Streamed { .. } => (8, 8),
        };
        let sizes = match way {
            Way::Streamed { .. } => [0u32, 0],
            _ => [body.len() as u32, data.len() as u32],
        };
        out.extend_from_slice(b"PK\x03\x04\x14\x00");
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // time, date, CRC
        out.extend_from_slice(&sizes[0].to_le_bytes());
        out.extend_from_slice(&sizes[1].to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&body);
        if let Way::Streamed { signed } = way {
            if *signed {
                out.extend_from_slice(b"PK\x07\x08");
            }
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
        let mut push = |name: &[u8], offset: u32| {
            directory.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
            directory.extend_from_slice(&[0; 20]);
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(&[0; 12]);
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name);
        };
        push(name.as_bytes(), offset);
        records += 1;
        if hidden && records == 1 {
            push(b"x.exe", offset + 40);
            records += 1;
        }
    }
    let at = out.len() as u32;
    let size = directory.len() as u32;
    out.extend_from_slice(&directory);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const DOCM: &str = "application/vnd.ms-word.document.macroenabled.12";
const XML: &[u8] = b"<?xml version=\"1.0\"?><w:document>Text, and more text</w:document>";

#[test]
fn the_office_corpus_passes_in_any_chunking() {
    for (name, mime) in [
        ("report.docx", DOCX),
        (
            "sheet.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("report.odt", "application/vnd.oasis.opendocument.text"),
    ] {
        let bytes = corpus(name);
        for chunk in [1, 7, 4096, 1 << 20] {
            assert_eq!(walk(mime, &bytes, chunk), Ok(()), "{name} chunk {chunk}");
        }
    }
}

#[test]
fn built_archives_pass_in_every_layout() {
    for way in [
        Way::Stored,
        Way::Deflated,
        Way::Streamed { signed: true },
        Way::Streamed { signed: false },
    ] {
        let bytes = zip(
            &[
                ("[Content_Types].xml", XML, way),
                ("word/", b"", Way::Stored),
                ("word/document.xml", XML, way),
            ],
            false,
        );
        for chunk in [1, 3, 65536] {
            assert_eq!(walk(DOCX, &bytes, chunk), Ok(()), "chunk {chunk}");
        }
    }
}

#[test]
fn executables_manifests_and_macros_are_found_anywhere() {
    let mut pe = b"MZ\x90\x00".to_vec();
    pe.resize(300, 0);
    let cases: [(&str, &[u8], &str); 8] = [
        ("word/media/image1.png", &pe, "an executable entry (PE)"),
        ("x.txt", b"\x7fELF\x02\x01\x01", "an executable entry (ELF)"),
        ("a", b"\xcf\xfa\xed\xfe\x07", "an executable entry (Mach-O)"),
        ("A.class", b"plain", "a Java class or Mach-O entry"),
        (
            "b",
            b"\xca\xfe\xba\xbe\x00\x00\x00\x34",
            "a Java class or Mach-O entry",
        ),
        ("META-INF/MANIFEST.MF", b"Main-Class: x", "a JAR manifest"),
        (
            "word/vbaProject.bin",
            b"\xd0\xcf\x11\xe0",
            "a VBA macro project",
        ),
        ("WORD/VBAPROJECT.BIN", b"", "a VBA macro project"),
    ];
    for (name, data, what) in cases {
        for way in [Way::Stored, Way::Deflated, Way::Streamed { signed: false }] {
            let bytes = zip(
                &[
                    ("[Content_Types].xml", XML, Way::Deflated),
                    ("word/document.xml", XML, way),
                    (name, data, way),
                    ("word/styles.xml", XML, way),
                ],
                false,
            );
            for chunk in [1, 5, 65536] {
                assert_eq!(
                    walk(DOCX, &bytes, chunk),
                    Err(Problem::Active(what)),
                    "{name} chunk {chunk}"
                );
            }
        }
    }
    // A macro-enabled type may carry its VBA project.
    let docm = zip(
        &[("word/vbaProject.bin", b"\xd0\xcf\x11\xe0", Way::Deflated)],
        false,
    );
    assert_eq!(walk(DOCM, &docm, 100), Ok(()));
}

#[test]
fn what_the_walk_cannot_vouch_for_is_refused() {
    let hidden = zip(&[("word/document.xml", &[b'x'; 200], Way::Stored)], true);
    assert_eq!(
        walk(DOCX, &hidden, 64),
        Err(Problem::Active("an entry only its central directory shows"))
    );
    let whole = zip(&[("word/document.xml", XML, Way::Deflated)], false);
    assert_eq!(
        walk(DOCX, &whole[..whole.len() - 10], 64),
        Err(Problem::Truncated(
            "zip without its end of central directory"
        ))
    );
    let mut gap = whole.clone();
    let directory = gap.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    gap.splice(directory..directory, *b"junk");
    assert!(matches!(walk(DOCX, &gap, 64), Err(Problem::Malformed(_))));
    let mut encrypted = whole.clone();
    encrypted[6] |= 1;
    assert!(matches!(
        walk(DOCX, &encrypted, 64),
        Err(Problem::Malformed(_))
    ));
    let mut stored_streamed = zip(&[("a", b"abc", Way::Stored)], false);
    stored_streamed[6] |= 8;
    assert!(matches!(
        walk(DOCX, &stored_streamed, 64),
        Err(Problem::Malformed(_))
    ));
}
