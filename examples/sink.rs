//! A fast HTTP/1.1 sink upstream for the side-by-side benchmark (scripts/bench.sh): reads each
//! request body fully (Content-Length or chunked), discards it and answers 201 with the byte
//! count. Usage: cargo run --release --example sink -- PORT [THREADS]
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn conn(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        // read head
        let head_end = loop {
            if let Some(i) = memchr::memmem::find(&buf[start..end], b"\r\n\r\n") {
                break start + i + 4;
            }
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end == buf.len() {
                return Ok(());
            }
            let n = s.read(&mut buf[end..]).await?;
            if n == 0 {
                return Ok(());
            }
            end += n;
        };
        let head = String::from_utf8_lossy(&buf[start..head_end]).to_ascii_lowercase();
        start = head_end;
        let mut total: u64 = 0;
        let chunked = head.contains("transfer-encoding: chunked");
        if !chunked {
            let mut left: u64 = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap_or(0))
                .unwrap_or(0);
            while left > 0 {
                if start == end {
                    start = 0;
                    end = s.read(&mut buf).await?;
                    if end == 0 {
                        return Ok(());
                    }
                }
                let take = ((end - start) as u64).min(left) as usize;
                start += take;
                left -= take as u64;
                total += take as u64;
            }
        } else {
            loop {
                // chunk size line
                let line_end = loop {
                    if let Some(i) = memchr::memmem::find(&buf[start..end], b"\r\n") {
                        break start + i;
                    }
                    if start > 0 {
                        buf.copy_within(start..end, 0);
                        end -= start;
                        start = 0;
                    }
                    let n = s.read(&mut buf[end..]).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    end += n;
                };
                let line = std::str::from_utf8(&buf[start..line_end]).unwrap_or("0");
                let size = u64::from_str_radix(line.split(';').next().unwrap_or("0").trim(), 16)
                    .unwrap_or(0);
                start = line_end + 2;
                let mut left = size + 2; // data + CRLF
                if size == 0 {
                    left = 2;
                }
                while left > 0 {
                    if start == end {
                        start = 0;
                        end = s.read(&mut buf).await?;
                        if end == 0 {
                            return Ok(());
                        }
                    }
                    let take = ((end - start) as u64).min(left) as usize;
                    start += take;
                    left -= take as u64;
                }
                if size == 0 {
                    break;
                }
                total += size;
            }
        }
        let body = format!("{{\"received\":{}}}", total);
        let resp = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        s.write_all(resp.as_bytes()).await?;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(18081);
    let threads: usize = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let _ = conn(s).await;
                });
            }
        });
}
