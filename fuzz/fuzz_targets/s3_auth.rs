//! The S3 request check (src/s3.rs): the SigV4 credential from a presigned query or an
//! Authorization header, the signed-header rule and the PutObject rule. No panic on any
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
    let rules = S3Rules::from_config(&f, "s3").unwrap();
    for inspected in [false, true] {
        if let Ok(caller) = rules.check(&req, inspected) {
            assert_eq!(caller.access_key, "AKID");
            assert_eq!(caller.tenant, "t");
        }
    }
});
