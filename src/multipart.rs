//! Incremental (push) multipart/form-data parser used in both the sniff window and the stream
//! phase. Feed it bytes in any chunking; pull events out. The boundary is found with
//! `memchr::memmem`, part headers are parsed with `httparse` under a size cap, and anything
//! ambiguous is an error rather than a guess (docs/ARCHITECTURE.md, "Invariants").

mod form;
mod header;

pub use form::Form;
pub use header::{PartHead, boundary_from_content_type, parse_params};

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

/// What the parser found next in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A part's header block was parsed.
    PartStart(PartHead),
    /// Bytes of the current part's content (chunking varies; concatenation does not).
    Data(Bytes),
    /// The current part ended (a delimiter follows).
    PartEnd,
    /// The closing delimiter was read.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    AfterDelimiter,
    Headers,
    Body,
    Epilogue,
}

/// The push parser. Memory is bounded by the largest chunk fed plus the part-header cap.
pub struct Parser {
    dash_boundary: Vec<u8>,
    delimiter: memmem::Finder<'static>,
    header_end: memmem::Finder<'static>,
    max_header_bytes: usize,
    buf: BytesMut,
    /// A pushed chunk parsed in place (no copy) while in a part body and `buf` is empty.
    pending: Bytes,
    state: State,
    consumed: u64,
    last_delimiter_at: u64,
}

impl Parser {
    /// A parser for `boundary` (already validated) that refuses part-header blocks over
    /// `max_header_bytes`.
    pub fn new(boundary: &str, max_header_bytes: usize) -> Self {
        let dash_boundary = format!("--{boundary}").into_bytes();
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        Self {
            dash_boundary,
            delimiter: memmem::Finder::new(&delimiter).into_owned(),
            header_end: memmem::Finder::new(b"\r\n\r\n").into_owned(),
            max_header_bytes,
            buf: BytesMut::new(),
            pending: Bytes::new(),
            state: State::Start,
            consumed: 0,
            last_delimiter_at: 0,
        }
    }

    /// Appends body bytes; call [`Parser::poll`] until it returns `Ok(None)` afterwards.
    /// Inside a part body the chunk is parsed in place and its data handed out without a copy.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        if self.state == State::Body && self.buf.is_empty() && self.pending.is_empty() {
            self.pending = chunk;
        } else {
            self.flush_pending();
            self.buf.extend_from_slice(&chunk);
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            self.buf.extend_from_slice(&self.pending);
            self.pending = Bytes::new();
        }
    }

    /// Body bytes fully processed so far (emitted as events or consumed as framing).
    pub fn position(&self) -> u64 {
        self.consumed
    }

    /// Offset of the start of the most recent delimiter (`CRLF--boundary`).
    pub fn last_delimiter_at(&self) -> u64 {
        self.last_delimiter_at
    }

    /// Whether the closing delimiter has been read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Epilogue
    }

    /// The end of the body: the closing delimiter must have been seen.
    pub fn finish(&mut self) -> Result<(), String> {
        if self.state != State::Epilogue {
            return Err("body ended before the closing multipart boundary".into());
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.consumed += n as u64;
    }

    fn take(&mut self, n: usize) -> Bytes {
        self.consumed += n as u64;
        self.buf.split_to(n).freeze()
    }

    /// The next event, `Ok(None)` when more input is needed.
    pub fn poll(&mut self) -> Result<Option<Event>, String> {
        loop {
            if self.state != State::Body || !self.buf.is_empty() {
                self.flush_pending();
            }
            match self.state {
                State::Start => {
                    let n = self.dash_boundary.len().min(self.buf.len());
                    if self.buf[..n] != self.dash_boundary[..n] {
                        return Err(
                            "body does not start with the boundary (preamble refused)".into()
                        );
                    }
                    if n < self.dash_boundary.len() {
                        return Ok(None);
                    }
                    self.consume(n);
                    self.state = State::AfterDelimiter;
                }
                State::AfterDelimiter => {
                    if self.buf.len() < 2 {
                        return Ok(None);
                    }
                    match &self.buf[..2] {
                        b"\r\n" => {
                            self.consume(2);
                            self.state = State::Headers;
                        }
                        b"--" => {
                            self.consume(2);
                            self.state = State::Epilogue;
                            return Ok(Some(Event::Finished));
                        }
                        _ => return Err("boundary followed by unexpected bytes".into()),
                    }
                }
                State::Headers => {
                    if self.buf.starts_with(b"\r\n") {
                        return Err("part without headers".into());
                    }
                    let Some(end) = self.header_end.find(&self.buf) else {
                        if self.buf.len() > self.max_header_bytes + 3 {
                            return Err(self.header_cap_error());
                        }
                        return Ok(None);
                    };
                    if end > self.max_header_bytes {
                        return Err(self.header_cap_error());
                    }
                    let head = header::parse_part_head(&self.buf[..end])?;
                    self.consume(end + 4);
                    self.state = State::Body;
                    return Ok(Some(Event::PartStart(head)));
                }
                State::Body if self.buf.is_empty() => return Ok(self.body_in_place()),
                State::Body => {
                    let dlen = self.delimiter.needle().len();
                    return Ok(match self.delimiter.find(&self.buf) {
                        Some(0) => {
                            self.last_delimiter_at = self.consumed;
                            self.consume(dlen);
                            self.state = State::AfterDelimiter;
                            Some(Event::PartEnd)
                        }
                        Some(i) => Some(Event::Data(self.take(i))),
                        None => {
                            let safe = self.buf.len() - self.partial_delimiter_at_end(&self.buf);
                            (safe > 0).then(|| Event::Data(self.take(safe)))
                        }
                    });
                }
                State::Epilogue => {
                    if let Some(c) = self.buf.iter().find(|c| !b" \t\r\n".contains(c)) {
                        return Err(format!(
                            "data after the closing boundary (byte 0x{c:02x}) is refused"
                        ));
                    }
                    let n = self.buf.len();
                    self.consume(n);
                    return Ok(None);
                }
            }
        }
    }

    /// Body state over `pending` (the last pushed chunk, untouched by copies).
    fn body_in_place(&mut self) -> Option<Event> {
        if self.pending.is_empty() {
            return None;
        }
        let dlen = self.delimiter.needle().len();
        match self.delimiter.find(&self.pending) {
            Some(0) => {
                self.last_delimiter_at = self.consumed;
                self.pending.advance(dlen);
                self.consumed += dlen as u64;
                self.state = State::AfterDelimiter;
                Some(Event::PartEnd)
            }
            Some(i) => {
                self.consumed += i as u64;
                Some(Event::Data(self.pending.split_to(i)))
            }
            None => {
                let keep = self.partial_delimiter_at_end(&self.pending);
                let data = self.pending.split_to(self.pending.len() - keep);
                self.flush_pending();
                self.consumed += data.len() as u64;
                (!data.is_empty()).then_some(Event::Data(data))
            }
        }
    }

    /// Length of the longest suffix of `data` that could begin a delimiter.
    fn partial_delimiter_at_end(&self, data: &[u8]) -> usize {
        let delim = self.delimiter.needle();
        let max = (delim.len() - 1).min(data.len());
        (1..=max)
            .rev()
            .find(|&k| data[data.len() - k..] == delim[..k])
            .unwrap_or(0)
    }

    fn header_cap_error(&self) -> String {
        format!("part headers exceed {} bytes", self.max_header_bytes)
    }
}

#[cfg(test)]
mod tests;
