//! The inspections of resumable uploads between their requests, on this instance (one per
//! `Gateway`): an upload's [`UploadStream`] (parser, sniffer, structure, SVG and scan state, the
//! last released bytes) waits here for the upload's next request, which may come on another
//! connection. Bounded by the uploads' expiry; an instance that did not read an upload's start
//! has none (the record in the store says how to go on: src/proxy/tus/stream.rs `stream_for`).
//!
//! While a request has an upload's stream, the upload is *busy*: another request for it (a
//! client resuming before this instance noticed its previous connection drop) is answered
//! `423 Locked`, which tus clients retry, instead of being taken for a request without the
//! stream. A busy mark left by a request that never ended lapses after [`BUSY`].

use crate::inspect::UploadStream;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a busy mark holds at most.
const BUSY: Duration = Duration::from_secs(120);

enum Slot {
    Parked(Box<UploadStream>),
    Busy,
}

/// The parked streams of one gateway instance.
#[derive(Default)]
pub struct Streams(Mutex<HashMap<String, (Slot, Instant)>>);

/// Another request of the upload has its stream right now.
pub struct Busy;

impl Streams {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Slot, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `stream` for the upload's next request (at most `expiry`).
    pub fn park(&self, key: &str, stream: UploadStream, expiry: Duration) {
        let now = Instant::now();
        let mut m = self.map();
        if m.len() % 256 == 255 {
            m.retain(|_, (_, until)| *until > now);
        }
        m.insert(
            key.to_string(),
            (Slot::Parked(Box::new(stream)), now + expiry),
        );
    }

    /// Takes the upload's stream, if this instance has one that has not expired, and marks the
    /// upload busy until [`Self::park`] or [`Self::release`]; `Err(Busy)` while another request
    /// has it.
    pub fn take(&self, key: &str) -> Result<Option<UploadStream>, Busy> {
        let now = Instant::now();
        let mut m = self.map();
        let slot = m.insert(key.to_string(), (Slot::Busy, now + BUSY));
        match slot {
            Some((Slot::Busy, until)) if until > now => {
                m.insert(key.to_string(), (Slot::Busy, until));
                Err(Busy)
            }
            Some((Slot::Parked(s), until)) if until > now => Ok(Some(*s)),
            _ => Ok(None),
        }
    }

    /// The request that took the upload's stream ended without parking it.
    pub fn release(&self, key: &str) {
        let mut m = self.map();
        if matches!(m.get(key), Some((Slot::Busy, _))) {
            m.remove(key);
        }
    }

    /// Forgets the upload's stream (terminated or complete).
    pub fn forget(&self, key: &str) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Ending, Framing};

    fn stream() -> UploadStream {
        let f: crate::config::file::UploadFile =
            toml::from_str("body = \"raw\"\nallowed_types = [\"image/*\"]").unwrap();
        let policy =
            std::sync::Arc::new(crate::policy::UploadPolicy::from_config(&f, "t").unwrap());
        let framing = Framing::Raw {
            declared: None,
            filename: None,
            aws_chunked: None,
        };
        UploadStream::resumable(policy, &framing, Ending::Open)
    }

    #[test]
    fn an_upload_is_busy_while_a_request_has_its_stream() {
        let s = Streams::default();
        assert!(matches!(s.take("a"), Ok(None)), "nothing parked");
        assert!(s.take("a").is_err(), "the first request still runs");
        s.release("a");
        s.park("a", stream(), Duration::from_secs(60));
        assert!(matches!(s.take("a"), Ok(Some(_))));
        assert!(s.take("a").is_err());
        s.park("a", stream(), Duration::from_secs(60));
        s.release("a");
        assert!(
            matches!(s.take("a"), Ok(Some(_))),
            "release keeps a parked stream"
        );
        s.forget("a");
        assert!(matches!(s.take("a"), Ok(None)));
    }
}
