//! The bytes received from the client but not yet forwarded upstream. Chunks are kept as
//! `Bytes` (no copy) and released up to an absolute offset the inspector allows.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Holdback {
    queue: VecDeque<Bytes>,
    released: u64,
    queued: usize,
}

impl Holdback {
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.queued += chunk.len();
            self.queue.push_back(chunk);
        }
    }

    /// Bytes currently held.
    pub fn held(&self) -> usize {
        self.queued
    }

    /// Body bytes released so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Forgets everything held and released since `offset`: the body will be sent again from
    /// there (0 for a whole body; a resumable upload's request starts at its offset).
    pub fn rewind_to(&mut self, offset: u64) {
        self.queue.clear();
        self.queued = 0;
        self.released = offset;
    }

    /// Takes the held bytes up to absolute body offset `offset` (an empty `Bytes` if none).
    pub fn release_to(&mut self, offset: u64) -> Bytes {
        let mut want = offset.saturating_sub(self.released).min(self.queued as u64) as usize;
        if want == 0 {
            return Bytes::new();
        }
        self.released += want as u64;
        self.queued -= want;
        let Some(first) = self.queue.front_mut() else {
            return Bytes::new();
        };
        if first.len() >= want {
            let out = first.split_to(want);
            if first.is_empty() {
                self.queue.pop_front();
            }
            return out;
        }
        let mut out = BytesMut::with_capacity(want);
        while want > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let n = want.min(front.len());
            out.extend_from_slice(&front.split_to(n));
            if front.is_empty() {
                self.queue.pop_front();
            }
            want -= n;
        }
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_across_chunks_in_order() {
        let mut h = Holdback::default();
        h.push(Bytes::from_static(b"abc"));
        h.push(Bytes::from_static(b"defg"));
        assert_eq!(h.release_to(2), Bytes::from_static(b"ab"));
        assert_eq!(h.release_to(2), Bytes::new());
        assert_eq!(h.release_to(6), Bytes::from_static(b"cdef"));
        assert_eq!(h.held(), 1);
        assert_eq!(h.release_to(100), Bytes::from_static(b"g"));
        assert_eq!(h.released(), 7);
    }
}
