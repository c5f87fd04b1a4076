//! Connection caps and deadlines ([server] max_connections_per_ip, first_byte_timeout_ms,
//! head_timeout_ms, keepalive_timeout_ms): silent, trickling and idle connections are closed by
//! their deadline while uploads on fresh connections go through; a body slower than the head
//! deadline and an HTTP/2 connection are not cut by it; one connection beyond the per-client
//! cap is closed on accept, and its place comes back when another closes.

use crate::common::*;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use upload_gateway::multipart::Form;

fn config(server: &str) -> String {
    TEST_CONFIG.replace("[server]\n", &format!("[server]\n{server}\n"))
}

fn upload(gw: &TestGateway) -> Response {
    let png = fixture("media/photo.png");
    let form = Form::new("conn").file("file", "p.png", "image/png", &png);
    gw.request().path("/media").form(form)
}

/// How long after `since` the gateway closed `s` (EOF or reset); panics after `within`.
fn closed_after(s: &mut TcpStream, since: Instant, within: Duration) -> Duration {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return since.elapsed(),
            Err(e) => panic!("still open after {within:?}: {e}"),
        }
    }
}

/// A client sending a request head one byte every 100 ms until the gateway closes it; returns
/// when that happened, from its first byte.
fn trickle_head(addr: SocketAddr) -> Duration {
    let mut s = TcpStream::connect(addr).unwrap();
    let start = Instant::now();
    let head = b"POST /media HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    for b in head.iter().chain(std::iter::repeat(&b'a')) {
        if s.write_all(&[*b]).is_err() || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    closed_after(&mut s, start, Duration::from_secs(5))
}

#[test]
fn silent_trickling_and_idle_connections_close_at_their_deadlines_while_uploads_go_through() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(
        &config("first_byte_timeout_ms = 500\nhead_timeout_ms = 900\nkeepalive_timeout_ms = 700"),
        upstream.addr,
    );
    let start = Instant::now();
    let mut silent: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(gw.addr).unwrap())
        .collect();
    let tricklers: Vec<_> = (0..20)
        .map(|_| {
            let addr = gw.addr;
            std::thread::spawn(move || trickle_head(addr))
        })
        .collect();
    // Uploads on fresh connections are served meanwhile.
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(upload(&gw).status, 201);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    for s in &mut silent {
        let after = closed_after(s, start, Duration::from_secs(5));
        assert!(
            after >= Duration::from_millis(450),
            "closed early: {after:?}"
        );
    }
    for t in tricklers {
        let after = t.join().unwrap();
        assert!(
            after >= Duration::from_millis(850) && after < Duration::from_secs(4),
            "a trickled head was closed after {after:?}"
        );
    }
    // Between requests: a connection reused within the keep-alive time serves the next
    // request; one left idle longer is closed.
    let mut s = TcpStream::connect(gw.addr).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for pause in [0, 300] {
        std::thread::sleep(Duration::from_millis(pause));
        s.write_all(b"GET /media/a.png HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let r = crate::common::client::read_response(&mut reader, false);
        assert_eq!(r.status, 201, "after an idle {pause} ms");
    }
    let idle = Instant::now();
    let after = closed_after(&mut s, idle, Duration::from_secs(5));
    assert!(after >= Duration::from_millis(650), "{after:?}");
    // Only the uploads and the two reads reached the upstream, each whole.
    let got = upstream.wait_for(5);
    assert!(got.iter().all(|r| r.complete));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(upstream.received().len(), 5);
}

#[test]
fn a_body_slower_than_the_head_deadline_is_not_cut() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(
        &config("first_byte_timeout_ms = 300\nhead_timeout_ms = 300"),
        upstream.addr,
    );
    let png = fixture("media/photo.png");
    let form = Form::new("slow").file("file", "p.png", "image/png", &png);
    let ct = form.content_type();
    let body = form.finish();
    let sent = body.clone();
    let r = gw
        .request()
        .path("/media")
        .header("Content-Type", &ct)
        .header("Content-Length", &body.len().to_string())
        .stream(Box::new(move |s| {
            for piece in body.chunks(body.len() / 8 + 1) {
                s.write_all(piece)?;
                std::thread::sleep(Duration::from_millis(150));
            }
            Ok(())
        }));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let got = upstream.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].sha256, sha256_hex(&sent));
}

