//! The PDF checks against a real consumer: pypdf (PyPI, in the venv scripts/prereqs.sh makes)
//! reads every sample and reports the active content it finds (tests/pdf/active.py: a /JS,
//! a JavaScript, launch or form action, a javascript: link, an XFA form, an embedded file);
//! every sample is also uploaded through the gateway on a route with `pdf_scripts`. The
//! differential: no sample the gateway accepts has anything pypdf finds; every sample where
//! pypdf finds something was refused (nothing of it complete upstream); and pypdf does find
//! the script of every hostile sample (a sample it cannot read would prove nothing).
//! Samples: action carriers × name and string spellings × containers (plain objects, object
//! streams behind each filter chain the gateway undoes, with xref streams so pypdf reaches
//! them); `PDF_DIFF_VARIANTS` adds random variants (CI's short run has none;
//! scripts/pdf-differential.sh runs the long one).

use crate::common::quota_support::TempDir;
use crate::common::*;
use std::io::Write;
use std::path::Path;
use upload_gateway::multipart::Form;

/// Catalog entries and object 4, per carrier; `true`: hostile.
const CARRIERS: [(&str, &str, bool); 8] = [
    (
        "/OpenAction 4 0 R",
        "<< /S /{JAVASCRIPT} /{JS} {CODE} >>",
        true,
    ),
    (
        "/AA << /WC 4 0 R >>",
        "<< /S /{JAVASCRIPT} /{JS} {CODE} >>",
        true,
    ),
    (
        "/Names << /{JAVASCRIPT} << /Names [(a) 4 0 R] >> >>",
        "<< /S /{JAVASCRIPT} /{JS} {CODE} >>",
        true,
    ),
    ("/OpenAction 4 0 R", "<< /S /Launch /F (cmd.exe) >>", true),
    ("/OpenAction 4 0 R", "<< /S /URI /URI {LINK} >>", true),
    (
        "/AcroForm << /Fields [] /XFA 4 0 R >>",
        "[(template) 3 0 R]",
        true,
    ),
    (
        "/OpenAction [3 0 R /Fit]",
        "<< /Title (JavaScript: The Good Parts) >>",
        false,
    ),
    (
        "/OpenAction 4 0 R",
        "<< /S /URI /URI (https://example.com/javascript:x) >>",
        false,
    ),
];

/// (name, the object stream's filter entries); `None`: plain objects and an xref table.
const CONTAINERS: [(&str, Option<&str>); 8] = [
    ("plain", None),
    ("objstm", Some("")),
    ("Flate", Some("/Filter /FlateDecode")),
    (
        "Flate+PNG",
        Some("/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 8 >>"),
    ),
    ("AHx", Some("/Filter /ASCIIHexDecode")),
    ("A85+Flate", Some("/Filter [/ASCII85Decode /FlateDecode]")),
    ("LZW", Some("/Filter /LZWDecode")),
    ("RL", Some("/Filter /RunLengthDecode")),
];

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// Rows of 8 bytes, PNG "Up" filtered.
fn png_up(data: &[u8]) -> Vec<u8> {
    let (mut out, mut prev) = (Vec::new(), [0u8; 8]);
    for row in data.chunks(8) {
        let mut r = [b' '; 8];
        r[..row.len()].copy_from_slice(row);
        out.push(2);
        out.extend(r.iter().zip(prev).map(|(x, p)| x.wrapping_sub(p)));
        prev = r;
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
    }
    out.extend_from_slice(b"~>");
    out
}

fn encode(filters: &str, data: &[u8]) -> Vec<u8> {
    match filters {
        "" => data.to_vec(),
        f if f.contains("Predictor") => zlib(&png_up(data)),
        f if f.contains("ASCII85") => ascii85(&zlib(data)),
        f if f.contains("Flate") => zlib(data),
        f if f.contains("ASCIIHex") => [hex::encode(data).as_bytes(), b">"].concat(),
        f if f.contains("LZW") => {
            let mut e = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
            e.encode(data).unwrap()
        }
        _ => {
            let mut out = Vec::new();
            for lit in data.chunks(128) {
                out.push((lit.len() - 1) as u8);
                out.extend_from_slice(lit);
            }
            out.push(128);
            out
        }
    }
}

