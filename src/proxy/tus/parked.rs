//! The inspections of resumable uploads between their requests, on this instance (one per
//! `Gateway`): an upload's [`UploadStream`] (parser, sniffer, structure, SVG and scan state, the
//! last released bytes) waits here for the upload's next request, which may come on another
//! connection. Bounded by the uploads' expiry; an instance that did not read an upload's start
//! has none (the record in the store says how to go on: src/proxy/tus.rs `stream_for`).

use crate::inspect::UploadStream;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Parked {
    stream: UploadStream,
    until: Instant,
}

/// The parked streams of one gateway instance.
#[derive(Default)]
pub struct Streams(Mutex<HashMap<String, Parked>>);

impl Streams {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parked>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `stream` for the upload's next request (at most `expiry`).
    pub fn park(&self, key: &str, stream: UploadStream, expiry: Duration) {
        let now = Instant::now();
        let mut m = self.map();
        if m.len() % 256 == 255 {
            m.retain(|_, p| p.until > now);
        }
        let until = now + expiry;
        m.insert(key.to_string(), Parked { stream, until });
    }

    /// Takes the upload's stream, if this instance has one that has not expired.
    pub fn take(&self, key: &str) -> Option<UploadStream> {
        let p = self.map().remove(key)?;
        (p.until > Instant::now()).then_some(p.stream)
    }

    /// Forgets the upload's stream (terminated or complete).
    pub fn forget(&self, key: &str) {
        self.map().remove(key);
    }
}
