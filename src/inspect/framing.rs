//! How an upload's body carries its file: a multipart form (src/multipart.rs), or the body is
//! the file itself (a raw `PUT /media/{name}` or `POST` with the file's `Content-Type`). Both
//! are read as the same events, so a raw body gets everything a multipart file part gets.

use super::aws_chunked::{Decoder, Spec};
use crate::multipart::{Event, Parser, PartHead};
use crate::rejection::Rejection;
use bytes::Bytes;
use std::collections::VecDeque;

/// The field name a raw body's file is reported under (`FileReport::field`).
pub const RAW_FIELD: &str = "body";

/// The framing of one upload, decided in the header phase (src/proxy/headers.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// `multipart/form-data` with this boundary.
    Multipart { boundary: String },
    /// The body is the file: its declared type (the request's `Content-Type` essence) and a
    /// name taken from the path; with `aws_chunked`, the file is the payload of an S3
    /// aws-chunked body (src/inspect/aws_chunked.rs).
    Raw {
        declared: Option<String>,
        filename: Option<String>,
        aws_chunked: Option<Spec>,
    },
}

/// Where a raw body's file ends, which decides the byte held back for the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// With the body (a one-shot upload): its last byte waits for the end.
    Body,
    /// At this file offset, maybe in a later request (a resumable upload whose length is
    /// known): byte `n - 1` waits for every check; everything before goes.
    Length(u64),
    /// Not in this request (a resumable upload whose length is not yet declared): nothing waits.
    Open,
}

/// The event source of an [`super::Inspector`].
#[expect(
    clippy::large_enum_variant,
    reason = "one per upload, inside its Inspector: boxing the parser would only add an allocation"
)]
pub(super) enum Reader {
    Multipart(Parser),
    Raw(RawReader),
}

impl Reader {
    pub fn new(framing: &Framing, max_header_bytes: usize) -> Self {
        match framing {
            Framing::Multipart { boundary } => {
                Self::Multipart(Parser::new(boundary, max_header_bytes))
            }
            Framing::Raw {
                declared,
                filename,
                aws_chunked,
            } => Self::Raw(RawReader::new(
                PartHead {
                    name: RAW_FIELD.to_string(),
                    filename: filename.clone(),
                    content_type: declared.clone(),
                },
                aws_chunked.clone().map(Decoder::new),
            )),
        }
    }

    pub fn is_raw(&self) -> bool {
        matches!(self, Self::Raw(_))
    }

    /// A raw file that may continue in later requests (src/tus.rs).
    pub fn is_resumable(&self) -> bool {
        matches!(self, Self::Raw(r) if r.ending != Ending::Body)
    }

    /// Sets where a raw file ends (no effect on a multipart body).
    pub fn set_ending(&mut self, ending: Ending) {
        if let Self::Raw(r) = self {
            r.ending = ending;
        }
    }

    /// Continues a raw file at `offset`: its start was read by an earlier request.
    pub fn skip_to(&mut self, offset: u64) {
        if let Self::Raw(r) = self {
            r.pushed = offset;
        }
    }

    pub fn push(&mut self, chunk: Bytes) {
        match self {
            Self::Multipart(p) => p.push(chunk),
            Self::Raw(r) => r.push(chunk),
        }
    }

    pub fn poll(&mut self) -> Result<Option<Event>, Rejection> {
        match self {
            Self::Multipart(p) => p.poll().map_err(Rejection::InvalidMultipart),
            Self::Raw(r) => r.poll(),
        }
    }

    /// The body ended. A raw body's part ends here, so its last events follow.
    pub fn finish(&mut self) -> Result<(), Rejection> {
        match self {
            Self::Multipart(p) => p.finish().map_err(Rejection::InvalidMultipart),
            Self::Raw(r) => r.finish(),
        }
    }

    /// Body bytes the framing lets go: everything parsed, except a raw file's last byte, which
    /// stands for its end (like a multipart body's closing delimiter) until the file ended.
    pub fn position(&self) -> u64 {
        match self {
            Self::Multipart(p) => p.position(),
            Self::Raw(r) if r.ended => r.pushed,
            Self::Raw(r) => match r.ending {
                Ending::Body => r.pushed.saturating_sub(1),
                Ending::Length(n) => r.pushed.min(n.saturating_sub(1)),
                Ending::Open => r.pushed,
            },
        }
    }

    /// Where the framing after the current part starts.
    pub fn last_delimiter_at(&self) -> u64 {
        match self {
            Self::Multipart(p) => p.last_delimiter_at(),
            Self::Raw(r) => r.pushed,
        }
    }
}

