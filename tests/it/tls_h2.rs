//! TLS and HTTP/2 downstream (h2 by ALPN, h2c by prior knowledge) and TLS upstream: uploads
//! over HTTP/2 get the same enforcement as over HTTP/1.1 — a spoofed file is refused before the
//! upstream is contacted, a valid one arrives byte-identical. Certificates are made here.

use crate::common::tls::{certificate, h2_tls_connect, tls_config};
use crate::common::{RecordingUpstream, TEST_CONFIG, TestGateway, fixture, free_port, sha256_hex};
use bytes::Bytes;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use upload_gateway::multipart::Form;

fn png_form() -> (Form, Vec<u8>) {
    let png = fixture("media/photo.png");
    (
        Form::new("tlsboundary").file("file", "p.png", "image/png", &png),
        png,
    )
}

/// `curl` over TLS: returns (status, HTTP version, body).
fn curl(args: &[&str], url: &str, cacert: &Path) -> (u16, String, String) {
    let out = crate::common::tool("curl")
        .args(["-sS", "--cacert"])
        .arg(cacert)
        .args(args)
        .args(["-w", "\n%{http_code} %{http_version}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, tail) = text.rsplit_once('\n').unwrap();
    let (status, version) = tail.split_once(' ').unwrap();
    (status.parse().unwrap(), version.into(), body.into())
}

/// POSTs a multipart `form` body with curl over TLS (`version`: `--http2`, `--http1.1`).
fn curl_post(
    version: &str,
    port: u16,
    content_type: &str,
    body: &[u8],
    cacert: &Path,
) -> (u16, String, String) {
    let file = write_temp(&format!("body-{}", free_port()), body);
    let (resolve, data) = (
        format!("localhost:{port}:127.0.0.1"),
        format!("@{}", file.display()),
    );
    let ct = format!("Content-Type: {content_type}");
    let args = [
        version,
        "--resolve",
        &resolve,
        "-H",
        &ct,
        "--data-binary",
        &data,
    ];
    curl(&args, &format!("https://localhost:{port}/media"), cacert)
}

fn write_temp(name: &str, data: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ug-{name}-{}", std::process::id()));
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn uploads_over_tls_and_h2_are_enforced_like_http1() {
    let (cert, key) = certificate("h2");
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&tls_config(&cert, &key), upstream.addr);

    // A PDF declared as a PNG: refused over h2 before any upstream connection.
    let port = gw.addr.port();
    let spoof =
        Form::new("tlsboundary").file("file", "p.png", "image/png", &fixture("media/report.pdf"));
    let ct = spoof.content_type();
    let (status, version, text) = curl_post("--http2", port, &ct, &spoof.finish(), &cert);
    assert_eq!((status, version.as_str()), (415, "2"), "{text}");
    assert!(text.contains("\"content_mismatch\""), "{text}");
    assert_eq!(upstream.connection_count(), 0, "refused before connecting");

    // A real PNG over h2: byte-identical upstream.
    let (form, png) = png_form();
    let ct = form.content_type();
    let sent = form.finish();
    let (status, version, text) = curl_post("--http2", port, &ct, &sent, &cert);
    assert_eq!((status, version.as_str()), (201, "2"), "{text}");
    let got = upstream.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].sha256, sha256_hex(&sent));
    assert!(got[0].body.windows(png.len()).any(|w| w == png));

    // The same over a Rust h2 client: spoof refused unseen, PNG forwarded byte-identical.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spoof =
        Form::new("tlsboundary").file("file", "q.png", "image/png", &fixture("media/report.pdf"));
    let (status, text) = rt.block_on(h2_tls_post(
        gw.addr,
        &cert,
        &spoof.content_type(),
        spoof.finish(),
    ));
    assert_eq!(status, 415, "{text}");
    assert_eq!(
        upstream.received().len(),
        1,
        "the spoof never reached the upstream"
    );
    let (form, _) = png_form();
    let ct_value = form.content_type();
    let (status, text) = rt.block_on(h2_tls_post(gw.addr, &cert, &ct_value, sent.clone()));
    assert_eq!(status, 201, "{text}");
    let got = upstream.wait_for(2);
    assert!(got[1].complete);
    assert_eq!(got[1].sha256, sha256_hex(&sent));

    // HTTP/1.1 over TLS on the same listener still works.
    let (status, version, _) = curl_post("--http1.1", port, &ct, &sent, &cert);
    assert_eq!((status, version.as_str()), (201, "1.1"));
}

/// One request over h2c (prior knowledge): (status, body).
async fn h2c_post(addr: SocketAddr, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    h2_post(tcp, addr, content_type, body).await
}

/// One request over HTTP/2 on TLS (ALPN h2), trusting `cert`: (status, body).
async fn h2_tls_post(
    addr: SocketAddr,
    cert: &Path,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    h2_post(h2_tls_connect(addr, cert).await, addr, content_type, body).await
}

