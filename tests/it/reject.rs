//! Refusals: hostile files, type mismatches, malformed and ambiguous multipart. Every test
//! asserts the upstream side too: untouched when decided in the sniff window, never a complete
//! body otherwise.

use crate::common::*;
use upload_gateway::multipart::Form;

fn upload(file: &[u8], declared: &str, filename: &str) -> (Form, Vec<u8>) {
    let form = Form::new("rej-boundary").file("file", filename, declared, file);
    let body = form.clone().finish();
    (form, body)
}

#[test]
fn hostile_and_mismatched_files_never_reach_the_upstream() {
    let cases = [
        (
            "hostile/elf-binary.bin",
            "image/png",
            415,
            "content_mismatch",
        ),
        (
            "hostile/elf-binary.bin",
            "application/octet-stream",
            415,
            "unsupported_media_type",
        ),
        (
            "hostile/windows.exe",
            "application/octet-stream",
            415,
            "unsupported_media_type",
        ),
        ("hostile/windows.exe", "video/mp4", 415, "content_mismatch"),
        ("hostile/page.html", "image/gif", 415, "content_mismatch"),
        (
            "hostile/page.html",
            "text/html",
            415,
            "unsupported_media_type",
        ),
        (
            "hostile/scripted.svg",
            "image/svg+xml",
            415,
            "unsupported_media_type",
        ),
        ("hostile/script.sh", "image/jpeg", 415, "content_mismatch"),
        (
            "hostile/archive.zip",
            "application/zip",
            415,
            "unsupported_media_type",
        ),
        (
            "hostile/archive.zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            415,
            "content_mismatch",
        ),
        ("media/photo.png", "image/jpeg", 415, "content_mismatch"),
        ("media/photo.jpg", "image/png", 415, "content_mismatch"),
        ("media/clip.mp4", "audio/mpeg", 415, "content_mismatch"),
        ("media/report.pdf", "image/png", 415, "content_mismatch"),
        ("media/tone.wav", "audio/mpeg", 415, "content_mismatch"),
    ];
    for (file, declared, status, code) in cases {
        let (gw, upstream) = setup();
        let (form, _) = upload(&fixture(file), declared, "upload.bin");
        let resp = gw.request().form(form);
        resp.assert_error(status, code);
        upstream.assert_untouched();
    }
}

#[test]
fn filename_less_file_part_is_inspected_like_any_other() {
    let (gw, upstream) = setup();
    let form = Form::new("nofn").raw_part(
        &[
            "Content-Disposition: form-data; name=\"file\"",
            "Content-Type: image/jpeg",
        ],
        &fixture("media/photo.png"),
    );
    gw.request()
        .form(form)
        .assert_error(415, "content_mismatch");
    upstream.assert_untouched();
}

/// A file part starting after the 64 KiB sniff window is decided in the stream phase: the
/// upstream was contacted but never received the complete body.
#[test]
fn late_file_part_is_cut_off_upstream() {
    let (gw, upstream) = setup();
    let notes = "n".repeat(100_000);
    let form = Form::new("late").field("notes", &notes).file(
        "file",
        "x.png",
        "image/png",
        &fixture("hostile/elf-binary.bin"),
    );
    gw.request()
        .form(form)
        .assert_error(415, "content_mismatch");
    let got = upstream.wait_for(1);
    assert!(!got[0].complete, "upstream must not see a complete body");
    assert!(
        got[0].body_len < 100_000 + 200,
        "the ELF bytes were held back"
    );
    upstream.assert_no_complete_body();
}

#[test]
fn late_good_file_part_passes() {
    let (gw, upstream) = setup();
    let data = fixture("media/photo.jpg");
    let form = Form::new("late").field("notes", &"n".repeat(100_000)).file(
        "file",
        "p.jpg",
        "image/jpeg",
        &data,
    );
    let body = form.clone().finish();
    let resp = gw
        .request()
        .header("X-Upload-Detected-Type", "image/jpeg")
        .form(form);
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("x-upload-content-type"), Some("image/jpeg"));
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sha256_hex(&body));
    assert_eq!(
        got.header("x-upload-detected-type"),
        None,
        "undecided before connecting: not sent, and a client copy never passes"
    );
}