/// A raw body as one file part: its start, its bytes as they come, its end when the body ends.
/// With an aws-chunked decoder, the part's bytes are the decoded payload; `pushed` counts raw
/// bytes either way.
pub(super) struct RawReader {
    decoder: Option<Decoder>,
    /// The first framing error, reported by the next poll.
    error: Option<String>,
    head: Option<PartHead>,
    queue: VecDeque<Bytes>,
    pushed: u64,
    ending: Ending,
    ended: bool,
    part_ended: bool,
    finished: bool,
}

impl RawReader {
    fn new(head: PartHead, decoder: Option<Decoder>) -> Self {
        Self {
            decoder,
            error: None,
            head: Some(head),
            queue: VecDeque::new(),
            pushed: 0,
            ending: Ending::Body,
            ended: false,
            part_ended: false,
            finished: false,
        }
    }

    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() || self.error.is_some() {
            return;
        }
        self.pushed += chunk.len() as u64;
        match &mut self.decoder {
            None => self.queue.push_back(chunk),
            Some(d) => {
                let queue = &mut self.queue;
                if let Err(e) = d.push(&chunk, &mut |data| queue.push_back(data)) {
                    self.error = Some(e);
                }
            }
        }
    }

    fn finish(&mut self) -> Result<(), Rejection> {
        if let Some(d) = &self.decoder {
            d.finish().map_err(|(digest, m)| match digest {
                true => Rejection::BadDigest(m),
                false => Rejection::BadRequest(m),
            })?;
        }
        self.ended = true;
        Ok(())
    }

    fn poll(&mut self) -> Result<Option<Event>, Rejection> {
        if let Some(head) = self.head.take() {
            return Ok(Some(Event::PartStart(head)));
        }
        if let Some(e) = self.error.take() {
            return Err(Rejection::BadRequest(e));
        }
        Ok(self.next_event())
    }

    fn next_event(&mut self) -> Option<Event> {
        if let Some(data) = self.queue.pop_front() {
            return Some(Event::Data(data));
        }
        if !self.ended {
            return None;
        }
        if !self.part_ended {
            self.part_ended = true;
            return Some(Event::PartEnd);
        }
        if !self.finished {
            self.finished = true;
            return Some(Event::Finished);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> Reader {
        Reader::new(
            &Framing::Raw {
                declared: Some("image/png".into()),
                filename: Some("a.png".into()),
                aws_chunked: None,
            },
            1024,
        )
    }

    fn drain(r: &mut Reader) -> Vec<Event> {
        std::iter::from_fn(|| r.poll().unwrap()).collect()
    }

    #[test]
    fn a_raw_body_is_one_file_part_whose_last_byte_waits_for_the_end() {
        let mut r = raw();
        r.push(Bytes::from_static(b"abc"));
        r.push(Bytes::new());
        r.push(Bytes::from_static(b"de"));
        let events = drain(&mut r);
        assert!(
            matches!(&events[0], Event::PartStart(h) if h.name == RAW_FIELD
            && h.content_type.as_deref() == Some("image/png"))
        );
        assert!(matches!(&events[1], Event::Data(d) if &d[..] == b"abc"));
        assert!(matches!(&events[2], Event::Data(d) if &d[..] == b"de"));
        assert_eq!(events.len(), 3);
        assert_eq!(r.position(), 4, "the last byte is held until the end");
        r.finish().unwrap();
        assert_eq!(r.position(), 5);
        let events = drain(&mut r);
        assert!(matches!(events[..], [Event::PartEnd, Event::Finished]));
        assert!(drain(&mut r).is_empty());
    }

    #[test]
    fn a_resumable_file_holds_only_its_final_byte() {
        let mut r = raw();
        r.set_ending(Ending::Length(6));
        assert!(r.is_resumable());
        r.push(Bytes::from_static(b"abc"));
        assert_eq!(r.position(), 3, "not the file's end: everything goes");
        r.push(Bytes::from_static(b"def"));
        assert_eq!(r.position(), 5, "byte 5 is the file's last");
        let mut open = raw();
        open.set_ending(Ending::Open);
        open.skip_to(100);
        open.push(Bytes::from_static(b"xy"));
        assert_eq!(open.position(), 102);
    }

    #[test]
    fn an_empty_raw_body_still_starts_and_ends_its_part() {
        let mut r = raw();
        assert_eq!(r.position(), 0);
        r.finish().unwrap();
        let events = drain(&mut r);
        assert!(matches!(
            events[..],
            [Event::PartStart(_), Event::PartEnd, Event::Finished]
        ));
    }
}
