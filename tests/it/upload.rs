//! End to end: real corpus files through the real gateway to a recording upstream.

use crate::common::*;
use upload_gateway::multipart::Form;

/// The corpus files and their correct declared types (`file<TAB>type`).
fn media() -> Vec<(String, String)> {
    String::from_utf8(fixture("media/TYPES.tsv"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

/// Extracts the `file` part's content from a recorded body independently of the gateway's
/// parser: the bytes between the part's blank line and the next delimiter.
fn file_content<'a>(body: &'a [u8], boundary: &str) -> &'a [u8] {
    let marker = b"name=\"file\"";
    let at = body
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    let start = at
        + body[at..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
        + 4;
    let delim = format!("\r\n--{boundary}");
    let len = body[start..]
        .windows(delim.len())
        .position(|w| w == delim.as_bytes())
        .unwrap();
    &body[start..start + len]
}

#[test]
fn every_corpus_file_arrives_byte_identical() {
    let (gw, upstream) = setup();
    for (i, (file, mime)) in media().iter().enumerate() {
        let data = fixture(&format!("media/{file}"));
        let form = Form::new("gw-test-boundary")
            .field("client_reference_id", "ref-1")
            .file("file", file, mime, &data);
        let sent = form.clone().finish();
        let resp = gw
            .request()
            .header("X-Request-Id", &format!("corpus-{i}"))
            .form(form);
        assert_eq!(
            resp.status,
            201,
            "{file}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let got = upstream.wait_for(i + 1).pop().unwrap();
        assert!(got.complete, "{file}");
        assert_eq!(
            got.sha256,
            sha256_hex(&sent),
            "{file}: the body is forwarded unchanged"
        );
        assert_eq!(
            sha256_hex(file_content(&got.body, "gw-test-boundary")),
            sha256_hex(&data),
            "{file}"
        );
        assert_eq!(
            resp.header("x-upload-sha256"),
            Some(sha256_hex(&data).as_str()),
            "{file}"
        );
        assert_eq!(
            resp.header("x-upload-size"),
            Some(data.len().to_string().as_str())
        );
        assert_eq!(
            resp.header("x-request-id"),
            Some(format!("corpus-{i}").as_str())
        );
        assert_eq!(
            got.header("x-request-id"),
            Some(format!("corpus-{i}").as_str())
        );
        assert_eq!(
            got.header("x-upload-detected-type"),
            resp.header("x-upload-content-type"),
            "{file}"
        );
    }
}

#[test]
fn two_files_report_one_value_each_in_order() {
    let (gw, upstream) = setup();
    let (png, pdf) = (fixture("media/photo.png"), fixture("media/report.pdf"));
    let form = Form::new("b2")
        .file("file", "a.png", "image/png", &png)
        .file("attachment", "r.pdf", "application/pdf", &pdf);
    let resp = gw
        .request()
        .header("X-Upload-Detected-Type", "text/html")
        .form(form);
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.header_all("x-upload-sha256"),
        vec![sha256_hex(&png), sha256_hex(&pdf)],
        "the gateway's values replace the upstream's"
    );
    assert_eq!(
        resp.header_all("x-upload-content-type"),
        vec!["image/png", "application/pdf"]
    );
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(
        got.header("x-upload-detected-type"),
        Some("image/png"),
        "client copy removed"
    );
}

#[test]
fn chunked_upload_is_inspected_and_forwarded() {
    let (gw, upstream) = setup();
    let data = fixture("media/photo.bmp");
    let form = Form::new("chunky").file("file", "p.bmp", "image/bmp", &data);
    let ct = form.content_type();
    let body = form.finish();
    let sent = sha256_hex(&body);
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Transfer-Encoding", "chunked")
        .stream(client::chunked(body.len().div_ceil(7000), move |i| {
            body[i * 7000..((i + 1) * 7000).min(body.len())].to_vec()
        }));
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sent);
    assert_eq!(
        resp.header("x-upload-sha256"),
        Some(sha256_hex(&data).as_str())
    );
}

#[test]
fn expect_continue_is_answered_by_the_gateway() {
    let (gw, upstream) = setup();
    let form = Form::new("exp").file("file", "p.png", "image/png", &fixture("media/photo.png"));
    let ct = form.content_type();
    let (resp, sent) = gw
        .request()
        .header("Content-Type", &ct)
        .expect_continue(&form.finish());
    assert!(sent);
    assert_eq!(resp.status, 201);
    assert_eq!(resp.continues, 1);
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.header("expect"), None, "Expect is not forwarded");
}

#[test]
fn reads_are_proxied_untouched_and_unknown_routes_refused() {
    let (gw, upstream) = setup();
    let resp = gw.request().method("GET").path("/media/abc?x=1").body(b"");
    assert_eq!(resp.status, 201);
    assert_eq!(upstream.wait_for(1)[0].path, "/media/abc?x=1");
    let resp = gw.request().method("GET").path("/admin").body(b"");
    resp.assert_error(404, "not_found");
    for path in [
        "/media/../admin",
        "/media/%2e%2e/admin",
        "/media//x",
        "/media/a%2Fb",
        "/media/./x",
    ] {
        gw.request()
            .method("GET")
            .path(path)
            .body(b"")
            .assert_error(400, "bad_request");
    }
    let resp = gw.request().method("GET").path("/media/abc").body(b"");
    assert_eq!(
        resp.header("x-upload-sha256"),
        None,
        "upstream copies are removed on reads too"
    );
    assert_eq!(upstream.wait_for(2).len(), 2);
}

