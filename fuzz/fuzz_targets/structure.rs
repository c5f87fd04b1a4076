//! Structure checks (JPEG, PNG, GIF, PDF with its stream filters, TIFF, ICO, the zip walk of
//! office files, and image headers): no panic on any bytes, and
//! the same answer however the file is chunked (first byte: the type, second: the chunk size).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use upload_gateway::structure::{Check, StructureRules};

const TYPES: [&str; 9] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "application/pdf",
    "image/webp",
    "image/tiff",
    "image/vnd.microsoft.icon",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/zip",
];

fn run(rules: &Arc<StructureRules>, mime: &str, file: &[u8], chunk: usize) -> Result<Option<(u32, u32)>, String> {
    let window = file.len().min(512);
    let Some(mut check) = Check::start(rules, mime, &file[..window]).map_err(|r| r.code().to_string())? else {
        return Ok(None);
    };
    for c in file[window..].chunks(chunk) {
        check.feed(c).map_err(|r| r.code().to_string())?;
    }
    check.finish().map_err(|r| r.code().to_string())
}

fuzz_target!(|data: &[u8]| {
    let [t, c, file @ ..] = data else { return };
    let mime = TYPES[*t as usize % TYPES.len()];
    let rules = Arc::new(StructureRules {
        max_width: Some(4000),
        max_height: Some(4000),
        max_pixels: Some(1_000_000),
        end_marker: true,
        metadata_scripts: true,
        pdf_scripts: true,
        archive_entries: true,
    });
    let whole = run(&rules, mime, file, usize::MAX);
    let chunked = run(&rules, mime, file, *c as usize % 64 + 1);
    // Dimensions found later in smaller chunks may be checked at another byte, but the verdict
    // (accepted with these dimensions, or refused with this code) must not change.
    assert_eq!(whole, chunked, "{mime}");
});
