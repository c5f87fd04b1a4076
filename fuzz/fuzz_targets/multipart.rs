//! The multipart push parser over arbitrary bytes in arbitrary chunk splits: it never panics,
//! and the events (concatenated part data) do not depend on the chunking.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use upload_gateway::multipart::{Event, Parser};

/// Events with adjacent `Data` joined, or the error.
fn run(body: &[u8], cuts: &[u8]) -> Result<Vec<Event>, String> {
    let mut p = Parser::new("b0undary", 1024);
    let mut events: Vec<Event> = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = (cuts.get(i).copied().unwrap_or(255) as usize + 1).min(rest.len());
        i += 1;
        p.push(Bytes::copy_from_slice(&rest[..n]));
        rest = &rest[n..];
        while let Some(e) = p.poll()? {
            match (events.last_mut(), e) {
                (Some(Event::Data(prev)), Event::Data(d)) => {
                    let mut joined = prev.to_vec();
                    joined.extend_from_slice(&d);
                    *prev = Bytes::from(joined);
                }
                (_, e) => events.push(e),
            }
        }
    }
    p.finish()?;
    Ok(events)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (cuts, body) = data.split_at(4);
    let whole = run(body, &[255; 0]);
    let split = run(body, cuts);
    assert_eq!(whole.is_ok(), split.is_ok(), "acceptance depends on chunking");
    if let (Ok(a), Ok(b)) = (whole, split) {
        assert_eq!(a, b, "events depend on chunking");
    }
});
