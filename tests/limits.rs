//! Size limits: by Content-Length before any body byte is read (with and without
//! `Expect: 100-continue`), and while a chunked body streams, with flat gateway memory.

mod common;

use common::*;
use std::io::Write;
use upload_gateway::multipart::Form;

const MB: usize = 1024 * 1024;

fn mp4_head() -> Vec<u8> {
    fixture("media/clip.mp4")
}

#[test]
fn content_length_over_the_limit_is_refused_unread() {
    let (gw, upstream) = setup();
    let form = Form::new("big");
    let ct = form.content_type();
    let declared = 600 * MB;
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Content-Length", &declared.to_string())
        .stream(Box::new(|s| s.write_all(b"--big\r\n")));
    resp.assert_error(413, "too_large");
    upstream.assert_untouched();
}

#[test]
fn expect_continue_rejection_is_final_and_body_is_never_sent() {
    let (gw, upstream) = setup();
    let form = Form::new("big");
    let ct = form.content_type();
    let head_only = b"irrelevant".to_vec();
    // Declares 600 MB but the client sends nothing unless told to continue.
    let req = gw.request().header("Content-Type", &ct);
    let (resp, sent) = req.expect_continue_declared(600 * MB, &head_only);
    assert!(!sent, "the client must not be asked for the body");
    assert_eq!(resp.continues, 0);
    resp.assert_error(413, "too_large");
    upstream.assert_untouched();
}

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
    let mp4 = mp4_head();
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

/// A client trickling the start of its body (1 byte per 100 ms, under the per-read timeout)
/// is answered 408 when `[server] window_timeout_ms` passes, before the upstream is contacted.
#[test]
fn a_trickled_sniff_window_times_out_before_the_upstream_is_contacted() {
    let upstream = RecordingUpstream::start();
    let config = TEST_CONFIG.replace("[server]\n", "[server]\nwindow_timeout_ms = 700\n");
    let gw = TestGateway::start_with(&config, upstream.addr);
    let form = Form::new("trickle");
    let head = form.open_file("file", "a.bin", "application/octet-stream");
    let started = std::time::Instant::now();
    let r = gw
        .request()
        .path("/media")
        .header("Content-Type", &form.content_type())
        .header("Content-Length", "100000")
        .stream(Box::new(move |s| {
            s.write_all(&head)?;
            for _ in 0..100 {
                std::thread::sleep(std::time::Duration::from_millis(100));
                s.write_all(b"\0")?;
            }
            Ok(())
        }));
    r.assert_error(408, "timeout");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    upstream.assert_untouched();
}
