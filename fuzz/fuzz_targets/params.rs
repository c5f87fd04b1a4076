//! Content-Type / Content-Disposition parameter parsing and boundary extraction: no panic, and
//! an accepted boundary is one the parser can use.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::multipart::{Parser, boundary_from_content_type, parse_params};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(boundary)) = boundary_from_content_type(data) {
        assert!(!boundary.is_empty() && boundary.len() <= 70, "{boundary:?}");
        let _ = Parser::new(&boundary, 1024);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(params) = parse_params(s) {
            for (k, _) in params {
                assert_eq!(k, k.to_ascii_lowercase(), "parameter names are lower-cased");
            }
        }
    }
});
