//! [`UploadStream`]: the one owner of an upload's bytes on the request path. It holds the
//! [`Inspector`] (parser, sniffer, policy, hashes) and the [`Holdback`] of bytes not yet safe to
//! release, and it knows the body offset of every byte it is given, so bytes that arrive twice
//! (the sniff window replayed by pingora's retry buffer, or a whole body replayed when pingora
//! retries an idempotent request on another upstream connection) are forwarded again but never
//! parsed, sniffed, counted or hashed twice. See docs/ARCHITECTURE.md, "One owner of the bytes".

mod resent;

use super::{Ending, Framing, Holdback, Inspector};
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
    /// Where the current request's body starts in the file (0 but for a resumable upload).
    base: u64,
    /// A resumable upload's end and its last released bytes (src/tus.rs); `None` otherwise.
    resumable: Option<(Ending, resent::Resent)>,
    /// The client sends bytes again up to here (they must equal those released before).
    resent_until: u64,
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
            base: 0,
            resumable: None,
            resent_until: 0,
            boundary,
            verdict: None,
        }
    }

    /// A resumable upload's file (src/tus.rs), read over several requests; `ending` says where
    /// it ends as far as is known.
    pub fn resumable(policy: Arc<UploadPolicy>, framing: &Framing, ending: Ending) -> Self {
        let mut s = Self::new(policy, framing);
        s.inspector.set_ending(ending);
        s.resumable = Some((ending, resent::Resent::default()));
        s
    }

    /// A resumable upload continued at `offset` without the inspection of its start (another
    /// instance read it): the type is `detected`, only size and limits follow from here.
    pub fn continued(
        policy: Arc<UploadPolicy>,
        framing: &Framing,
        ending: Ending,
        offset: u64,
        detected: &str,
    ) -> Result<Self, Rejection> {
        let mut s = Self::resumable(policy, framing, ending);
        s.inspector.continue_at(offset, detected)?;
        s.base = offset;
        s.pos = offset;
        s.holdback.rewind_to(offset);
        Ok(s)
    }

    /// A one-request file whose type was decided elsewhere (an S3 multipart upload's later
    /// part: part 1 carried the magic bytes): only size, limits and hash follow; its last byte
    /// still waits for the end.
    pub fn counted(
        policy: Arc<UploadPolicy>,
        framing: &Framing,
        detected: &str,
    ) -> Result<Self, Rejection> {
        let mut s = Self::new(policy, framing);
        s.inspector.continue_at(0, detected)?;
        Ok(s)
    }

    /// Bytes released from file offset `from` to `to`, if still kept (a resumable upload's last
    /// [`resent::KEEP`] bytes).
    pub fn released_bytes(&self, from: u64, to: u64) -> Option<Vec<u8>> {
        let (_, resent) = self.resumable.as_ref()?;
        resent.slice(from, to)
    }

    /// The upstream acknowledged every byte released so far: the bytes kept to compare a
    /// resend with are dropped (a parked upload then holds only its inspection's state).
    pub fn acknowledged(&mut self) {
        if let Some((_, resent)) = &mut self.resumable {
            resent.clear();
        }
    }

    /// The upload's length became known (a deferred `Upload-Length`).
    pub fn set_length(&mut self, length: u64) {
        if let Some((ending, _)) = &mut self.resumable {
            *ending = Ending::Length(length);
            self.inspector.set_ending(*ending);
        }
    }

    /// A new request of a resumable upload starts at file offset `at`. Bytes before what was
    /// inspected are compared with those released before (a request cut mid-body is sent
    /// again from where the upstream stopped). `false` when that cannot be done: bytes were
    /// inspected but never released, or the kept bytes do not reach back to `at`.
    pub fn resume(&mut self, at: u64) -> bool {
        let inspected = self.inspector.total();
        let released = self.holdback.released();
        let Some((_, resent)) = &self.resumable else {
            return false;
        };
        let ok = self.holdback.held() == 0
            && released == inspected
            && at <= inspected
            && (at == inspected || resent.covers(at, inspected));
        if ok {
            self.resent_until = inspected;
            self.base = at;
            self.pos = at;
            self.holdback.rewind_to(at);
        }
        ok
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
            self.holdback.rewind_to(self.base);
            self.pos = self.base;
        }
    }

    /// The stream phase: the next body chunk (`None` when pingora has none) and whether the
    /// body ended. Returns the bytes that may go upstream now, or why the request is refused.
    pub async fn push(&mut self, chunk: Option<Bytes>, end: bool) -> Result<Bytes, Rejection> {
        if let Some(chunk) = chunk {
            self.take(chunk).await?;
        }
        if let Some((ending, _)) = &self.resumable {
            return self.push_resumable(*ending, end).await;
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
                let now = crate::clock::now_unix();
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

    /// A resumable upload's chunk was taken: the file ends when its length is reached; a request
    /// that ends before releases everything it inspected (the type decided on what was read).
    async fn push_resumable(&mut self, ending: Ending, end: bool) -> Result<Bytes, Rejection> {
        let total = self.inspector.total();
        if end {
            match ending {
                Ending::Length(n) if total == n => self.end()?,
                _ => self.inspector.pause()?,
            }
        }
        if self.inspector.needs_settle() {
            self.inspector.settle().await?;
        }
        let to = match end {
            true => total,
            false => self.inspector.releasable(),
        };
        let from = self.holdback.released();
        let out = self.holdback.release_to(to);
        if let Some((_, resent)) = &mut self.resumable {
            resent.released(from, &out);
        }
        Ok(out)
    }

    /// Holds `chunk` and inspects the part of it not inspected before; on a resumable upload,
    /// the part inspected before must be what was released there before.
    async fn take(&mut self, chunk: Bytes) -> Result<(), Rejection> {
        let start = self.pos;
        self.pos += chunk.len() as u64;
        let seen = self.inspector.total();
        debug_assert!(start <= seen, "a gap in the body: {start} > {seen}");
        if let Some((_, resent)) = &self.resumable
            && start < self.resent_until
        {
            let again = &chunk[..(self.resent_until.min(self.pos) - start) as usize];
            if !resent.matches(start, again) {
                return Err(Rejection::UploadGone(format!(
                    "the bytes sent again at offset {start} differ from those sent there before"
                )));
            }
        }
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