fn raw(gw: &TestGateway, content_type: &str, body: &[u8]) -> crate::common::client::Response {
    gw.request().header("Content-Type", content_type).body(body)
}

#[test]
fn malformed_requests_are_refused_with_clear_codes() {
    let png = fixture("media/photo.png");
    let ok_ct = "multipart/form-data; boundary=mb";
    let good = Form::new("mb").file("file", "p.png", "image/png", &png);
    let no_close = good.open_body().to_vec();
    let long_b = "b".repeat(71);
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (
            "multipart/form-data".into(),
            good.clone().finish(),
            400,
            "invalid_multipart",
        ),
        (
            format!("multipart/form-data; boundary={long_b}"),
            good.clone().finish(),
            400,
            "invalid_multipart",
        ),
        (
            "multipart/form-data; boundary=mb; boundary=other".into(),
            good.clone().finish(),
            400,
            "invalid_multipart",
        ),
        (
            "multipart/form-data; boundary= mb".into(),
            good.clone().finish(),
            400,
            "invalid_multipart",
        ),
        (
            "application/json".into(),
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (ok_ct.into(), no_close, 400, "invalid_multipart"),
        (
            ok_ct.into(),
            Form::new("mb")
                .raw_part(
                    &[
                        "Content-Disposition: form-data; name=\"file\"; filename=\"p.png\"",
                        &format!("X-Pad: {}", "a".repeat(2000)),
                    ],
                    &png,
                )
                .finish(),
            400,
            "invalid_multipart",
        ),
        (
            ok_ct.into(),
            (0..7)
                .fold(Form::new("mb"), |f, i| f.field(&format!("f{i}"), "v"))
                .finish(),
            400,
            "invalid_multipart",
        ),
        (
            ok_ct.into(),
            Form::new("mb").field("title", "no file").finish(),
            422,
            "validation_error",
        ),
        (
            ok_ct.into(),
            Form::new("mb")
                .field("client_reference_id", &"r".repeat(257))
                .file("file", "p.png", "image/png", &png)
                .finish(),
            422,
            "validation_error",
        ),
        (
            ok_ct.into(),
            Form::new("mb")
                .file("file", "../../etc/passwd", "image/png", &png)
                .finish(),
            422,
            "validation_error",
        ),
        (
            ok_ct.into(),
            Form::new("mb")
                .file("file", "p.png", "image/png", &png)
                .file("file", "q.png", "image/png", &png)
                .file("file", "r.png", "image/png", &png)
                .finish(),
            400,
            "invalid_multipart",
        ),
        (
            ok_ct.into(),
            Form::new("mb")
                .field("title", &"t".repeat(9000))
                .file("file", "p.png", "image/png", &png)
                .finish(),
            422,
            "validation_error",
        ),
    ];
    for (i, (ct, body, status, code)) in cases.into_iter().enumerate() {
        let (gw, upstream) = setup();
        let resp = raw(&gw, &ct, &body);
        assert_eq!(
            (resp.status, resp.code()),
            (status, code.to_string()),
            "case {i}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        resp.assert_error(status, code);
        upstream.assert_no_complete_body();
    }
}

#[test]
fn ambiguities_are_refused_before_the_upstream_sees_a_complete_body() {
    let png = fixture("media/photo.png");
    let cd = "Content-Disposition: form-data; name=\"file\"; filename=\"p.png\"";
    let ct = "Content-Type: image/png";
    let parts: Vec<Form> = vec![
        Form::new("amb").raw_part(&[cd, cd, ct], &png),
        Form::new("amb").raw_part(&[cd, ct, "Content-Type: image/jpeg"], &png),
        Form::new("amb").raw_part(&["Content-Disposition: form-data; name=\"file\"; filename=\"p.png\"; filename*=UTF-8''evil.exe", ct], &png),
        Form::new("amb").raw_part(&["Content-Disposition: form-data; name=\"file\";", " filename=\"p.png\"", ct], &png),
        Form::new("amb").raw_part(&[cd, ct, "Content-Transfer-Encoding: base64"], &png),
        Form::new("amb").raw_part(&["Content-Disposition: form-data; name=\"file\"", "Content-Type: multipart/mixed; boundary=inner"], b"--inner\r\n\r\nx\r\n--inner--"),
        Form::new("amb").field("a", "1").field("a", "2").file("file", "p.png", "image/png", &png),
    ];
    let mut bodies: Vec<Vec<u8>> = parts.into_iter().map(|f| f.finish()).collect();
    // Bare LF in part headers.
    let mut lf = b"--amb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\nContent-Type: image/png\r\n\r\n".to_vec();
    lf.extend_from_slice(&png);
    lf.extend_from_slice(b"\r\n--amb--\r\n");
    bodies.push(lf);
    // Data after the closing boundary.
    let mut trailing = Form::new("amb")
        .file("file", "p.png", "image/png", &png)
        .finish();
    trailing.extend_from_slice(
        b"--amb\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nsmuggled\r\n--amb--\r\n",
    );
    bodies.push(trailing);
    for (i, body) in bodies.into_iter().enumerate() {
        let (gw, upstream) = setup();
        let resp = raw(&gw, "multipart/form-data; boundary=amb", &body);
        assert_eq!(
            resp.status,
            400,
            "case {i}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        resp.assert_error(400, "invalid_multipart");
        upstream.assert_no_complete_body();
    }
}

#[test]
fn compressed_bodies_are_refused() {
    let (gw, upstream) = setup();
    let form = Form::new("z").file("file", "p.png", "image/png", &fixture("media/photo.png"));
    let ct = form.content_type();
    gw.request()
        .header("Content-Type", &ct)
        .header("Content-Encoding", "gzip")
        .body(&form.finish())
        .assert_error(415, "unsupported_media_type");
    upstream.assert_untouched();
}

/// A large body refused mid-stream (a spoofed file after the sniff window) while the client is
/// still sending: the client must still read the error, not a connection reset.
#[test]
fn mid_stream_refusal_of_a_large_body_is_readable() {
    use std::io::Write;
    let (gw, upstream) = setup();
    let form = Form::new("big-late").field("notes", &"n".repeat(100_000));
    let mut head = form.open_file("file", "x.png", "image/png");
    head.extend_from_slice(&fixture("hostile/elf-binary.bin"));
    let total = head.len() + 200 * 1024 * 1024;
    let ct = form.content_type();
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Content-Length", &total.to_string())
        .stream(Box::new(move |s| {
            s.write_all(&head)?;
            let chunk = vec![0u8; 1024 * 1024];
            for _ in 0..200 {
                s.write_all(&chunk)?;
            }
            Ok(())
        }));
    resp.assert_error(415, "content_mismatch");
    upstream.assert_no_complete_body();
}

#[test]
fn conflicting_framing_headers_are_refused_or_normalised() {
    use std::io::Write;
    let png = fixture("media/photo.png");
    let form = Form::new("fr").file("file", "p.png", "image/png", &png);
    let (ct, body) = (form.content_type(), form.finish());
    let (gw, upstream) = setup();
    gw.request()
        .header("Content-Type", &ct)
        .header("Content-Type", "multipart/form-data; boundary=other")
        .body(&body)
        .assert_error(400, "invalid_multipart");
    // Duplicate Content-Length: pingora's own (bare) 400 before any hook runs.
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Content-Length", &body.len().to_string())
        .header("Content-Length", "5")
        .stream(Box::new(|_| Ok(())));
    assert_eq!(resp.status, 400);
    upstream.assert_untouched();
    // Content-Length with Transfer-Encoding: chunked framing wins and the upstream never sees
    // both headers, so it cannot frame the body differently.
    let sent = sha256_hex(&body);
    let len = body.len();
    let resp = gw
        .request()
        .header("Content-Type", &ct)
        .header("Content-Length", "10")
        .header("Transfer-Encoding", "chunked")
        .stream(Box::new(move |s| {
            write!(s, "{len:x}\r\n")?;
            s.write_all(&body)?;
            s.write_all(b"\r\n0\r\n\r\n")
        }));
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let got = upstream.wait_for(1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sent);
    assert!(got.header("content-length").is_none() || got.header("transfer-encoding").is_none());
}

/// busboy (express-fileupload, fastify) takes a part with any `filename` parameter, or declared
/// `application/octet-stream`, for a file whatever its name: such parts are inspected as files
/// under the route's policy here too, never forwarded as "text" fields.
#[test]
fn parts_other_parsers_take_for_files_are_inspected_as_files() {
    let (gw, upstream) = setup();
    let png = fixture("media/photo.png");
    let svg = fixture("hostile/scripted.svg");
    let sh = fixture("hostile/script.sh");
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        (
            "octet-stream without filename",
            vec![
                "Content-Disposition: form-data; name=\"avatar\"",
                "Content-Type: application/octet-stream",
            ],
            &svg,
        ),
        (
            "octet-stream in upper case with parameters",
            vec![
                "Content-Disposition: form-data; name=\"avatar\"",
                "Content-Type: APPLICATION/OCTET-STREAM; charset=binary",
            ],
            &sh,
        ),
        (
            "empty filename",
            vec!["Content-Disposition: form-data; name=\"avatar\"; filename=\"\""],
            &sh,
        ),
        (
            "image type without filename",
            vec![
                "Content-Disposition: form-data; name=\"avatar\"",
                "Content-Type: image/svg+xml",
            ],
            &svg,
        ),
    ];
    for (why, headers, content) in cases {
        let form = Form::new("busboy-b").raw_part(&headers, content).file(
            "file",
            "p.png",
            "image/png",
            &png,
        );
        let resp = gw.request().form(form);
        assert!(
            [400, 415, 422].contains(&resp.status),
            "{why}: got {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
        assert!(resp.json()["error"]["request_id"].is_string(), "{why}");
    }
    upstream.assert_no_complete_body();
    // A plain text field still passes next to the file.
    let ok = Form::new("busboy-b")
        .raw_part(
            &[
                "Content-Disposition: form-data; name=\"client_reference_id\"",
                "Content-Type: text/plain; charset=utf-8",
            ],
            b"ref-7",
        )
        .file("file", "p.png", "image/png", &png);
    assert_eq!(gw.request().form(ok).status, 201);
}

/// On a route allowing text/plain: text holding script, or an SVG after 70 KB of text (past the
/// sniff window, so it is found while the part streams), is refused and never reaches the
/// upstream complete; plain text with `<`, `>` and "on" in it passes byte-identical.
#[test]
fn text_that_is_markup_further_in_is_not_plain_text() {
    let config = TEST_CONFIG.replace(
        "\"application/vnd.oasis.opendocument.text\"]",
        "\"application/vnd.oasis.opendocument.text\", \"text/plain\"]",
    );
    assert_ne!(config, TEST_CONFIG, "the template changed");
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config, up.addr);
    let mut late = b"notes ".to_vec();
    late.resize(70_000, b'-');
    late.extend_from_slice(b"\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>");
    for text in [&b"x<script>alert(1)</script>"[..], &late] {
        let (form, _) = upload(text, "text/plain", "notes.txt");
        gw.request()
            .path("/media")
            .form(form)
            .assert_error(415, "unsupported_media_type");
    }
    up.assert_no_complete_body();
    let plain = b"a < b, on time: x = 1\n".repeat(500);
    let (form, body) = upload(&plain, "text/plain", "notes.txt");
    let r = gw.request().path("/media").form(form);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let got = up.wait_for(1);
    let last = got.last().unwrap();
    assert!(last.complete);
    assert_eq!(last.sha256, sha256_hex(&body));
}