/// A reused keep-alive connection: the second request's slow body is not cut by the head or
/// keep-alive deadline of the request before it.
#[test]
fn a_slow_body_on_a_reused_connection_is_not_cut() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(
        &config("first_byte_timeout_ms = 400\nhead_timeout_ms = 300\nkeepalive_timeout_ms = 500"),
        upstream.addr,
    );
    let png = fixture("media/photo.png");
    let form = Form::new("reuse").file("file", "p.png", "image/png", &png);
    let ct = form.content_type();
    let body = form.finish();
    let mut s = TcpStream::connect(gw.addr).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for round in 0..3 {
        s.write_all(b"GET /media/a.png HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let r = crate::common::client::read_response(&mut reader, false);
        assert_eq!(r.status, 201, "read {round}");
        std::thread::sleep(Duration::from_millis(200));
        let head = format!(
            "POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // 1.2 s of body: four times the head deadline, more than the keep-alive time.
        for piece in body.chunks(body.len() / 8 + 1) {
            s.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
        let r = crate::common::client::read_response(&mut reader, false);
        assert_eq!(
            r.status,
            201,
            "upload {round}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let got = upstream.wait_for(6);
    assert!(got.iter().all(|r| r.complete));
    assert_eq!(got[5].sha256, sha256_hex(&body));
}

#[test]
fn an_h2c_connection_outlives_the_first_byte_and_head_deadlines() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(
        &config("h2c = true\nfirst_byte_timeout_ms = 300\nhead_timeout_ms = 300"),
        upstream.addr,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
        let conn = tokio::spawn(conn);
        for _ in 0..2 {
            let png = fixture("media/photo.png");
            let form = Form::new("h2").file("file", "p.png", "image/png", &png);
            let a = crate::h2_refusals::send(&mut client, form).await;
            assert_eq!(a.status, 201, "{}", a.body);
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        drop(client);
        let _ = conn.await;
    });
    assert_eq!(upstream.wait_for(2).len(), 2);
}

fn refused_per_ip() -> f64 {
    prometheus::gather()
        .iter()
        .filter(|f| f.name() == "upload_gateway_connections_refused_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.value() == "max_connections_per_ip")
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}

#[test]
fn a_connection_beyond_the_per_client_cap_is_closed_on_accept_until_a_place_frees() {
    let (upstream, refused_before) = (RecordingUpstream::start(), refused_per_ip());
    let gw = TestGateway::start_with(
        &config("max_connections_per_ip = 3\nfirst_byte_timeout_ms = 20000"),
        upstream.addr,
    );
    // The probe that saw the gateway listening gives its place back first.
    std::thread::sleep(Duration::from_millis(300));
    // Four connections: the gateway takes them in its own order (tasks may start out of
    // accept order), so exactly one of the four, any one, is closed on accept.
    let start = Instant::now();
    let four: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(gw.addr).unwrap())
        .collect();
    let mut held = Vec::new();
    let mut closed = 0;
    for mut c in four {
        c.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => held.push(c),
        }
    }
    assert_eq!(closed, 1, "one of four closed on accept");
    assert!(start.elapsed() < Duration::from_secs(8));
    assert!(refused_per_ip() > refused_before);
    // An upload is refused the same way (the connection closes without an answer) ...
    let mut s = TcpStream::connect(gw.addr).unwrap();
    let _ = s.write_all(b"GET /media/a.png HTTP/1.1\r\nHost: x\r\n\r\n");
    closed_after(&mut s, Instant::now(), Duration::from_secs(5));
    upstream.assert_untouched();
    // ... until one of the three closes: its place comes back.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| upload(&gw).status));
        if r.as_ref().is_ok_and(|s| *s == 201) {
            break;
        }
        assert!(Instant::now() < deadline, "no place came back: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_request_beyond_max_requests_is_503_overloaded_with_retry_after_until_one_finishes() {
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config("max_requests = 1"), upstream.addr);
    // One upload in flight: its head is sent, its body held back.
    let png = fixture("media/photo.png");
    let form = Form::new("held").file("file", "p.png", "image/png", &png);
    let ct = form.content_type();
    let body = form.finish();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let held = {
        let req = gw
            .request()
            .path("/media")
            .header("Content-Type", &ct)
            .header("Content-Length", &body.len().to_string());
        std::thread::spawn(move || {
            req.stream(Box::new(move |s| {
                let _ = rx.recv();
                s.write_all(&body)
            }))
        })
    };
    // The held upload is alone in flight before the others start.
    std::thread::sleep(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let r = upload(&gw);
        if r.status == 503 {
            break r;
        }
        assert!(Instant::now() < deadline, "never overloaded: {}", r.status);
        std::thread::sleep(Duration::from_millis(20));
    };
    refused.assert_error(503, "overloaded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    tx.send(()).unwrap();
    assert_eq!(held.join().unwrap().status, 201);
    assert_eq!(upload(&gw).status, 201, "the place came back");
    // The upstream saw the held upload and the last one, whole; no refused one.
    let got = upstream.wait_for(2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(upstream.received().len(), 2);
    assert!(got.iter().all(|r| r.complete));
}

/// On a TLS listener the per-client cap counts connections from accept, before their
/// handshake (pingora gives a handshake a fixed 60 s): one more silent connection is closed at
/// once, and so is a real TLS client while the silent ones hold the places.
#[test]
fn tls_handshakes_count_under_the_per_client_cap_from_accept() {
    let upstream = RecordingUpstream::start();
    let (cert, key) = crate::common::tls::certificate("admit");
    let text = crate::common::tls::tls_config(&cert, &key)
        .replace("[server]\n", "[server]\nmax_connections_per_ip = 3\n");
    let gw = TestGateway::start_with(&text, upstream.addr);
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(gw.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let mut fourth = TcpStream::connect(gw.addr).unwrap();
    let closed = closed_after(&mut fourth, start, Duration::from_secs(5));
    assert!(closed < Duration::from_secs(1), "closed after {closed:?}");
    let out = crate::common::tool("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&cert)
        .args(["--max-time", "5", "--resolve"])
        .arg(format!("localhost:{}:127.0.0.1", gw.addr.port()))
        .arg(format!("https://localhost:{}/healthz", gw.addr.port()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "000",
        "refused, not served"
    );
    assert!(refused_per_ip() >= 2.0);
    drop(silent);
}
