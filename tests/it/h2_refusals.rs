//! Refusals decided while the body streams, over HTTP/2 (h2c by prior knowledge and TLS with
//! ALPN h2): the client gets the whole refusal — status, JSON code and request id — as a
//! complete response, the upstream never gets a complete body, and the connection serves the
//! next stream. Driven by the h2 crate (h2c and TLS) and by curl (h2c here; TLS in
//! tests/it/tls_h2.rs). Over HTTP/1.1, Python's http.client, which writes its whole body before it
//! reads, gets the same refusals instead of a connection reset.

use crate::common::tls::{certificate, h2_tls_connect, tls_config};
use crate::common::{RecordingUpstream, TEST_CONFIG, TestGateway, fixture, sha256_hex};
use bytes::Bytes;
use upload_gateway::multipart::Form;

/// TEST_CONFIG with h2c and a 4 MB image limit, so a larger PNG is refused mid-stream.
fn config() -> String {
    let text = TEST_CONFIG
        .replace("[server]\n", "[server]\nh2c = true\n")
        .replace("image = 52428800", "image = 4000000");
    assert!(text.contains("image = 4000000"), "the template changed");
    text
}

/// A PNG padded past the 4 MB limit (the sniff window passes it; the count refuses it).
fn big_png() -> Vec<u8> {
    let mut png = fixture("media/photo.png");
    png.resize(5_000_000, 0);
    png
}

/// Bodies refused in the stream phase: (name, form, expected status, expected code).
fn refusals() -> Vec<(&'static str, Form, u16, &'static str)> {
    let png = fixture("media/photo.png");
    let mut long = png.clone();
    long.resize(200_000, 0);
    vec![
        (
            "over the size limit",
            Form::new("h2b").file("file", "big.png", "image/png", &big_png()),
            413,
            "too_large",
        ),
        (
            "a spoof in a later file part",
            Form::new("h2b")
                .file("file", "a.png", "image/png", &long)
                .file("file2", "b.png", "image/png", &fixture("media/report.pdf")),
            415,
            "content_mismatch",
        ),
    ]
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) request_id: Option<String>,
    pub(crate) body: String,
}

/// Sends `form` on an open h2 connection and reads the whole answer.
pub(crate) async fn send(client: &mut h2::client::SendRequest<Bytes>, form: Form) -> Answer {
    let content_type = form.content_type();
    let body = form.finish();
    let req = http::Request::post("http://localhost/media")
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(())
        .unwrap();
    let mut ready = client.clone().ready().await.unwrap();
    let (resp, mut stream) = ready.send_request(req, false).unwrap();
    tokio::spawn(async move {
        for chunk in body.chunks(16 * 1024) {
            stream.reserve_capacity(chunk.len());
            // A refused stream stops taking data: the client stops sending.
            if stream
                .send_data(Bytes::copy_from_slice(chunk), false)
                .is_err()
            {
                return;
            }
            tokio::task::yield_now().await;
        }
        let _ = stream.send_data(Bytes::new(), true);
    });
    let resp = resp.await.expect("a response, not a stream reset");
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("the whole body, not a stream reset");
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    Answer {
        status,
        request_id,
        body: String::from_utf8_lossy(&out).into(),
    }
}

/// Every stream-phase refusal on one h2 connection `io`, each followed by an accepted upload
/// on the same connection.
async fn refusals_then_uploads_on_one_connection<T>(io: T, upstream: &RecordingUpstream)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut client, conn) = h2::client::handshake(io).await.unwrap();
    let conn = tokio::spawn(conn);
    let mut seen = 0;
    for (name, form, status, code) in refusals() {
        let a = send(&mut client, form).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["error"]["code"], code, "{name}");
        let id = a.request_id.expect("a request id");
        assert_eq!(v["error"]["request_id"], id.as_str(), "{name}");
        // The stream phase: the upstream was contacted and got a cut-off body.
        seen += 1;
        let got = upstream.wait_for(seen);
        assert!(!got[seen - 1].complete, "{name}: the upstream got it whole");
        // The same connection serves the next stream.
        let png = fixture("media/photo.png");
        let form = Form::new("h2ok").file("file", "p.png", "image/png", &png);
        let sent = form.clone().finish();
        let ok = send(&mut client, form).await;
        assert_eq!(ok.status, 201, "after {name}: {}", ok.body);
        seen += 1;
        let got = upstream.wait_for(seen);
        let last = got.last().unwrap();
        assert!(last.complete);
        assert_eq!(last.sha256, sha256_hex(&sent));
        assert!(last.body.windows(png.len()).any(|w| w == png));
    }
    drop(client);
    let _ = conn.await;
}

#[test]
fn stream_phase_refusals_reach_h2c_clients_whole_and_the_connection_lives_on() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(), upstream.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        refusals_then_uploads_on_one_connection(tcp, &upstream).await;
    });
}

#[test]
fn stream_phase_refusals_reach_h2_over_tls_whole_and_the_connection_lives_on() {
    let (cert, key) = certificate("h2-refusals");
    let upstream = RecordingUpstream::start();
    let config = tls_config(&cert, &key).replace("image = 52428800", "image = 4000000");
    let gw = TestGateway::start_with(&config, upstream.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tls = h2_tls_connect(gw.addr, &cert).await;
        refusals_then_uploads_on_one_connection(tls, &upstream).await;
    });
}

