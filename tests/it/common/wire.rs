//! HTTP/1.1 wire helpers shared by the test client and the recording upstream.

use std::io::{BufRead, Read};

/// Reads a message head up to and including the empty line; `None` if the peer closed first.
pub fn read_head(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            return Some(head);
        }
    }
}

/// Parsed headers as owned (name, value) pairs.
pub fn header_pairs(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Reads exactly `len` body bytes into `sink`; false if the stream ended first.
pub fn read_length(r: &mut impl Read, len: u64, mut sink: impl FnMut(&[u8])) -> bool {
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(left as usize);
        match r.read(&mut buf[..want]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                sink(&buf[..n]);
                left -= n as u64;
            }
        }
    }
    true
}

/// Reads a chunked body into `sink`; true only if the terminating chunk was read.
pub fn read_chunked(r: &mut impl BufRead, mut sink: impl FnMut(&[u8])) -> bool {
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let Ok(size) = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
        else {
            return false;
        };
        if size == 0 {
            let mut end = String::new();
            return r.read_line(&mut end).is_ok() && end == "\r\n";
        }
        if !read_length(r, size as u64, &mut sink) {
            return false;
        }
        let mut crlf = [0u8; 2];
        if r.read_exact(&mut crlf).is_err() || &crlf != b"\r\n" {
            return false;
        }
    }
}
