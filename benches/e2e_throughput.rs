//! End-to-end throughput: a 1 GiB multipart upload sent straight to a sink upstream, then
//! through the gateway to the same sink, in the same run; prints MiB/s and the ratio.
//! Run: cargo bench --bench e2e_throughput   (goal: gateway >= 0.9x direct)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use upload_gateway::config::Config;
use upload_gateway::multipart::Form;

const GIB: usize = 1024 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

/// A sink upstream: reads the head, discards Content-Length bytes, answers 201.
fn sink() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    addr
}

fn serve(s: TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::with_capacity(CHUNK, s);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut buf = vec![0u8; CHUNK];
        while len > 0 {
            let n = r.read(&mut buf[..CHUNK.min(len)]).unwrap();
            if n == 0 {
                return;
            }
            len -= n;
        }
        w.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    }
}

fn upload(addr: SocketAddr, path: &str, head: &[u8], tail: &[u8], file_len: usize) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    let total = head.len() + file_len + tail.len();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: multipart/form-data; boundary=e2e-bench\r\nContent-Length: {total}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(head).unwrap();
    let filler = vec![0x5Au8; CHUNK];
    let mut left = file_len;
    while left > 0 {
        let n = left.min(CHUNK);
        s.write_all(&filler[..n]).unwrap();
        left -= n;
    }
    s.write_all(tail).unwrap();
    let mut resp = [0u8; 12];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(
        &resp[9..12],
        b"201",
        "upload failed: {:?}",
        String::from_utf8_lossy(&resp)
    );
    started.elapsed()
}

fn main() {
    let up = sink();
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = format!(
        "[server]\nthreads = 2\n[[listeners]]\naddress = \"{listen}\"\n[upstreams.sink]\naddress = \"{up}\"\n\
         [[routes]]\nname = \"up\"\npath = \"/media\"\nupstream = \"sink\"\n[routes.upload]\n\
         allowed_types = [\"video/mp4\"]\nmax_total_bytes = 2147483648\n[routes.upload.max_bytes]\nvideo = 2147483648\n\
         [[routes]]\nname = \"plain\"\npath = \"/plain\"\nupstream = \"sink\"\n"
    );
    let config = Arc::new(Config::parse(&config).unwrap());
    let (_stop, _t) = upload_gateway::server::spawn(upload_gateway::server::build(config).unwrap());
    while TcpStream::connect(listen).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mp4 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/media/clip.mp4"
    ))
    .unwrap();
    let form = Form::new("e2e-bench");
    let mut head = form.open_file("file", "big.mp4", "video/mp4");
    head.extend_from_slice(&mp4);
    let tail = form.tail_after_content();
    let file_len = GIB - head.len() - tail.len();
    let runs = 3;
    let mut direct = Duration::MAX;
    let mut gateway = Duration::MAX;
    let mut plain = Duration::MAX;
    for _ in 0..runs {
        direct = direct.min(upload(up, "/media", &head, &tail, file_len));
        plain = plain.min(upload(listen, "/plain", &head, &tail, file_len));
        gateway = gateway.min(upload(listen, "/media", &head, &tail, file_len));
    }
    let mibs = |d: Duration| 1024.0 / d.as_secs_f64();
    println!("e2e 1 GiB upload, best of {runs}:");
    println!(
        "  direct to upstream : {:8.1} MiB/s ({:?})",
        mibs(direct),
        direct
    );
    println!(
        "  pingora, no inspect: {:8.1} MiB/s ({:?})",
        mibs(plain),
        plain
    );
    println!(
        "  through gateway    : {:8.1} MiB/s ({:?})",
        mibs(gateway),
        gateway
    );
    println!(
        "  ratio uninspected proxy/direct: {:.3}",
        direct.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "  ratio gateway/direct: {:.3}",
        direct.as_secs_f64() / gateway.as_secs_f64()
    );
}
