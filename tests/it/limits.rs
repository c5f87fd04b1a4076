//! Size limits: by Content-Length before any body byte is read (with and without
//! `Expect: 100-continue`), and by a whole-window deadline (the memory-flat chunked cut is in
//! tests/memory.rs).

use crate::common::*;
use std::io::Write;
use upload_gateway::multipart::Form;

const MB: usize = 1024 * 1024;

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
