//! What parsing for active content costs: an SVG (parsed whole against the allowlist) and a PDF
//! (tokenized, object streams decoded) of 17 KiB and of 20 MB, inspected as the stream phase
//! does (64 KiB chunks), each against the same file on a route that does not parse it
//! (`allow_active_content` / no `pdf_scripts`: magic bytes, sniffing, SHA-256 only).
//! Run: cargo bench --bench active_content (figures in docs/PERFORMANCE.md).

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use upload_gateway::config::file::UploadFile;
use upload_gateway::inspect::{Framing, Inspector};
use upload_gateway::multipart::Form;
use upload_gateway::policy::UploadPolicy;

const BOUNDARY: &str = "bench-boundary-0123456789";

/// An SVG of about `size` bytes: shapes, paths, gradients and text, no script.
fn svg(size: usize) -> Vec<u8> {
    let mut out = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"600\" viewBox=\"0 0 800 600\"><defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#fff\"/></linearGradient></defs>\n".to_vec();
    let mut i = 0u32;
    while out.len() < size {
        let (x, y) = (i % 800, (i / 800) % 600);
        let shape = match i % 3 {
            0 => format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"4\" height=\"4\" fill=\"url(#g)\" stroke=\"#333\"/>\n"
            ),
            1 => format!(
                "<path d=\"M{x} {y} L{} {} Q 5 5 {x} {y} Z\" style=\"fill:#a0c;opacity:.5\"/>\n",
                x + 3,
                y + 7
            ),
            _ => format!(
                "<g transform=\"translate({x},{y})\"><text font-size=\"9\">label {i}</text></g>\n"
            ),
        };
        out.extend_from_slice(shape.as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"</svg>\n");
    out
}

/// A PDF of about `size` bytes: pages with content streams, and every tenth object group in a
/// Flate object stream.
fn pdf(size: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut n = 1u32;
    while out.len() < size {
        let content: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        out.extend_from_slice(
            format!(
                "{n} 0 obj << /Type /Page /Parent 1 0 R /Contents {} 0 R /Annots [] >> endobj\n{} 0 obj << /Length {} /Filter /FlateDecode >>\nstream\n",
                n + 1,
                n + 1,
                content.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&content);
        out.extend_from_slice(b"\nendstream\nendobj\n");
        if n % 10 == 1 {
            let objects =
                b"1 0 << /Title (A chapter) /Count 3 /First 5 0 R /Last 7 0 R >>".repeat(20);
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&objects).unwrap();
            let z = z.finish().unwrap();
            out.extend_from_slice(
                format!(
                    "{} 0 obj << /Type /ObjStm /N 20 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
                    n + 2,
                    z.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&z);
            out.extend_from_slice(b"\nendstream\nendobj\n");
        }
        n += 3;
    }
    out.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    out
}

fn policy(parse: bool) -> Arc<UploadPolicy> {
    let text = format!(
        "allowed_types = [\"image/svg+xml\", \"application/pdf\"]\nallow_active_content = {}\n\
         [max_bytes]\nimage = 100000000\ndocument = 100000000\n{}",
        !parse,
        if parse {
            "[structure]\npdf_scripts = true\n"
        } else {
            ""
        }
    );
    let f: UploadFile = toml::from_str(&text).unwrap();
    Arc::new(UploadPolicy::from_config(&f, "bench").unwrap())
}

fn chunks(name: &str, ty: &str, file: &[u8]) -> Vec<Bytes> {
    let body = Form::new(BOUNDARY).file("file", name, ty, file).finish();
    body.chunks(64 * 1024).map(Bytes::copy_from_slice).collect()
}

fn bench(c: &mut Criterion) {
    let framing = Framing::Multipart {
        boundary: BOUNDARY.into(),
    };
    for (label, ty, file) in [
        ("svg_17k", "image/svg+xml", svg(17 * 1024)),
        ("svg_20m", "image/svg+xml", svg(20_000_000)),
        ("pdf_17k", "application/pdf", pdf(17 * 1024)),
        ("pdf_20m", "application/pdf", pdf(20_000_000)),
    ] {
        let body = chunks("f", ty, &file);
        let mut g = c.benchmark_group(label);
        g.throughput(Throughput::Bytes(file.len() as u64));
        g.sample_size(if file.len() > 1 << 20 { 10 } else { 50 });
        for (variant, parse) in [("not_parsed", false), ("parsed", true)] {
            let p = policy(parse);
            g.bench_function(variant, |b| {
                b.iter(|| {
                    let mut i = Inspector::new(p.clone(), &framing);
                    for c in &body {
                        i.feed(c.clone()).unwrap();
                    }
                    i.finish().unwrap();
                    black_box(i.files().len())
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