async fn h2_post<T>(io: T, addr: SocketAddr, content_type: &str, body: Vec<u8>) -> (u16, String)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post(format!("http://{addr}/media"))
        .header("content-type", content_type)
        .body(())
        .unwrap();
    let (resp, mut stream) = client.send_request(req, false).unwrap();
    tokio::spawn(async move {
        for chunk in body.chunks(16 * 1024) {
            if stream
                .send_data(Bytes::copy_from_slice(chunk), false)
                .is_err()
            {
                return;
            }
        }
        let _ = stream.send_data(Bytes::new(), true);
    });
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    (status, String::from_utf8_lossy(&out).into())
}

#[test]
fn h2c_prior_knowledge_gets_the_same_enforcement() {
    let upstream = RecordingUpstream::start();
    let config = TEST_CONFIG.replace("[server]\n", "[server]\nh2c = true\n");
    let gw = TestGateway::start_with(&config, upstream.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();

    // A 6 MB video declared as a PNG: refused in the sniff window, upstream never contacted.
    let mut big = fixture("media/clip.mp4");
    big.resize(6 << 20, 0);
    let spoof = Form::new("h2cb").file("file", "a.png", "image/png", &big);
    let (status, text) = rt.block_on(h2c_post(gw.addr, &spoof.content_type(), spoof.finish()));
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("\"content_mismatch\""), "{text}");
    assert_eq!(upstream.connection_count(), 0);

    let (form, _) = png_form();
    let ct = form.content_type();
    let sent = form.finish();
    let (status, text) = rt.block_on(h2c_post(gw.addr, &ct, sent.clone()));
    assert_eq!(status, 201, "{text}");
    let got = upstream.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].sha256, sha256_hex(&sent));

    // HTTP/1.1 on the same h2c listener.
    let (form, _) = png_form();
    assert_eq!(gw.request().path("/media").form(form).status, 201);
}

/// A refusal decided while the body streams (the image limit crossed past the sniff window)
/// reaches curl over TLS and HTTP/2 whole: status, code and request id (tests/it/h2_refusals.rs
/// covers h2c and the h2 crate).
#[test]
fn a_stream_phase_refusal_reaches_curl_over_tls_h2() {
    let (cert, key) = certificate("h2-stream");
    let upstream = RecordingUpstream::start();
    let config = tls_config(&cert, &key).replace("image = 52428800", "image = 4000000");
    let gw = TestGateway::start_with(&config, upstream.addr);
    let mut png = fixture("media/photo.png");
    png.resize(5_000_000, 0);
    let big = Form::new("tlsboundary").file("file", "big.png", "image/png", &png);
    let ct = big.content_type();
    let (status, version, text) = curl_post("--http2", gw.addr.port(), &ct, &big.finish(), &cert);
    assert_eq!((status, version.as_str()), (413, "2"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "too_large");
    assert_eq!(v["error"]["request_id"].as_str().map(str::len), Some(32));
    let got = upstream.wait_for(1);
    assert!(!got[0].complete, "the upstream got it whole");
    // The listener serves the next upload.
    let (form, _) = png_form();
    let ct = form.content_type();
    let (status, _, text) = curl_post("--http2", gw.addr.port(), &ct, &form.finish(), &cert);
    assert_eq!(status, 201, "{text}");
}

#[test]
fn upstream_tls_verifies_the_backend_certificate() {
    // Backend side: a gateway terminating TLS in front of the recording upstream.
    let (cert, key) = certificate("up");
    let (other, _) = certificate("other");
    let recording = RecordingUpstream::start();
    let tls_backend = TestGateway::start_with(&tls_config(&cert, &key), recording.addr);

    let with_ca = |ca: &Path| {
        TEST_CONFIG.replace(
            "write_timeout_ms = 20000\n",
            &format!(
                "write_timeout_ms = 20000\ntls = true\nsni = \"localhost\"\nca_file = \"{}\"\n",
                ca.display()
            ),
        )
    };
    let trusted = TestGateway::start_with(&with_ca(&cert), tls_backend.addr);
    let (form, _) = png_form();
    let sent_len = form.clone().finish().len() as u64;
    let r = trusted.request().path("/media").form(form);
    assert_eq!(r.status, 201, "{:?}", r.json());
    let got = recording.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].body_len, sent_len);

    // A backend certificate that does not chain to the configured CA: no bytes reach it.
    let untrusted = TestGateway::start_with(&with_ca(&other), tls_backend.addr);
    let (form, _) = png_form();
    let r = untrusted.request().path("/media").form(form);
    assert_eq!(r.status, 502, "{:?}", r.json());
    assert_eq!(recording.received().len(), 1);
}
