//! The SVG allowlist parser (src/sniff/svg.rs): no panic on any bytes, and the same verdict
//! however the file is chunked (first byte: the chunk size).
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::sniff::svg::SvgCheck;

fn run(file: &[u8], chunk: usize) -> Result<(), String> {
    let mut c = SvgCheck::new();
    for part in file.chunks(chunk) {
        c.feed(part)?;
    }
    c.finish()
}

fuzz_target!(|data: &[u8]| {
    let [c, file @ ..] = data else { return };
    assert_eq!(run(file, usize::MAX), run(file, *c as usize % 64 + 1));
});
