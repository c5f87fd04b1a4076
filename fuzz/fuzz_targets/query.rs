//! Query rules: no panic on any query string, and what passes has each ruled parameter at most
//! once, as an in-range integer, whichever way it was spelled.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use upload_gateway::query::{IntRange, QueryRules, decode};

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let range = IntRange { min: Some(1), max: Some(100) };
    let rules = QueryRules(BTreeMap::from([("page_size".to_string(), range)]));
    if rules.check(q).is_ok() {
        let values: Vec<String> = q
            .split('&')
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k)? == "page_size").then(|| decode(v)).flatten()
            })
            .collect();
        assert!(values.len() <= 1, "{q:?}");
        if let Some(v) = values.first() {
            let n: i64 = v.parse().unwrap();
            assert!((1..=100).contains(&n), "{q:?}");
        }
    }
});
