//! The S3 request check (src/s3.rs): the SigV4 credential from a presigned query or an
//! Authorization header, the signed-header rule and the PutObject rule, and SigV4 verification
//! (src/s3/sigv4.rs: dates, scopes, canonical paths, queries and headers). No panic on any
//! input, and an accepted request always names the listed access key and its tenant.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pingora::http::RequestHeader;
use upload_gateway::s3::{S3File, S3Rules};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.splitn(4, '\n');
    let (path, auth, header, value) = (
        fields.next().unwrap_or(""),
        fields.next().unwrap_or(""),
        fields.next().unwrap_or(""),
        fields.next().unwrap_or(""),
    );
    let uri = format!("/{}", path.trim_start_matches('/'));
    let Ok(mut req) = RequestHeader::build("PUT", uri.as_bytes(), None) else {
        return;
    };
    let _ = req.insert_header("host", "bucket.s3.test");
    if !auth.is_empty() {
        let _ = req.insert_header("authorization", auth);
    }
    if !header.is_empty() {
        let _ = req.insert_header(header.to_string(), value);
    }
    let f: S3File =
        toml::from_str("access_keys = { AKID = \"t\" }\ndomains = [\"s3.test\"]").unwrap();
    let rules = S3Rules::from_config(&f, "s3", std::path::Path::new(".")).unwrap();
    for rules in [&rules, verifying()] {
        for inspected in [false, true] {
            if let Ok(caller) = rules.check(&req, inspected) {
                assert_eq!(caller.access_key, "AKID");
                assert_eq!(caller.tenant, "t");
            }
        }
    }
});

/// The same rules with AKID's secret given: every request is verified.
fn verifying() -> &'static S3Rules {
    static RULES: std::sync::OnceLock<S3Rules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        let dir = std::env::temp_dir();
        let file = dir.join(format!("ugw-fuzz-s3-secret-{}", std::process::id()));
        std::fs::write(&file, "fuzz-secret").unwrap();
        let text = format!(
            "access_keys = {{ AKID = \"t\" }}\ndomains = [\"s3.test\"]\n\
             secrets = {{ AKID = {{ file = {:?} }} }}",
            file.display().to_string()
        );
        let f: S3File = toml::from_str(&text).unwrap();
        S3Rules::from_config(&f, "s3", &dir).unwrap()
    })
}
