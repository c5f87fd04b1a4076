//! Raw-body uploads (`[routes.upload] body = "raw"`): the body is the file, declared by the
//! request's `Content-Type`. It gets what a multipart file part gets — magic bytes against the
//! declared type, the allowlist, the category limit (Content-Length in the header phase, the
//! streamed count for chunked bodies), SHA-256, active-content checks, clamd — and the last byte
//! is held until every check passed, so a refused body never reaches the upstream complete.
//! Driven by the test client (Content-Length and chunked) and by curl (`-T`, HTTP/1.1 and h2c).

use crate::common::clamd::{EICAR, Mode, fake_clamd};
use crate::common::{RecordingUpstream, TestGateway, chunked, fixture, free_port, sha256_hex};

/// `PUT /files/{name}`: images (100 kB), video, PDF; SVG judged by the allowlist parser.
const CONFIG: &str = r#"
[server]
threads = 2
h2c = true
client_read_timeout_ms = 10000

[[listeners]]
address = "{LISTEN}"

[upstreams.store]
address = "{UPSTREAM}"
read_timeout_ms = 20000

[[routes]]
name = "files"
path = "/files/*"
methods = ["PUT", "POST"]
upstream = "store"
[routes.upload]
body = "raw"
allowed_types = ["image/*", "video/*", "application/pdf"]
[routes.upload.max_bytes]
image = 100000
"#;

fn gateway(extra: &str) -> (TestGateway, RecordingUpstream) {
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&format!("{CONFIG}{extra}"), up.addr);
    (gw, up)
}

