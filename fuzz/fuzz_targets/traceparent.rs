//! `traceparent` parsing: no panic, and what is accepted re-encodes to a value that parses to
//! the same trace.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::trace::{TraceContext, parse};

fuzz_target!(|data: &[u8]| {
    if let Some((trace_id, flags)) = parse(data) {
        let t = TraceContext::from_client(Some(data));
        assert_eq!((&t.trace_id, t.flags), (&trace_id, flags));
        assert_eq!(parse(t.header_value().as_bytes()), Some((trace_id, flags)));
    }
});
