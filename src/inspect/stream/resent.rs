//! The last bytes a resumable upload released upstream, kept (as shared `Bytes`, not copies) so
//! that bytes a client sends again after a cut request can be compared with what was inspected
//! the first time: equal bytes need no second inspection; different ones would walk around it.
//! See docs/ARCHITECTURE.md, "Resumable uploads".

use bytes::Bytes;
use std::collections::VecDeque;

/// How many released bytes are kept for the comparison (per upload in progress).
pub const KEEP: u64 = 256 * 1024;

#[derive(Debug, Default)]
pub struct Resent {
    /// Released chunks and the file offset of each one's first byte, oldest first.
    chunks: VecDeque<(u64, Bytes)>,
    kept: u64,
}

impl Resent {
    /// `chunk` was released upstream starting at file offset `at`.
    pub fn released(&mut self, at: u64, chunk: &Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.chunks.push_back((at, chunk.clone()));
        self.kept += chunk.len() as u64;
        while self.kept - self.chunks.front().map_or(0, |c| c.1.len() as u64) >= KEEP {
            if let Some((_, c)) = self.chunks.pop_front() {
                self.kept -= c.len() as u64;
            }
        }
    }

    /// The upstream acknowledged everything released: nothing can be sent again before it.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.kept = 0;
    }

    /// Whether the kept bytes reach back to `offset` (and end at `end`).
    pub fn covers(&self, offset: u64, end: u64) -> bool {
        let first = self.chunks.front().map_or(end, |c| c.0);
        let last = self.chunks.back().map_or(end, |c| c.0 + c.1.len() as u64);
        first <= offset && last == end
    }

    /// The kept bytes from `from` to `to`, if they are all kept.
    pub fn slice(&self, from: u64, to: u64) -> Option<Vec<u8>> {
        if !self.covers(
            from,
            self.chunks.back().map_or(to, |c| c.0 + c.1.len() as u64),
        ) {
            return None;
        }
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        for (at, chunk) in &self.chunks {
            let end = at + chunk.len() as u64;
            if end <= from || *at >= to {
                continue;
            }
            let a = from.saturating_sub(*at) as usize;
            let b = (to.min(end) - at) as usize;
            out.extend_from_slice(&chunk[a..b]);
        }
        (out.len() as u64 == to.saturating_sub(from)).then_some(out)
    }

    /// Whether `data`, sent again at `offset`, equals the bytes released there before.
    pub fn matches(&self, mut offset: u64, mut data: &[u8]) -> bool {
        for (at, chunk) in &self.chunks {
            let end = at + chunk.len() as u64;
            if data.is_empty() {
                break;
            }
            if end <= offset {
                continue;
            }
            if *at > offset {
                return false;
            }
            let from = (offset - at) as usize;
            let n = (chunk.len() - from).min(data.len());
            if chunk[from..from + n] != data[..n] {
                return false;
            }
            data = &data[n..];
            offset += n as u64;
        }
        data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_bytes_are_compared_across_chunks() {
        let mut r = Resent::default();
        r.released(10, &Bytes::from_static(b"abcd"));
        r.released(14, &Bytes::from_static(b"efgh"));
        assert!(r.covers(10, 18) && r.covers(12, 18) && !r.covers(9, 18));
        assert!(r.matches(12, b"cdef"));
        assert!(!r.matches(12, b"cdeX"));
        assert!(!r.matches(16, b"ghij"), "past what was released");
        assert_eq!(r.slice(11, 16).as_deref(), Some(&b"bcdef"[..]));
        assert_eq!(r.slice(9, 12), None);
        assert_eq!(r.slice(16, 20), None);
    }

    #[test]
    fn only_the_last_bytes_are_kept() {
        let mut r = Resent::default();
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        for i in 0..10u64 {
            r.released(i * 65536, &chunk);
        }
        assert!(r.covers(10 * 65536 - KEEP, 10 * 65536));
        assert!(!r.covers(0, 10 * 65536));
    }
}
