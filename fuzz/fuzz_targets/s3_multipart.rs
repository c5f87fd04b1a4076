//! S3 multipart upload parsing (src/s3/multipart.rs): the operation of a method and query, the
//! upload id of a creation answer, what a Complete's answer reports, and the strict
//! `CompleteMultipartUpload` reader; and a presigned POST's fields and policy (src/s3/post.rs).
//! No panic; what the reader accepts is a non-empty list of strictly ascending part numbers in 1..=10000.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upload_gateway::s3::multipart::{complete_parts, completion, created_upload_id, op};
use upload_gateway::s3::post::read_form;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = match first % 3 {
        0 => http::Method::PUT,
        1 => http::Method::POST,
        _ => http::Method::DELETE,
    };
    let _ = op(&method, &String::from_utf8_lossy(rest));
    let _ = created_upload_id(rest);
    let _ = completion(rest);
    if let Ok(parts) = complete_parts(rest) {
        assert!(!parts.is_empty());
        assert!(parts.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(parts.iter().all(|(n, _)| (1..=10_000).contains(n)));
    }
    // Form fields, one `name=value` a line (a `policy` line's value is base64 of JSON).
    let fields: Vec<(String, Vec<u8>)> = rest
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let at = line.iter().position(|b| *b == b'=')?;
            Some((
                String::from_utf8_lossy(&line[..at]).into_owned(),
                line[at + 1..].to_vec(),
            ))
        })
        .collect();
    if let Ok(form) = read_form(&fields) {
        let _ = form.check_type("image/jpeg");
        let _ = form.check_size(u64::from(first) * 1000, first % 2 == 0);
        let _ = form.day_and_region();
    }
});
