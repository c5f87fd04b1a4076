//! The sniffer (infer, the zip/OOXML walk with its bounded inflate, the text rules) over
//! arbitrary bytes: no panic, a final look always decides, and a decision never flips when
//! the window is declared final.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::sniff::{Sniff, detect};

fuzz_target!(|data: &[u8]| {
    let early = detect(data, false);
    let last = detect(data, true);
    assert!(matches!(last, Sniff::Done(_)), "a final look must decide");
    if let Sniff::Done(d) = early {
        assert_eq!(Sniff::Done(d), last, "a decision does not depend on finality");
    }
});