#[test]
fn unreachable_upstream_is_a_storage_error() {
    let dead: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let gw = TestGateway::start(dead);
    let form = Form::new("b").file("file", "p.png", "image/png", &fixture("media/photo.png"));
    gw.request().form(form).assert_error(502, "storage_error");
}

/// A 90 KB body whose first file part needs the whole window (an OLE document) sent in two
/// segments: the window must not read into a state pingora cannot replay.
#[test]
fn segmented_body_between_64_and_128_kib_is_forwarded_complete() {
    let mut doc = fixture("media/report.doc");
    doc.resize(88 * 1024, 0);
    two_segments_arrive_complete(Form::new("seg").file(
        "file",
        "r.doc",
        "application/msword",
        &doc,
    ));
}

/// Sends `form` with a Content-Length in two segments: 30 KiB, a pause, then the rest. Asserts
/// the upload was accepted and arrived complete and byte-identical.
fn two_segments_arrive_complete(form: Form) {
    use std::io::Write;
    let (gw, upstream) = setup();
    let ct = form.content_type();
    let body = form.finish();
    let sent = sha256_hex(&body);
    let len = body.len().to_string();
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Content-Length", &len)
        .stream(Box::new(move |s| {
            s.write_all(&body[..30 * 1024])?;
            s.flush()?;
            std::thread::sleep(std::time::Duration::from_millis(150));
            s.write_all(&body[30 * 1024..])
        }));
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sent);
}

/// Files past the inline-hashing threshold are hashed off the request task; the digest must
/// not change.
#[test]
fn large_file_digest_matches() {
    let (gw, upstream) = setup();
    let mut video = fixture("media/clip.mp4");
    video.extend((0..6 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let form = Form::new("large").file("file", "v.mp4", "video/mp4", &video);
    let body = form.clone().finish();
    let resp = gw.request().form(form);
    assert_eq!(resp.status, 201);
    assert_eq!(
        resp.header("x-upload-sha256"),
        Some(sha256_hex(&video).as_str())
    );
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sha256_hex(&body));
}

/// The window's second read overflows pingora's 64 KiB retry buffer (30 KB, then a burst) while
/// more body remains: the gateway replays the sniffed bytes itself and the upstream still gets
/// the body byte for byte.
#[test]
fn window_overflowing_the_retry_buffer_is_replayed_by_the_gateway() {
    let jpg = fixture("media/photo.jpg");
    let form = Form::new("ovf").field("notes", &"n".repeat(150_000)).file(
        "file",
        "p.jpg",
        "image/jpeg",
        &jpg,
    );
    two_segments_arrive_complete(form);
}

/// pingora retries an idempotent request whose reused upstream connection turns out dead, and
/// replays the body from its retry buffer: the upstream gets the whole body again, but the
/// gateway parses, counts and hashes each byte once.
#[test]
fn a_retried_put_is_forwarded_twice_but_inspected_once() {
    use std::sync::atomic::Ordering::SeqCst;
    let data = fixture("media/photo.png");
    let form = Form::new("retry-boundary").file("file", "p.png", "image/png", &data);
    let sent = form.clone().finish();
    // pingora puts a connection back in its pool on a task of its own after the response, so
    // the PUT rides the stale connection only once that ran; on a loaded machine it may not
    // have yet (the PUT then takes a new connection and nothing is retried): start over.
    let (_gw, upstream, resp) = (0..20)
        .find_map(|_| {
            let (gw, upstream) = setup();
            let warm = gw.request().method("GET").path("/media/warm").body(b"");
            assert_eq!(warm.status, 201, "keep-alive warm-up");
            std::thread::sleep(std::time::Duration::from_millis(100));
            upstream.hang_up_on_reuse.store(true, SeqCst);
            let resp = gw
                .request()
                .method("PUT")
                .path("/media/abc")
                .form(form.clone());
            let rode_the_pool = !upstream.hang_up_on_reuse.load(SeqCst);
            rode_the_pool.then_some((gw, upstream, resp))
        })
        .expect("the PUT never rode the pooled connection");
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let got = upstream.wait_for(3);
    assert_eq!(
        upstream.connection_count(),
        2,
        "the retry took a new connection"
    );
    for attempt in &got[1..] {
        assert_eq!(attempt.method, "PUT");
        assert!(attempt.complete);
        assert_eq!(
            attempt.body, sent,
            "each attempt got the body byte for byte"
        );
    }
    assert_eq!(
        resp.header("x-upload-size"),
        Some(data.len().to_string().as_str())
    );
    assert_eq!(
        resp.header("x-upload-sha256"),
        Some(sha256_hex(&data).as_str())
    );
}

/// `[server] read_buffer_bytes = 0` / `write_buffer_bytes = 0` (pingora's unbuffered listener):
/// the same bytes arrive, inspected, and the answer comes back whole.
#[test]
fn unbuffered_connections_carry_uploads_unchanged() {
    let upstream = RecordingUpstream::start();
    let text = TEST_CONFIG.replace(
        "[server]\n",
        "[server]\nread_buffer_bytes = 0\nwrite_buffer_bytes = 0\n",
    );
    assert!(
        text.contains("read_buffer_bytes = 0"),
        "the config has a [server] table"
    );
    let gw = TestGateway::start_with(&text, upstream.addr);
    let data = fixture("media/photo.jpg");
    let form = Form::new("unbuffered").file("file", "p.jpg", "image/jpeg", &data);
    let sent = form.clone().finish();
    let resp = gw.request().form(form);
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(
        resp.header("x-upload-sha256"),
        Some(sha256_hex(&data).as_str())
    );
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sha256_hex(&sent));
}
