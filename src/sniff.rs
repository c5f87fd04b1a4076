//! Content sniffing: what a file part really is, from its first bytes. Magic numbers come from
//! `infer`; zips are walked entry by entry so OOXML/ODF are recognised whatever order the
//! producer wrote them in; text-like types (SVG, HTML, plain text) are decided by content
//! rules, and script inside them is reported as active content.

pub mod svg;
mod text;
mod zip;

pub use text::ActiveScanner;

use crate::media::{self, OCTET_STREAM, OLE_STORAGE};

/// Bytes examined before deciding a type that magic numbers settle early.
pub const FIRST_LOOK: usize = 4096;

/// The detected type of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// Canonical media type (see [`media::canonical`]).
    pub mime: String,
    /// Script or other active content was found (SVG/HTML).
    pub active: bool,
}

/// The outcome of looking at a prefix of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniff {
    /// Undecided: more bytes would change the answer.
    NeedMore,
    Done(Detected),
}

fn done(mime: &str, active: bool) -> Sniff {
    Sniff::Done(Detected {
        mime: media::canonical(mime),
        active,
    })
}

/// Detects the type of `buf`, the first bytes of a part. `last` is true when no more bytes
/// will be offered (the part ended or the sniff window is full); then the answer is final.
pub fn detect(buf: &[u8], last: bool) -> Sniff {
    if buf.starts_with(b"PK\x03\x04") {
        return match zip::walk(buf) {
            Some(mime) => done(mime, false),
            None if last => done("application/zip", false),
            None => Sniff::NeedMore,
        };
    }
    if buf.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        if !last {
            return Sniff::NeedMore;
        }
        let mime = infer::get(buf).map_or(OLE_STORAGE, |t| t.mime_type());
        return done(mime, false);
    }
    let magic = infer::get(buf).map(|t| t.mime_type());
    match magic {
        Some(m) if !matches!(m, "text/xml" | "text/html" | "text/x-shellscript") => done(m, false),
        _ => match text::classify(buf) {
            Some(_) if !last => Sniff::NeedMore,
            Some((mime, active)) => done(mime, active),
            None => done(magic.unwrap_or(OCTET_STREAM), false),
        },
    }
}

#[cfg(test)]
mod tests;
