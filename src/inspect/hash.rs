//! SHA-256 of a file part. Small parts are hashed inline; past [`OFFLOAD_AFTER`] bytes the
//! hashing continues on a helper thread fed through a bounded channel, so it overlaps with the
//! proxy's own I/O instead of adding to it. A full channel makes the request task wait (at
//! most [`IN_FLIGHT`] chunks, about a millisecond of hashing); at most [`max_threads`]
//! parts are offloaded at once, the rest are hashed inline.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Parts larger than this are hashed off the request task.
pub const OFFLOAD_AFTER: u64 = 1024 * 1024;
/// Chunks in flight to the hashing thread (bounds memory and lag).
const IN_FLIGHT: usize = 16;

static OFFLOADED: AtomicUsize = AtomicUsize::new(0);

/// How many parts may be hashed on helper threads at once.
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 4
}

/// Releases an offload slot when the hashing thread ends.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        OFFLOADED.fetch_sub(1, Ordering::SeqCst);
    }
}

pub enum PartHasher {
    Inline(Sha256, u64),
    Offloaded(SyncSender<Bytes>, JoinHandle<Sha256>),
}

impl Default for PartHasher {
    fn default() -> Self {
        Self::Inline(Sha256::new(), 0)
    }
}

impl PartHasher {
    pub fn update(&mut self, data: Bytes) {
        match self {
            Self::Inline(h, n) => {
                h.update(&data);
                *n += data.len() as u64;
                if *n >= OFFLOAD_AFTER {
                    self.offload();
                }
            }
            Self::Offloaded(tx, _) => {
                // A send fails only if the thread died; `finish` then reports no digest.
                let _ = tx.send(data);
            }
        }
    }

    fn offload(&mut self) {
        let Self::Inline(h, _) = self else { return };
        if OFFLOADED.fetch_add(1, Ordering::SeqCst) >= max_threads() {
            OFFLOADED.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let slot = Slot;
        let mut hasher = h.clone();
        let (tx, rx) = sync_channel::<Bytes>(IN_FLIGHT);
        let spawned = std::thread::Builder::new()
            .name("ugw-sha256".into())
            .spawn(move || {
                let _slot = slot;
                for chunk in rx {
                    hasher.update(&chunk);
                }
                hasher
            });
        if let Ok(handle) = spawned {
            *self = Self::Offloaded(tx, handle);
        }
    }

    /// The lower-case hex digest; `None` if the hashing thread died.
    pub fn finish(self) -> Option<String> {
        let hasher = match self {
            Self::Inline(h, _) => h,
            Self::Offloaded(tx, handle) => {
                drop(tx);
                handle.join().ok()?
            }
        };
        Some(hex::encode(hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offloaded_digest_equals_inline() {
        let data: Vec<u8> = (0..3 * OFFLOAD_AFTER as u32 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut h = PartHasher::default();
        for c in data.chunks(60_000) {
            h.update(Bytes::copy_from_slice(c));
        }
        assert!(matches!(h, PartHasher::Offloaded(..)));
        assert_eq!(h.finish(), Some(hex::encode(Sha256::digest(&data))));
        let mut small = PartHasher::default();
        small.update(Bytes::from_static(b"abc"));
        assert_eq!(small.finish(), Some(hex::encode(Sha256::digest(b"abc"))));
    }
}
