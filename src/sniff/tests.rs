use super::*;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Detects like the inspector does: a first look, then the window (here: the whole file).
fn sniff_file(bytes: &[u8]) -> Detected {
    if bytes.len() > FIRST_LOOK
        && let Sniff::Done(d) = detect(&bytes[..FIRST_LOOK], false)
    {
        return d;
    }
    let window = &bytes[..bytes.len().min(64 * 1024)];
    match detect(window, true) {
        Sniff::Done(d) => d,
        Sniff::NeedMore => panic!("final detection must decide"),
    }
}

#[test]
fn every_corpus_file_is_detected_as_its_type() {
    let manifest = String::from_utf8(fixture("media/TYPES.tsv")).unwrap();
    let expect = manifest.lines().filter_map(|l| l.split_once('\t'));
    for (file, mime) in expect {
        let d = sniff_file(&fixture(&format!("media/{file}")));
        assert_eq!(d.mime, mime, "{file}");
        assert!(!d.active, "{file}");
    }
}

#[test]
fn hostile_files_are_what_they_are() {
    let expect = [
        ("elf-binary.bin", "application/x-executable", false),
        (
            "windows.exe",
            "application/vnd.microsoft.portable-executable",
            false,
        ),
        ("page.html", "text/html", true),
        // Its script is refused by parsing the whole file (src/sniff/svg.rs).
        ("scripted.svg", "image/svg+xml", false),
        ("script.sh", "text/x-shellscript", true),
        ("archive.zip", "application/zip", false),
    ];
    for (file, mime, active) in expect {
        let d = sniff_file(&fixture(&format!("hostile/{file}")));
        assert_eq!((d.mime.as_str(), d.active), (mime, active), "{file}");
    }
    let mut svg = crate::sniff::svg::SvgCheck::new();
    assert!(svg.feed(&fixture("hostile/scripted.svg")).is_err());
}

#[test]
fn ooxml_is_what_its_content_types_declare_not_what_entry_names_say() {
    let stored = |entries: &[(&str, &[u8])]| {
        let mut z = Vec::new();
        for (name, data) in entries {
            z.extend(entry(name, data, false));
        }
        z
    };
    let main = br#"<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let z = stored(&[
        ("[Content_Types].xml", main),
        ("docProps/app.xml", b"<x/>"),
        ("word/document.xml", b"<w/>"),
    ]);
    let Sniff::Done(d) = detect(&z, false) else {
        panic!("undecided")
    };
    assert!(d.mime.ends_with("wordprocessingml.document"));
    // Cut before the declaration is whole: undecided until the window is final.
    assert_eq!(detect(&z[..40], false), Sniff::NeedMore);
    assert_eq!(
        detect(&z[..40], true),
        Sniff::Done(Detected {
            mime: "application/zip".into(),
            active: false
        })
    );
    // Entry names alone (an .exe under word/, a JAR laid out like a document) are a zip.
    for z in [
        stored(&[("word/x.txt", b"MZ\x90\0"), ("word/document.xml", b"<w/>")]),
        stored(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w/>"),
        ]),
        stored(&[("word/", b""), ("META-INF/MANIFEST.MF", b"Main-Class: x")]),
    ] {
        let Sniff::Done(d) = detect(&z, true) else {
            panic!("undecided")
        };
        assert_eq!(d.mime, "application/zip");
    }
    // Macro-enabled packages are their macro-enabled type, whatever they are named.
    let docm = br#"<Types><Override ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>"#;
    let vba = br#"<Types><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Override ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    for types in [&docm[..], &vba[..]] {
        let z = stored(&[
            ("[Content_Types].xml", types),
            ("word/vbaProject.bin", b"x"),
        ]);
        let Sniff::Done(d) = detect(&z, true) else {
            panic!("undecided")
        };
        assert_eq!(d.mime, "application/vnd.ms-word.document.macroenabled.12");
    }
}

#[test]
fn static_svg_and_event_handlers() {
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\"/></svg>";
    assert_eq!(
        detect(svg, true),
        Sniff::Done(Detected {
            mime: "image/svg+xml".into(),
            active: false
        })
    );
    // SVG is judged by parsing every byte (src/sniff/svg.rs, refused there), not in the window.
    let onload = b"<svg onload =\"alert(1)\"></svg>";
    assert_eq!(
        detect(onload, true),
        Sniff::Done(Detected {
            mime: "image/svg+xml".into(),
            active: false
        })
    );
    let mut check = crate::sniff::svg::SvgCheck::new();
    assert!(check.feed(onload).is_err());
    // HTML that holds an SVG is HTML.
    let html = b"<!doctype html>\n<svg></svg><img src=\"x\"onerror=\"alert(1)\">";
    assert_eq!(
        detect(html, true),
        Sniff::Done(Detected {
            mime: "text/html".into(),
            active: true
        })
    );
    assert_eq!(
        detect(b"plain words\n", true),
        Sniff::Done(Detected {
            mime: "text/plain".into(),
            active: false
        })
    );
}

/// A zip entry (local header + data), deflated when `deflate`.
fn entry(name: &str, data: &[u8], deflate: bool) -> Vec<u8> {
    let (method, stored) = if deflate {
        use std::io::Write;
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        (8u16, e.finish().unwrap())
    } else {
        (0u16, data.to_vec())
    };
    let mut z = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
    z.extend_from_slice(&method.to_le_bytes());
    z.extend_from_slice(&[0; 8]); // time, date, crc
    z.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(&stored);
    z
}

#[test]
fn ooxml_with_large_media_first_is_named_by_its_content_types() {
    let types = |main: &str| {
        format!(
            "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"png\" ContentType=\"image/png\"/>\
             <Override PartName=\"/x/main.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.{main}.main+xml\"/></Types>"
        )
    };
    let media: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for (main, mime) in [
        (
            "wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ] {
        for deflate in [true, false] {
            let mut z = entry("[Content_Types].xml", types(main).as_bytes(), deflate);
            z.extend(entry("media/big.png", &media, false));
            z.extend(entry("word/document.xml", b"<w/>", false));
            let window = &z[..64 * 1024];
            let Sniff::Done(d) = detect(window, true) else {
                panic!("undecided")
            };
            assert_eq!(d.mime, mime, "deflate={deflate}");
        }
    }
    // Content types that name no office part leave a plain zip a plain zip.
    let mut z = entry("[Content_Types].xml", b"<Types/>", true);
    z.extend(entry("media/big.png", &media, false));
    let Sniff::Done(d) = detect(&z[..64 * 1024], true) else {
        panic!("undecided")
    };
    assert_eq!(d.mime, "application/zip");
}