fn put(
    gw: &TestGateway,
    name: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> crate::common::Response {
    let mut req = gw.request().method("PUT").path(&format!("/files/{name}"));
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    req.body(body)
}

#[test]
fn raw_uploads_are_inspected_and_forwarded_byte_for_byte() {
    let (gw, up) = gateway("");
    let cases = [
        ("photo.png", Some("image/png"), "image/png"),
        ("photo.jpg", Some("image/jpg"), "image/jpeg"),
        ("clip.mp4", Some("video/mp4"), "video/mp4"),
        (
            "report.pdf",
            Some("application/pdf; charset=binary"),
            "application/pdf",
        ),
        ("photo.gif", None, "image/gif"),
    ];
    for (i, (name, declared, detected)) in cases.into_iter().enumerate() {
        let bytes = fixture(&format!("media/{name}"));
        let r = put(&gw, name, declared, &bytes);
        assert_eq!(
            r.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            r.header("x-upload-sha256"),
            Some(sha256_hex(&bytes).as_str())
        );
        assert_eq!(r.header("x-upload-content-type"), Some(detected), "{name}");
        assert_eq!(
            r.header("x-upload-size"),
            Some(bytes.len().to_string().as_str())
        );
        let got = &up.wait_for(i + 1)[i];
        assert!(got.complete, "{name}");
        assert_eq!(got.sha256, sha256_hex(&bytes), "{name}: byte for byte");
        assert_eq!(got.path, format!("/files/{name}"));
        assert_eq!(got.header("x-upload-detected-type"), Some(detected));
    }
    // Chunked, in odd pieces: the same bytes arrive, the same verdict.
    let png = fixture("media/photo.png");
    let pieces = png.chunks(777).map(<[u8]>::to_vec).collect::<Vec<_>>();
    let n = pieces.len();
    let r = gw
        .request()
        .method("PUT")
        .path("/files/chunked.png")
        .header("Content-Type", "image/png")
        .header("Transfer-Encoding", "chunked")
        .stream(chunked(n, move |i| pieces[i].clone()));
    assert_eq!(r.status, 201);
    let got = up.wait_for(cases.len() + 1).pop().unwrap();
    assert!(got.complete);
    assert_eq!(got.sha256, sha256_hex(&png));
}

#[test]
fn spoofs_and_refused_types_never_reach_the_upstream() {
    let (gw, up) = gateway("");
    let elf = fixture("hostile/elf-binary.bin");
    put(&gw, "a.png", Some("image/png"), &elf).assert_error(415, "content_mismatch");
    put(&gw, "a.bin", None, &elf).assert_error(415, "unsupported_media_type");
    let html = fixture("hostile/page.html");
    put(&gw, "a.html", Some("text/html"), &html).assert_error(415, "unsupported_media_type");
    let svg = fixture("hostile/scripted.svg");
    put(&gw, "a.svg", Some("image/svg+xml"), &svg).assert_error(415, "unsupported_media_type");
    // A declared type over its category limit: refused before a body byte is read.
    let (status, sent) = gw
        .request()
        .method("PUT")
        .path("/files/big.png")
        .header("Content-Type", "image/png")
        .expect_continue_declared(100_001, b"");
    status.assert_error(413, "too_large");
    assert!(!sent, "no 100 Continue for a body over the limit");
    up.assert_untouched();
}

#[test]
fn refusals_decided_late_leave_the_upstream_an_incomplete_body() {
    let (clamd, streams) = fake_clamd(Mode::Answer);
    let scan = format!("[routes.upload.scan]\nclamd = \"{clamd}\"\ntimeout_ms = 2000\n");
    let (gw, up) = gateway(&scan);
    // Over the limit, chunked: counted as it streams.
    let mut png = fixture("media/photo.png");
    png.resize(150_000, 0);
    let pieces = png.chunks(8192).map(<[u8]>::to_vec).collect::<Vec<_>>();
    let n = pieces.len();
    let r = gw
        .request()
        .method("PUT")
        .path("/files/big.png")
        .header("Content-Type", "image/png")
        .header("Transfer-Encoding", "chunked")
        .stream(chunked(n, move |i| pieces[i].clone()));
    r.assert_error(413, "too_large");
    // Script at the very end of an SVG larger than the sniff window.
    let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec();
    svg.extend(std::iter::repeat_n(b"<g/>".as_slice(), 20_000).flatten());
    svg.extend_from_slice(b"<script>alert(1)</script></svg>");
    put(&gw, "late.svg", Some("image/svg+xml"), &svg).assert_error(415, "unsupported_media_type");
    // Malware found by clamd once the whole file was scanned.
    let mut infected = fixture("media/photo.png");
    infected.resize(90_000, 0);
    infected.extend_from_slice(EICAR);
    put(&gw, "eicar.png", Some("image/png"), &infected).assert_error(422, "malware_detected");
    assert!(streams.lock().unwrap().contains(&sha256_hex(&infected)));
    let got = up.wait_for(3);
    assert!(
        got[0].body_len > 0,
        "the chunked body was counted as it streamed"
    );
    up.assert_no_complete_body();
    // The same route still takes a clean file whole.
    let clean = fixture("media/photo.png");
    assert_eq!(put(&gw, "ok.png", Some("image/png"), &clean).status, 201);
    assert!(up.wait_for(4)[3].complete);
}

/// curl as users run it: `-T` (PUT, Content-Length), over HTTP/1.1 and h2c.
#[test]
fn curl_uploads_a_file_and_is_refused_a_spoof() {
    let (gw, up) = gateway("");
    let dir = std::env::temp_dir().join(format!("ugw-raw-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("photo.png");
    std::fs::write(&png, fixture("media/photo.png")).unwrap();
    let elf = dir.join("fake.png");
    std::fs::write(&elf, fixture("hostile/elf-binary.bin")).unwrap();
    let curl = |version: &str, file: &std::path::Path| {
        let out = crate::common::tool("curl")
            .args(["-sS", version, "-H", "Content-Type: image/png", "-T"])
            .arg(file)
            .args(["-w", "\n%{http_code} %{http_version}"])
            .arg(format!("http://{}/files/", gw.addr))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, tail) = text.rsplit_once('\n').unwrap();
        (tail.to_string(), body.to_string())
    };
    for (version, shown) in [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")] {
        let (tail, body) = curl(version, &png);
        assert_eq!(tail, format!("201 {shown}"), "{body}");
        let (tail, body) = curl(version, &elf);
        assert_eq!(tail, format!("415 {shown}"), "{body}");
        assert!(body.contains("content_mismatch"), "{body}");
    }
    let got = up.received();
    assert_eq!(
        got.len(),
        2,
        "only the two valid uploads reached the upstream"
    );
    assert!(
        got.iter()
            .all(|r| r.complete && r.path == "/files/photo.png")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_verdict_cannot_be_signed_into_a_raw_body() {
    let text = CONFIG
        .replace("{LISTEN}", "127.0.0.1:1")
        .replace("{UPSTREAM}", "127.0.0.1:2")
        + "[routes.verdict]\nkey_env = \"UGW_RAW_TEST_SECRET\"\n";
    let err = upload_gateway::config::Config::parse(&text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("routes[0].verdict"), "{err}");
    assert!(err.contains("raw body"), "{err}");
}
