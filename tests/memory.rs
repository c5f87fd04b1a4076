//! Memory stays flat while a 500 MiB chunked body streams and is cut at the video limit. (Its
//! own test binary, alone: it reads the process's resident set, which sibling tests running in
//! the same process would move.)

#[path = "it/common/mod.rs"]
mod common;

use common::*;
use upload_gateway::multipart::Form;

const MB: usize = 1024 * 1024;

/// Reads this process's resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn chunked_body_is_cut_when_the_video_limit_is_crossed() {
    let (gw, upstream) = setup();
    let mp4 = fixture("media/clip.mp4");
    let form = Form::new("vid");
    let mut head = form.open_file("file", "big.mp4", "video/mp4");
    head.extend_from_slice(&mp4);
    let ct = form.content_type();
    let before = rss_kib();
    let chunk = vec![0x5Au8; MB];
    let total = 600;
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Transfer-Encoding", "chunked")
        .stream(client::chunked(total + 1, move |i| {
            if i == 0 { head.clone() } else { chunk.clone() }
        }));
    resp.assert_error(413, "too_large");
    let got = upstream.wait_for(1);
    assert!(!got[0].complete, "upstream body must be incomplete");
    assert!(
        got[0].body_len <= 500 * MB as u64 + 1024 * 1024,
        "cut at the limit, got {}",
        got[0].body_len
    );
    assert!(
        got[0].body_len >= 400 * MB as u64,
        "streamed until the limit, got {}",
        got[0].body_len
    );
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    // The upstream recorder keeps at most 8 MiB; the rest would be gateway buffering.
    assert!(
        grown_mib < 64,
        "process RSS grew by {grown_mib} MiB for a 500 MiB stream"
    );
}
