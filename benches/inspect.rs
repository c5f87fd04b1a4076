//! Criterion bench of the stream-phase hot path: `UploadStream::push` (multipart parsing +
//! sniffing + SHA-256 + hold-back) over a 16 MiB upload fed in 64 KiB chunks, against SHA-256 alone over the same bytes (the floor).
//! Run: cargo bench --bench inspect

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::sync::Arc;
use upload_gateway::config::file::UploadFile;
use upload_gateway::inspect::{Framing, UploadStream};
use upload_gateway::multipart::Form;
use upload_gateway::policy::UploadPolicy;

fn body() -> Vec<u8> {
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/media/photo.png"
    ))
    .unwrap();
    let mut file = png.clone();
    file.extend((0..16 * 1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    Form::new("bench-boundary-0123456789")
        .field("client_reference_id", "r1")
        .file("file", "p.png", "image/png", &file)
        .finish()
}

fn policy() -> Arc<UploadPolicy> {
    let f: UploadFile = toml::from_str("allowed_types = [\"image/png\"]").unwrap();
    Arc::new(UploadPolicy::from_config(&f, "bench").unwrap())
}

fn bench(c: &mut Criterion) {
    let body = body();
    let chunks: Vec<bytes::Bytes> = body
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let policy = policy();
    let framing = Framing::Multipart {
        boundary: "bench-boundary-0123456789".into(),
    };
    let mut g = c.benchmark_group("stream_phase");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("sha256_only_baseline", |b| {
        b.iter(|| {
            let mut h = Sha256::new();
            for c in &chunks {
                h.update(c);
            }
            black_box(h.finalize())
        })
    });
    // The stream phase exactly as the proxy drives it: one `push` per body chunk.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("upload_stream_push", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut s = UploadStream::new(policy.clone(), &framing);
                let last = chunks.len() - 1;
                for (i, c) in chunks.iter().enumerate() {
                    black_box(s.push(Some(c.clone()), i == last).await.unwrap());
                }
                black_box(s.inspector().files().len())
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
