//! [`UploadStream`]: the one owner of an upload's bytes on the request path. It holds the
//! [`Inspector`] (parser, sniffer, policy, hashes) and the [`Holdback`] of bytes not yet safe to
//! release, and it knows the body offset of every byte it is given, so bytes that arrive twice
//! (the sniff window replayed by pingora's retry buffer, or a whole body replayed when pingora
//! retries an idempotent request on another upstream connection) are forwarded again but never
//! parsed, sniffed, counted or hashed twice. See docs/ARCHITECTURE.md, "One owner of the bytes".

use super::{Framing, Holdback, Inspector};
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::verdict::{self, VerdictContext, VerdictSettings};
use bytes::Bytes;
use std::sync::Arc;

/// One upload's inspection, hold-back and replay position.
pub struct UploadStream {
    inspector: Inspector,
    holdback: Holdback,
    /// Body offset of the next byte handed in during the current upstream attempt.
    pos: u64,
    /// The multipart boundary (the verdict's parts need it); `None` for a raw body.
    boundary: Option<String>,
    /// The signed verdict to insert before the closing delimiter (src/verdict.rs).
    verdict: Option<(Arc<VerdictSettings>, VerdictContext)>,
}

impl UploadStream {
    pub fn new(policy: Arc<UploadPolicy>, framing: &Framing) -> Self {
        let boundary = match framing {
            Framing::Multipart { boundary } => Some(boundary.clone()),
            Framing::Raw { .. } => None,
        };
        Self {
            inspector: Inspector::new(policy, framing),
            holdback: Holdback::default(),
            pos: 0,
            boundary,
            verdict: None,
        }
    }

    /// Signs a verdict into the body for the backend; the verdict's field names become
    /// reserved. Set before any byte is inspected.
    pub fn with_verdict(mut self, settings: Arc<VerdictSettings>, ctx: VerdictContext) -> Self {
        self.inspector.reserve(vec![
            settings.field.clone(),
            settings.signature_field.clone(),
        ]);
        self.verdict = Some((settings, ctx));
        self
    }

    /// What the inspection has learned so far (files, bytes seen, the first file's type).
    pub fn inspector(&self) -> &Inspector {
        &self.inspector
    }

    /// Body bytes inspected (each counted once, however often it was replayed).
    pub fn total(&self) -> u64 {
        self.inspector.total()
    }

    /// Bytes held back right now.
    pub fn held(&self) -> usize {
        self.holdback.held()
    }

    /// A sniff-window chunk, read before the upstream is contacted: inspected and held.
    pub async fn window(&mut self, chunk: Bytes) -> Result<(), Rejection> {
        self.take(chunk).await
    }

    /// The body ended (in the sniff window, or with the last chunk): the closing delimiter must
    /// have been read.
    pub fn end(&mut self) -> Result<(), Rejection> {
        if !self.inspector.is_complete() {
            self.inspector.finish()?;
        }
        Ok(())
    }

    /// A chunk read only to fingerprint the payload (an idempotent repeat, answered without the
    /// upstream): inspected, then dropped.
    pub async fn drain(&mut self, chunk: Bytes) -> Result<(), Rejection> {
        self.take(chunk).await?;
        self.holdback = Holdback::default();
        Ok(())
    }

    /// The payload's fingerprint (src/idempotency.rs), once the body ended; an error before.
    pub async fn fingerprint(
        &mut self,
        base: crate::idempotency::Fingerprint,
    ) -> Result<String, Rejection> {
        self.inspector.settle().await?;
        self.inspector.fingerprint(base).ok_or_else(|| {
            Rejection::Internal("the upload ended before its payload could be fingerprinted".into())
        })
    }

    /// An upstream attempt begins. `source_replays` says whether the body source hands the
    /// body over again from offset 0 (pingora's retry buffer, untruncated): then what is held
    /// is dropped and comes back through [`Self::push`]. Otherwise the bytes held so far (a
    /// window larger than pingora can replay) stay and are released before new ones.
    pub fn begin_attempt(&mut self, source_replays: bool) {
        if source_replays {
            self.holdback.rewind();
            self.pos = 0;
        }
    }

    /// The stream phase: the next body chunk (`None` when pingora has none) and whether the
    /// body ended. Returns the bytes that may go upstream now, or why the request is refused.
    pub async fn push(&mut self, chunk: Option<Bytes>, end: bool) -> Result<Bytes, Rejection> {
        if let Some(chunk) = chunk {
            self.take(chunk).await?;
        }
        if end {
            self.end()?;
            // A raw body's part ends with the body: its scan verdict is collected here.
            if self.inspector.needs_settle() {
                self.inspector.settle().await?;
            }
        }
        let releasable = self.inspector.releasable();
        let close = self.inspector.closing_delimiter_at();
        match (&self.verdict, close, &self.boundary) {
            // Once per attempt, when the release crosses the closing delimiter.
            (Some((settings, ctx)), Some(close), Some(boundary))
                if self.holdback.released() <= close && releasable > close =>
            {
                self.inspector.settle().await?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let json = verdict::verdict_json(ctx, self.inspector.files(), now);
                let parts = verdict::parts(settings, boundary, &json);
                let mut out = bytes::BytesMut::from(&self.holdback.release_to(close)[..]);
                out.extend_from_slice(&parts);
                out.extend_from_slice(&self.holdback.release_to(releasable));
                Ok(out.freeze())
            }
            _ => Ok(self.holdback.release_to(releasable)),
        }
    }

    /// Holds `chunk` and inspects the part of it not inspected before.
    async fn take(&mut self, chunk: Bytes) -> Result<(), Rejection> {
        let start = self.pos;
        self.pos += chunk.len() as u64;
        let seen = self.inspector.total();
        debug_assert!(start <= seen, "a gap in the body: {start} > {seen}");
        if self.pos > seen {
            let new = chunk.slice(seen.saturating_sub(start) as usize..);
            self.inspector.feed(new)?;
            if self.inspector.needs_settle() {
                self.inspector.settle().await?;
            }
        }
        self.holdback.push(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
