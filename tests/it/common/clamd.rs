//! A scripted fake clamd speaking the INSTREAM protocol (tests/it/scan.rs, tests/it/verdict.rs).

use super::sha256_hex;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The EICAR test string: harmless, and every scanner's test signature.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

#[derive(Clone, Copy)]
pub enum Mode {
    Answer,
    Slow,
    Garbage,
}

/// A fake clamd on TCP: answers INSTREAM like clamd (`FOUND` when the stream holds the EICAR
/// string) and records the SHA-256 of every stream it was sent.
pub fn fake_clamd(mode: Mode) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let streams = Arc::new(Mutex::new(Vec::new()));
    let seen = streams.clone();
    std::thread::spawn(move || serve_all(listener.incoming(), mode, &seen));
    (addr, streams)
}

/// The same on a unix socket (`unix:/path`, as `clamd = …` takes it).
pub fn fake_clamd_unix(mode: Mode) -> (String, Arc<Mutex<Vec<String>>>) {
    let path = std::env::temp_dir().join(format!("ugw-clamd-{}.sock", super::free_port()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let streams = Arc::new(Mutex::new(Vec::new()));
    let seen = streams.clone();
    std::thread::spawn(move || serve_all(listener.incoming(), mode, &seen));
    (format!("unix:{}", path.display()), streams)
}

/// Each connection on its own thread.
fn serve_all<S: Read + Write + Send + 'static>(
    conns: impl Iterator<Item = std::io::Result<S>>,
    mode: Mode,
    seen: &Arc<Mutex<Vec<String>>>,
) {
    for conn in conns.flatten() {
        let seen = seen.clone();
        std::thread::spawn(move || serve(conn, mode, &seen));
    }
}

fn serve(mut conn: impl Read + Write, mode: Mode, seen: &Mutex<Vec<String>>) {
    let mut command = [0u8; 10];
    if conn.read_exact(&mut command).is_err() || &command != b"zINSTREAM\0" {
        return;
    }
    let mut data = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if conn.read_exact(&mut len).is_err() {
            return;
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            break;
        }
        let mut chunk = vec![0u8; len];
        if conn.read_exact(&mut chunk).is_err() {
            return;
        }
        data.extend_from_slice(&chunk);
    }
    seen.lock().unwrap().push(sha256_hex(&data));
    let infected = data.windows(EICAR.len()).any(|w| w == EICAR);
    let answer: &[u8] = match mode {
        Mode::Garbage => b"hello there\0",
        _ if infected => b"stream: Eicar-Test-Signature FOUND\0",
        _ => b"stream: OK\0",
    };
    if let Mode::Slow = mode {
        std::thread::sleep(Duration::from_secs(3));
    }
    let _ = conn.write_all(answer);
}
