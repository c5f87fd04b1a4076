//! `Content-Encoding: aws-chunked` (S3's SDK uploads since 2025): a strict push decoder used
//! as a tee. Every raw byte is forwarded unchanged (chunk signatures chain over the framing,
//! so it is never re-framed); only the payload is inspected. Framing:
//! `hex(size)[;chunk-signature=<64 hex>]\r\n<data>\r\n` … `0[;chunk-signature=…]\r\n`, then
//! trailer lines (`x-amz-checksum-crc32:<base64>\r\n`, `x-amz-trailer-signature:<hex>\r\n`)
//! and an empty line. Anything else is refused, never guessed. At the end the decoded length
//! must be the declared `x-amz-decoded-content-length`, and the trailing checksum the
//! gateway's own over the payload.

use base64::Engine;
use bytes::Bytes;
use sha2::Digest;

/// Longest chunk-size or trailer line (a signed size line is under 100 bytes).
const MAX_LINE: usize = 4096;

/// A trailing checksum the gateway verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha256,
}

impl Algorithm {
    /// From `x-amz-trailer`'s value (`x-amz-checksum-crc32`, …).
    pub fn from_trailer(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-amz-checksum-crc32" => Some(Self::Crc32),
            "x-amz-checksum-crc32c" => Some(Self::Crc32c),
            "x-amz-checksum-crc64nvme" => Some(Self::Crc64Nvme),
            "x-amz-checksum-sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    fn trailer(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

/// What the request's headers declare about its aws-chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `x-amz-decoded-content-length`.
    pub decoded_length: u64,
    /// Chunks carry `chunk-signature` (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
    pub signed: bool,
    /// The trailing checksum (`x-amz-trailer`), when the payload hash says there is a trailer.
    pub trailer: Option<Algorithm>,
}

enum Sum {
    None,
    Crc(Box<crc_fast::Digest>),
    Sha256(Box<sha2::Sha256>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SizeLine,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// The decoder of one body.
pub struct Decoder {
    spec: Spec,
    state: State,
    line: Vec<u8>,
    decoded: u64,
    sum: Sum,
    /// The trailer's checksum value, once read.
    sent_sum: Option<String>,
    trailer_signature: bool,
}

impl Decoder {
    pub fn new(spec: Spec) -> Self {
        let sum = match spec.trailer {
            None => Sum::None,
            Some(Algorithm::Crc32) => crc(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Some(Algorithm::Crc32c) => crc(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Some(Algorithm::Crc64Nvme) => crc(crc_fast::CrcAlgorithm::Crc64Nvme),
            Some(Algorithm::Sha256) => Sum::Sha256(Box::default()),
        };
        Self {
            spec,
            state: State::SizeLine,
            line: Vec::new(),
            decoded: 0,
            sum,
            sent_sum: None,
            trailer_signature: false,
        }
    }

    /// Decodes `chunk`; each payload slice (shared with `chunk`, not copied) goes to `out`.
    pub fn push(&mut self, chunk: &Bytes, out: &mut impl FnMut(Bytes)) -> Result<(), String> {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::Data(left) => {
                    let n = (left as usize).min(chunk.len() - i);
                    let data = chunk.slice(i..i + n);
                    self.decoded += n as u64;
                    if self.decoded > self.spec.decoded_length {
                        return Err(format!(
                            "the aws-chunked payload exceeds its declared {} bytes",
                            self.spec.decoded_length
                        ));
                    }
                    match &mut self.sum {
                        Sum::None => {}
                        Sum::Crc(d) => d.update(&data),
                        Sum::Sha256(d) => d.update(&data),
                    }
                    out(data);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::Done => return Err("data after the aws-chunked trailer".into()),
                State::SizeLine | State::DataEnd | State::Trailer => {
                    let end = memchr::memchr(b'\n', &chunk[i..]);
                    let take = end.map_or(chunk.len() - i, |e| e + 1);
                    if self.line.len() + take > MAX_LINE {
                        return Err("an aws-chunked line is too long".into());
                    }
                    self.line.extend_from_slice(&chunk[i..i + take]);
                    i += take;
                    if end.is_some() {
                        let line = std::mem::take(&mut self.line);
                        let line = line
                            .strip_suffix(b"\r\n")
                            .ok_or("an aws-chunked line does not end with CRLF")?;
                        self.line_done(line)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8]) -> Result<(), String> {
        match self.state {
            State::DataEnd if line.is_empty() => self.state = State::SizeLine,
            State::DataEnd => return Err("aws-chunked data longer than its chunk size".into()),
            State::SizeLine => {
                let size = self.size_line(line)?;
                self.state = if size == 0 {
                    State::Trailer
                } else {
                    State::Data(size)
                };
            }
            State::Trailer if line.is_empty() => self.state = State::Done,
            State::Trailer => self.trailer_line(line)?,
            State::Data(_) | State::Done => return Err("an aws-chunked line out of place".into()),
        }
        Ok(())
    }

    fn size_line(&self, line: &[u8]) -> Result<u64, String> {
        let line = std::str::from_utf8(line).map_err(|_| "a malformed aws-chunked size line")?;
        let (hex, ext) = match line.split_once(';') {
            Some((h, e)) => (h, Some(e)),
            None => (line, None),
        };
        let valid_hex =
            !hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|c| c.is_ascii_hexdigit());
        let size = u64::from_str_radix(hex, 16)
            .ok()
            .filter(|_| valid_hex)
            .ok_or_else(|| format!("a malformed aws-chunked size {hex:?}"))?;
        match (ext, self.spec.signed) {
            (None, false) => {}
            (Some(e), true) if signature(e.strip_prefix("chunk-signature=")) => {}
            (Some(_), false) => {
                return Err("a chunk extension on an unsigned aws-chunked body".into());
            }
            _ => return Err("each signed aws-chunked chunk needs one chunk-signature".into()),
        }
        Ok(size)
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), String> {
        let line = std::str::from_utf8(line).map_err(|_| "a malformed aws-chunked trailer")?;
        let (name, value) = line
            .split_once(':')
            .ok_or("a malformed aws-chunked trailer line")?;
        let name = name.to_ascii_lowercase();
        let expected = self.spec.trailer.map(Algorithm::trailer);
        if Some(name.as_str()) == expected && self.sent_sum.is_none() {
            self.sent_sum = Some(value.trim().to_string());
        } else if name == "x-amz-trailer-signature"
            && self.spec.signed
            && expected.is_some()
            && !self.trailer_signature
            && signature(Some(value.trim()))
        {
            self.trailer_signature = true;
        } else {
            return Err(format!("an unexpected aws-chunked trailer {name:?}"));
        }
        Ok(())
    }

    /// The body ended: the framing must be complete, the payload as long as declared and the
    /// trailing checksum (if any) the payload's. `Err((bad_digest, message))`.
    pub fn finish(&self) -> Result<(), (bool, String)> {
        if self.state != State::Done {
            return Err((
                false,
                "the aws-chunked body ended before its final chunk".into(),
            ));
        }
        if self.decoded != self.spec.decoded_length {
            return Err((
                false,
                format!(
                    "the aws-chunked payload is {} bytes, not the declared {}",
                    self.decoded, self.spec.decoded_length
                ),
            ));
        }
        if self.spec.signed && self.spec.trailer.is_some() && !self.trailer_signature {
            return Err((
                false,
                "the signed aws-chunked trailer has no signature".into(),
            ));
        }
        let Some(algorithm) = self.spec.trailer else {
            return Ok(());
        };
        let sent = self.sent_sum.as_deref().ok_or_else(|| {
            (
                false,
                format!("the {} trailer is missing", algorithm.trailer()),
            )
        })?;
        let ours = match &self.sum {
            Sum::Crc(d) if algorithm == Algorithm::Crc64Nvme => d.finalize().to_be_bytes().to_vec(),
            Sum::Crc(d) => (d.finalize() as u32).to_be_bytes().to_vec(),
            Sum::Sha256(d) => d.clone().finalize().to_vec(),
            Sum::None => Vec::new(),
        };
        if base64::engine::general_purpose::STANDARD.encode(ours) != sent {
            return Err((
                true,
                format!(
                    "the {} trailer does not match the payload the gateway received",
                    algorithm.trailer()
                ),
            ));
        }
        Ok(())
    }
}

fn crc(algorithm: crc_fast::CrcAlgorithm) -> Sum {
    Sum::Crc(Box::new(crc_fast::Digest::new(algorithm)))
}

/// 64 lower-case hex digits.
fn signature(s: Option<&str>) -> bool {
    s.is_some_and(|s| s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests;