#[test]
fn curl_over_h2c_reads_every_stream_phase_refusal() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(), upstream.addr);
    for (i, (name, form, status, code)) in refusals().into_iter().enumerate() {
        let ct = form.content_type();
        let path = std::env::temp_dir().join(format!("ug-h2-{i}-{}", std::process::id()));
        std::fs::write(&path, form.finish()).unwrap();
        let out = crate::common::tool("curl")
            .args(["-sS", "--http2-prior-knowledge", "-H"])
            .arg(format!("Content-Type: {ct}"))
            .arg("--data-binary")
            .arg(format!("@{}", path.display()))
            .args(["-D", "-", "-w", "\n%{http_code} %{http_version}"])
            .arg(format!("http://{}/media", gw.addr))
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{name}: curl failed: {}{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (rest, tail) = text.rsplit_once('\n').unwrap();
        assert_eq!(tail, format!("{status} 2"), "{name}: {rest}");
        let (head, body) = rest.split_once("\r\n\r\n").unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], code, "{name}");
        let id = v["error"]["request_id"].as_str().unwrap();
        assert!(
            head.contains(&format!("x-request-id: {id}")),
            "{name}: {head}"
        );
        let got = upstream.wait_for(i + 1);
        assert!(!got[i].complete, "{name}: the upstream got it whole");
    }
}

/// Python's http.client (as requests uses it) sends the whole body, then reads. A refusal closes
/// the connection; closing it with body bytes unread would reset it, failing the client's write
/// and discarding the answer, so the gateway reads and drops the rest for a moment first.
#[test]
fn http1_clients_that_write_before_reading_get_every_refusal() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(), upstream.addr);
    let mut elf = fixture("hostile/elf-binary.bin");
    elf.resize(3_000_000, 0);
    let mut cases = refusals();
    cases.push((
        "a spoof refused in the window",
        Form::new("h2b").file("file", "x.png", "image/png", &elf),
        415,
        "content_mismatch",
    ));
    let script = r#"
import http.client, json, sys
host, port, path, ctype = sys.argv[1:5]
body = open(path, "rb").read()
c = http.client.HTTPConnection(host, int(port), timeout=30)
c.request("POST", "/media", body=body, headers={"Content-Type": ctype})
r = c.getresponse()
print(r.status, json.loads(r.read())["error"]["code"], r.getheader("x-request-id") is not None)
"#;
    for (i, (name, form, status, code)) in cases.into_iter().enumerate() {
        let ct = form.content_type();
        let path = std::env::temp_dir().join(format!("ug-h1-{i}-{}", std::process::id()));
        std::fs::write(&path, form.finish()).unwrap();
        let out = crate::common::tool("python3")
            .args(["-c", script, "127.0.0.1"])
            .arg(gw.addr.port().to_string())
            .arg(&path)
            .arg(&ct)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{status} {code} True"),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        upstream.assert_no_complete_body();
    }
}

/// Deterministic: the client reads the refusal, then sends the rest of its body. The gateway
/// reads and drops it (the writes succeed) and closes with a FIN once the body is done, not
/// with a reset.
#[test]
fn after_an_http1_refusal_the_rest_of_the_body_is_read_and_the_close_is_clean() {
    use std::io::{BufReader, Read, Write};
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(), upstream.addr);
    let elf = fixture("hostile/elf-binary.bin");
    let form = Form::new("h1b").file("file", "x.png", "image/png", &elf);
    let ct = form.content_type();
    let mut body = form.finish();
    body.resize(body.len() + 3_000_000, b'-'); // the epilogue, after the refusal
    let split = 100_000.min(body.len());
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..split]).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let answer = crate::common::client::read_response(&mut reader, true);
    assert_eq!(answer.status, 415);
    s.write_all(&body[split..])
        .expect("the gateway reads the rest of the body");
    let len: usize = answer.header("content-length").unwrap().parse().unwrap();
    let mut rest = Vec::new();
    let end = reader.read_to_end(&mut rest);
    assert_eq!(end.map_err(|e| e.kind()), Ok(len), "the refusal, then FIN");
    upstream.assert_no_complete_body();
}

/// `[server] h2_max_concurrent_streams` is what the gateway's SETTINGS announce (100 by default).
#[test]
fn the_h2_stream_limit_is_configurable() {
    let upstream = RecordingUpstream::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (extra, expected) in [("", 100), ("h2_max_concurrent_streams = 7\n", 7)] {
        let text = config().replace("[server]\n", &format!("[server]\n{extra}"));
        let gw = TestGateway::start_with(&text, upstream.addr);
        let announced = rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
            let (_client, mut conn) = h2::client::handshake(tcp).await.unwrap();
            let settled = std::future::poll_fn(|cx| {
                use std::future::Future;
                let _ = std::pin::Pin::new(&mut conn).poll(cx);
                match conn.max_concurrent_send_streams() {
                    usize::MAX => std::task::Poll::Pending,
                    n => std::task::Poll::Ready(n),
                }
            });
            tokio::time::timeout(std::time::Duration::from_secs(5), settled)
                .await
                .expect("the server's SETTINGS")
        });
        assert_eq!(announced, expected, "{extra:?}");
    }
}
