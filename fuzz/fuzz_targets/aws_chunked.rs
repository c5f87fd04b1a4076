//! The aws-chunked decoder (src/inspect/aws_chunked.rs): no panic on any bytes, and the same
//! payload and verdict however the body is split (first byte: the piece size; second: which
//! mode the headers declared).
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use upload_gateway::inspect::aws_chunked::{Algorithm, Decoder, Spec};

fn run(spec: Spec, body: &[u8], cut: usize) -> Result<Vec<u8>, (bool, String)> {
    let mut d = Decoder::new(spec);
    let mut payload = Vec::new();
    for piece in body.chunks(cut) {
        d.push(&Bytes::copy_from_slice(piece), &mut |b| payload.extend_from_slice(&b))
            .map_err(|e| (false, e))?;
    }
    d.finish().map(|()| payload)
}

fuzz_target!(|data: &[u8]| {
    let [c, m, body @ ..] = data else { return };
    let trailer = [None, Some(Algorithm::Crc32), Some(Algorithm::Crc64Nvme), Some(Algorithm::Sha256)]
        [*m as usize % 4];
    let spec = Spec {
        decoded_length: u64::from(m / 8),
        signed: m % 8 >= 4,
        trailer,
    };
    let whole = run(spec.clone(), body, usize::MAX);
    let split = run(spec, body, *c as usize % 16 + 1);
    assert_eq!(whole.is_ok(), split.is_ok(), "the verdict depends on the chunking");
    if let (Ok(a), Ok(b)) = (whole, split) {
        assert_eq!(a, b, "the payload depends on the chunking");
    }
});
