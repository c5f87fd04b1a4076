//! The differential target: for every body the gateway's multipart parser accepts, the `multer`
//! crate (the parser under axum and many Rust backends) must see the same parts — names,
//! filenames, declared types and exact bytes. A body where they disagree must be one the
//! gateway refuses (docs/ARCHITECTURE.md, "Invariants").
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use upload_gateway::multipart::{Event, Parser};

#[derive(Debug, PartialEq, Eq)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

const BOUNDARY: &str = "b0undary";

fn ours(body: &[u8]) -> Option<Vec<Part>> {
    let mut p = Parser::new(BOUNDARY, 8 * 1024);
    p.push(Bytes::copy_from_slice(body));
    let mut parts: Vec<Part> = Vec::new();
    loop {
        match p.poll().ok()? {
            Some(Event::PartStart(h)) => parts.push(Part {
                name: h.name,
                filename: h.filename,
                content_type: h.content_type,
                data: Vec::new(),
            }),
            Some(Event::Data(d)) => parts.last_mut()?.data.extend_from_slice(&d),
            Some(Event::PartEnd) => {}
            Some(Event::Finished) => break,
            None => return None,
        }
    }
    p.finish().ok()?;
    Some(parts)
}

fn theirs(body: &[u8]) -> Result<Vec<Part>, String> {
    let body = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut m = multer::Multipart::new(stream, BOUNDARY);
    futures_executor::block_on(async {
        let mut parts = Vec::new();
        while let Some(field) = m.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.essence_str().to_ascii_lowercase());
            let data = field.bytes().await.map_err(|e| e.to_string())?.to_vec();
            parts.push(Part { name, filename, content_type, data });
        }
        Ok(parts)
    })
}

fuzz_target!(|body: &[u8]| {
    let Some(accepted) = ours(body) else {
        return;
    };
    match theirs(body) {
        Ok(seen) => assert_eq!(accepted, seen, "multer reads an accepted body differently"),
        Err(e) => panic!("multer refuses a body the gateway accepts: {e}"),
    }
});
