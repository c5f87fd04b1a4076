//! SHA-256 of a file part. Small parts are hashed inline; past [`OFFLOAD_AFTER`] bytes the
//! hashing continues on a helper thread fed through a bounded tokio channel, so it overlaps with
//! the proxy's own I/O instead of adding to it.
//!
//! The request task never blocks a runtime worker on it: [`PartHasher::update`] only
//! `try_send`s and keeps what did not fit in a backlog of at most one body chunk;
//! [`PartHasher::flush`] hands the backlog over with an async `send` (backpressure is an await,
//! not a parked thread), and the digest comes back on a oneshot awaited by
//! [`PartHasher::finish`]. At most [`max_threads`] parts are offloaded at once, the rest are
//! hashed inline.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};

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

/// A part's hashing handed to a helper thread.
pub struct Offloaded {
    tx: mpsc::Sender<Bytes>,
    /// Chunks the channel had no room for yet; handed over by [`PartHasher::flush`].
    backlog: VecDeque<Bytes>,
    digest: oneshot::Receiver<Sha256>,
}

pub enum PartHasher {
    Inline(Sha256, u64),
    Offloaded(Offloaded),
    /// Not hashed here: a resumable upload's digest spans requests and is kept by its own
    /// hasher (src/tus/hash.rs); the report's digest stays empty.
    Off,
}

impl Default for PartHasher {
    fn default() -> Self {
        Self::Inline(Sha256::new(), 0)
    }
}

impl PartHasher {
    /// Hashes `data` inline or queues it for the helper thread; never waits.
    pub fn update(&mut self, data: Bytes) {
        match self {
            Self::Off => {}
            Self::Inline(h, n) => {
                h.update(&data);
                *n += data.len() as u64;
                if *n >= OFFLOAD_AFTER {
                    self.offload();
                }
            }
            Self::Offloaded(o) if o.backlog.is_empty() => match o.tx.try_send(data) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(data)) => o.backlog.push_back(data),
                // The thread died: `finish` reports no digest.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            },
            Self::Offloaded(o) => o.backlog.push_back(data),
        }
    }

    /// Whether [`Self::flush`] has anything to hand over.
    pub fn has_backlog(&self) -> bool {
        matches!(self, Self::Offloaded(o) if !o.backlog.is_empty())
    }

    /// Hands the backlog to the helper thread, waiting (asynchronously) for room.
    pub async fn flush(&mut self) {
        let Self::Offloaded(o) = self else { return };
        while let Some(chunk) = o.backlog.pop_front() {
            if o.tx.send(chunk).await.is_err() {
                o.backlog.clear();
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
        let (tx, mut rx) = mpsc::channel::<Bytes>(IN_FLIGHT);
        let (done, digest) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("ugw-sha256".into())
            .spawn(move || {
                let _slot = slot;
                while let Some(chunk) = rx.blocking_recv() {
                    hasher.update(&chunk);
                }
                let _ = done.send(hasher);
            });
        if spawned.is_ok() {
            *self = Self::Offloaded(Offloaded {
                tx,
                backlog: VecDeque::new(),
                digest,
            });
        }
    }

    /// The lower-case hex digest; `None` if the hashing thread died.
    pub async fn finish(mut self) -> Option<String> {
        self.flush().await;
        let hasher = match self {
            Self::Off => return Some(String::new()),
            Self::Inline(h, _) => h,
            Self::Offloaded(Offloaded { tx, digest, .. }) => {
                drop(tx);
                digest.await.ok()?
            }
        };
        Some(hex::encode(hasher.finalize()))
    }

    /// The digest without waiting, for a part that was never offloaded.
    pub fn finish_inline(self) -> Result<String, Self> {
        match self {
            Self::Inline(h, _) => Ok(hex::encode(h.finalize())),
            Self::Off => Ok(String::new()),
            offloaded => Err(offloaded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn offloaded_digest_equals_inline_and_the_task_never_blocks() {
        let data: Vec<u8> = (0..3 * OFFLOAD_AFTER as u32 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut h = PartHasher::default();
        for c in data.chunks(60_000) {
            // On a current-thread runtime a blocking send would deadlock the test: the
            // backlog keeps `update` from ever waiting, `flush` waits by awaiting.
            h.update(Bytes::copy_from_slice(c));
            h.flush().await;
            assert!(!h.has_backlog());
        }
        assert!(matches!(h, PartHasher::Offloaded(..)));
        assert_eq!(h.finish().await, Some(hex::encode(Sha256::digest(&data))));
        let mut small = PartHasher::default();
        small.update(Bytes::from_static(b"abc"));
        assert_eq!(
            small.finish_inline().ok(),
            Some(hex::encode(Sha256::digest(b"abc")))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_channel_fills_the_backlog_instead_of_waiting() {
        let mut h = PartHasher::default();
        h.update(Bytes::from(vec![7u8; OFFLOAD_AFTER as usize]));
        let chunk = Bytes::from(vec![1u8; 1024]);
        // Far more chunks than the channel holds, without a single await in between.
        for _ in 0..IN_FLIGHT * 8 {
            h.update(chunk.clone());
        }
        assert!(h.has_backlog(), "the excess waits in the backlog");
        let mut all = vec![7u8; OFFLOAD_AFTER as usize];
        all.extend(std::iter::repeat_n(1u8, 1024 * IN_FLIGHT * 8));
        assert_eq!(h.finish().await, Some(hex::encode(Sha256::digest(&all))));
    }
}