/// A complete PDF: objects 1–4 plain with an xref table, or in object stream 5 with xref
/// stream 6. `pad` goes between objects (comments, whitespace: the random variants).
fn build(catalog: &str, four: &str, container: Option<&str>, pad: &str) -> Vec<u8> {
    let objects = [
        format!("<< /Type /Catalog /Pages 2 0 R {catalog} >>"),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>".to_string(),
        four.to_string(),
    ];
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let Some(filters) = container else {
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n{pad}", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
        for o in &offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        return out;
    };
    let (mut head, mut body) = (String::new(), String::new());
    for (i, o) in objects.iter().enumerate() {
        head.push_str(&format!("{} {} ", i + 1, body.len()));
        body.push_str(o);
        body.push_str(pad);
        body.push('\n');
    }
    let data = encode(filters, format!("{head}{body}").as_bytes());
    let objstm = out.len();
    out.extend_from_slice(
        format!(
            "5 0 obj\n<< /Type /ObjStm /N 4 /First {} {filters} /Length {} >>\nstream\r\n",
            head.len(),
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    // /W [1 4 2]: free; 1–4 in stream 5 at index 0–3; 5 and 6 at their offsets.
    let mut rows = vec![[0u8, 0, 0, 0, 0, 0xff, 0xff]];
    for i in 0..4u16 {
        let mut r = [2u8, 0, 0, 0, 5, 0, 0];
        r[5..].copy_from_slice(&i.to_be_bytes());
        rows.push(r);
    }
    for at in [objstm, xref] {
        let mut r = [1u8, 0, 0, 0, 0, 0, 0];
        r[1..5].copy_from_slice(&(at as u32).to_be_bytes());
        rows.push(r);
    }
    let rows = rows.concat();
    out.extend_from_slice(
        format!(
            "6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length {} >>\nstream\n",
            rows.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&rows);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

/// The object-4 text with a spelling: names plain or `#`-escaped, script and link as literal
/// or hex strings.
fn spell(template: &str, escaped: bool, hex_strings: bool) -> String {
    let string = |s: &str| match hex_strings {
        true => format!("<{}>", hex::encode_upper(s)),
        false => format!("({s})"),
    };
    template
        .replace(
            "{JAVASCRIPT}",
            if escaped {
                "J#61vaScript"
            } else {
                "JavaScript"
            },
        )
        .replace("{JS}", if escaped { "J#53" } else { "JS" })
        .replace("{CODE}", &string("app.alert(1)"))
        .replace("{LINK}", &string("javascript:app.alert(1)"))
}

/// Every sample: (label, hostile, bytes).
fn samples(variants: usize) -> Vec<(String, bool, Vec<u8>)> {
    let mut out = Vec::new();
    for (n, (catalog, four, hostile)) in CARRIERS.iter().enumerate() {
        for (cname, container) in CONTAINERS {
            for (escaped, hex_strings) in [(false, false), (true, true)] {
                let catalog = spell(catalog, escaped, false);
                let four = spell(four, escaped, hex_strings);
                let label = format!("carrier {n} in {cname}, escaped {escaped}");
                out.push((label, *hostile, build(&catalog, &four, container, "")));
            }
        }
    }
    // Random variants: any carrier, container and spelling, with comments and whitespace
    // between the objects (a fixed seed: a failure names its sample).
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    let pads = [
        "",
        " ",
        "\n% stream\n",
        "%endstream\r\n",
        "\t\x0c",
        "%%EOF\n",
    ];
    for v in 0..variants {
        let (catalog, four, hostile) = CARRIERS[next(CARRIERS.len())];
        let (cname, container) = CONTAINERS[next(CONTAINERS.len())];
        let (escaped, hex_strings) = (next(2) == 1, next(2) == 1);
        let pad = pads[next(pads.len())];
        let bytes = build(
            &spell(catalog, escaped, false),
            &spell(four, escaped, hex_strings),
            container,
            pad,
        );
        out.push((
            format!("variant {v} ({cname}, pad {pad:?})"),
            hostile,
            bytes,
        ));
    }
    out
}

#[test]
fn no_pdf_the_gateway_accepts_has_active_content_pypdf_finds() {
    let variants = std::env::var("PDF_DIFF_VARIANTS").map_or(0, |v| v.parse().unwrap());
    let samples = samples(variants);
    let dir = TempDir::new("pdf-diff");
    let paths: Vec<String> = samples
        .iter()
        .enumerate()
        .map(|(i, (_, _, bytes))| {
            let path = dir.0.join(format!("{i}.pdf"));
            std::fs::write(&path, bytes).unwrap();
            path.display().to_string()
        })
        .collect();
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/py/bin/python");
    assert!(
        python.exists(),
        "{}: scripts/prereqs.sh makes it",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pdf/active.py");
    let run = std::process::Command::new(&python)
        .arg(&script)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let found: Vec<serde_json::Value> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), samples.len());

    let config = TEST_CONFIG.replace(
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n",
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n[routes.upload.structure]\npdf_scripts = true\n",
    );
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config, up.addr);
    let (mut accepted, mut refused, mut broken) = (0, 0, Vec::new());
    for ((label, hostile, bytes), pypdf) in samples.iter().zip(&found) {
        assert!(
            pypdf["error"].is_null(),
            "pypdf cannot read {label}: {pypdf}"
        );
        let active = !pypdf["active"].as_array().unwrap().is_empty();
        let form = Form::new("pdf-diff").file("file", "a.pdf", "application/pdf", bytes);
        let r = gw.request().path("/media").form(form);
        let passed = r.status == 201;
        if *hostile != active {
            broken.push(format!(
                "{label}: pypdf finds {} (hostile: {hostile})",
                pypdf["active"]
            ));
        }
        if passed && active {
            broken.push(format!(
                "{label}: accepted, pypdf finds {}",
                pypdf["active"]
            ));
        }
        if !passed && !*hostile {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            broken.push(format!("{label}: a clean sample refused: {body}"));
        }
        if passed { accepted += 1 } else { refused += 1 }
    }
    println!(
        "pdf differential: {} samples, {accepted} accepted, {refused} refused",
        samples.len()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // The upstream got the accepted samples whole, and no refused one.
    let complete = up
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.complete)
        .count();
    assert_eq!(complete, accepted);
}
