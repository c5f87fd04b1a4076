//! tus (src/tus.rs, src/inspect/stream.rs): what a request asks, read from any headers, never
//! panics, and a length it accepts is the one sent; a resumable upload split into any requests
//! (at the two offsets given by the first bytes) never releases its final byte unless every
//! check passed, and releases exactly the file when they did.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use upload_gateway::inspect::{Ending, Framing, UploadStream};
use upload_gateway::policy::UploadPolicy;
use upload_gateway::policy::file::UploadFile;
use upload_gateway::tus::{self, Ask};

fn headers(text: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.trim().as_bytes()),
                http::HeaderValue::from_str(v.trim()),
            )
        {
            h.append(k, v);
        }
    }
    h
}

fn policy() -> Arc<UploadPolicy> {
    let text = "body = \"raw\"\nallowed_types = [\"image/*\", \"application/pdf\", \"text/plain\"]\n\
                [structure]\n";
    let f: UploadFile = toml::from_str(text).unwrap();
    Arc::new(UploadPolicy::from_config(&f, "fuzz").unwrap())
}

fn upload(file: &[u8], cuts: [usize; 2], declared: &str) {
    let framing = Framing::Raw {
        declared: Some(declared.into()),
        filename: None,
        aws_chunked: None,
    };
    let len = file.len() as u64;
    let mut s = UploadStream::resumable(policy(), &framing, Ending::Length(len));
    let mut bounds = vec![0, cuts[0].min(file.len()), cuts[1].min(file.len()), file.len()];
    bounds.sort_unstable();
    let mut released = Vec::new();
    for w in bounds.windows(2) {
        let (from, to) = (w[0], w[1]);
        if from > 0 {
            assert!(s.resume(from as u64), "the stream continues where it stopped");
        }
        let result = futures_executor::block_on(async {
            let mut out = Vec::new();
            for c in file[from..to].chunks(997) {
                out.extend_from_slice(&s.push(Some(Bytes::copy_from_slice(c)), false).await?);
            }
            out.extend_from_slice(&s.push(None, true).await?);
            Ok::<_, upload_gateway::rejection::Rejection>(out)
        });
        match result {
            Ok(out) => released.extend_from_slice(&out),
            Err(_) => {
                assert!((released.len() as u64) < len.max(1), "a refused file was released whole");
                return;
            }
        }
    }
    assert_eq!(released, file, "an accepted file is released byte for byte");
}

fuzz_target!(|data: &[u8]| {
    let [a, b, d, rest @ ..] = data else { return };
    let text = String::from_utf8_lossy(rest);
    let h = headers(&text);
    for method in ["POST", "PATCH", "HEAD", "DELETE"] {
        if let Ok(Ask::Create { length: Some(l), .. } | Ask::Patch { length: Some(l), .. }) =
            tus::ask(method, &h, Some(rest.len() as u64))
        {
            let sent = h.get("upload-length").and_then(|v| v.to_str().ok());
            assert_eq!(sent.map(|v| v.trim().parse::<u64>().ok()), Some(Some(l)));
        }
    }
    let _ = tus::metadata(&text);
    let declared = ["image/png", "image/jpeg", "image/svg+xml", "application/pdf"][*d as usize % 4];
    let cuts = [*a as usize * 97, *b as usize * 211];
    upload(rest, cuts, declared);
});
