//! A scripted upstream for fault injection: each accepted connection follows the behaviour at
//! its index (the last one repeats), and the bytes read are counted.

use crate::common::wire::read_head;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Reads the head and `n` body bytes, then closes with unread data pending (a reset).
    ResetAfter(usize),
    /// Reads `chunk` bytes every `every`, never answering.
    SlowRead { chunk: usize, every: Duration },
    /// Reads the head and answers `413` with its own JSON body at once, then closes.
    EarlyAnswer,
    /// Reads the whole Content-Length body and answers 201.
    Normal,
}

#[derive(Clone)]
pub struct Scripted {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    /// Body bytes read, over all connections.
    pub body_read: Arc<AtomicU64>,
}

impl Scripted {
    pub fn start(script: Vec<Behaviour>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = Self {
            addr: listener.local_addr().unwrap(),
            connections: Arc::default(),
            body_read: Arc::default(),
        };
        let up = me.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let i = up.connections.fetch_add(1, Ordering::SeqCst);
                let b = script[i.min(script.len() - 1)];
                let up = up.clone();
                std::thread::spawn(move || up.serve(stream, b));
            }
        });
        me
    }

    fn serve(&self, stream: TcpStream, b: Behaviour) {
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let Some(head) = read_head(&mut r) else {
            return;
        };
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let length: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut buf = vec![0u8; 64 * 1024];
        match b {
            Behaviour::ResetAfter(n) => {
                let mut got = 0;
                while got < n {
                    let want = (n - got).min(buf.len());
                    match r.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got += k,
                    }
                }
                self.body_read.fetch_add(got as u64, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                // Dropping with unread data makes the kernel answer with RST.
            }
            Behaviour::SlowRead { chunk, every } => loop {
                match r.read(&mut buf[..chunk]) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => {
                        self.body_read.fetch_add(k as u64, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(every);
            },
            Behaviour::EarlyAnswer => {
                let body = br#"{"error":"payload too large (said the backend)"}"#;
                let head = format!(
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(body);
                std::thread::sleep(Duration::from_millis(200));
            }
            Behaviour::Normal => {
                let mut left = length;
                while left > 0 {
                    match r.read(&mut buf[..(left as usize).min(64 * 1024)]) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            left -= k as u64;
                            self.body_read.fetch_add(k as u64, Ordering::SeqCst);
                        }
                    }
                }
                let body = b"{\"id\":\"scripted\"}";
                let head = format!(
                    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(body);
            }
        }
    }
}
