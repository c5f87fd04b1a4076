//! The config loader over arbitrary text: every problem is an error with a path, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(errors) = Config::parse(text) {
            assert!(!errors.0.is_empty());
        }
    }
});
