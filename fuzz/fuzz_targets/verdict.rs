//! What the gateway parses beyond uploads: a received body with a signed verdict (the
//! backend's side, `check_body`), clamd's INSTREAM reply and Idempotency-Key values. No panic;
//! a verdict never verifies without the key's signature.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::verdict::{Expect, check_body};

fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    match which % 3 {
        0 => {
            let expect = Expect { request_id: None, max_age_secs: u64::MAX, now: 0 };
            let key = b"fuzz-key-fuzz-key-fuzz-key-fuzz-key!";
            let r = check_body(key, "upload_gateway_verdict", "multipart/form-data; boundary=b", rest, &expect);
            if r.is_ok() {
                // Only a body carrying the HMAC of its verdict under this key can pass.
                assert!(rest.windows(7).any(|w| w == b"sha256="));
            }
        }
        1 => {
            let _ = upload_gateway::scan::parse_reply(rest);
        }
        _ => {
            let rules = upload_gateway::idempotency::Idempotency::from_config(
                &toml::from_str("").unwrap(),
                "fuzz",
            )
            .unwrap();
            if let Ok(Some(key)) = rules.key_of(&[rest]) {
                assert!(!key.is_empty() && key.len() <= 255);
                assert!(key.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"'));
            }
        }
    }
});
