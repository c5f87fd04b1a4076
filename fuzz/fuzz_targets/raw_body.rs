//! A raw-body upload (src/inspect/framing.rs) through the whole inspection: no panic on any
//! bytes; the same verdict and reports however the body is chunked (first byte: the chunk
//! size); and until the body ends, never the whole body releasable (its last byte is held).
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use upload_gateway::inspect::{FileReport, Framing, Inspector};
use upload_gateway::policy::UploadPolicy;
use upload_gateway::policy::file::UploadFile;

fn policy() -> Arc<UploadPolicy> {
    let text = "body = \"raw\"\nallowed_types = [\"image/*\", \"application/pdf\", \"text/plain\"]\n\
                [structure]\n";
    let f: UploadFile = toml::from_str(text).unwrap();
    Arc::new(UploadPolicy::from_config(&f, "fuzz").unwrap())
}

fn run(body: &[u8], chunk: usize, declared: Option<&str>) -> Result<Vec<FileReport>, String> {
    let framing = Framing::Raw {
        declared: declared.map(str::to_string),
        filename: Some("f".into()),
        aws_chunked: None,
    };
    let mut i = Inspector::new(policy(), &framing);
    for part in body.chunks(chunk) {
        i.feed(Bytes::copy_from_slice(part)).map_err(|e| e.code().to_string())?;
        assert!(
            i.releasable() < body.len() as u64,
            "the whole raw body is releasable before it ended"
        );
    }
    i.finish().map_err(|e| e.code().to_string())?;
    assert_eq!(i.releasable(), body.len() as u64);
    Ok(i.files().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let [c, d, body @ ..] = data else { return };
    let declared = [None, Some("image/png"), Some("image/svg+xml"), Some("application/pdf")]
        [*d as usize % 4];
    assert_eq!(
        run(body, usize::MAX, declared),
        run(body, *c as usize % 64 + 1, declared)
    );
});
