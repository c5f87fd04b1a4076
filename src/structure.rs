//! Structure checks beyond magic bytes, per route (`[routes.upload.structure]`, every switch
//! off by default), streamed over a file part's bytes with bounded state: image dimensions
//! (`max_width`, `max_height`, `max_pixels`: pixel bombs), an intact end (`end_marker`: no
//! data after JPEG EOI / PNG IEND / GIF trailer, not truncated, well-formed), script markers in
//! image metadata and comments (`metadata_scripts`; never in pixel data), and PDF active
//! content (`pdf_scripts`), executables and macros inside zip-based files (`archive_entries`).
//! See docs/ARCHITECTURE.md, "Structure checks".

mod ahead;
mod gif;
mod ico;
mod jpeg;
mod markers;
mod pdf;
mod png;
mod tiff;
mod zip;

pub use markers::MarkerScanner;

use crate::config::error::ConfigError;
use crate::rejection::Rejection;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructureFile {
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    pub max_pixels: Option<u64>,
    /// Refuse data after the end marker, truncated and malformed JPEG/PNG/GIF files.
    #[serde(default)]
    pub end_marker: bool,
    /// Refuse `<?php`, `<?=`, `<%`, `<script`, `<html` and other formats' signatures (`%PDF-`,
    /// a ZIP header) in image metadata and comment segments.
    #[serde(default)]
    pub metadata_scripts: bool,
    /// Refuse PDFs with `/JS`, `/JavaScript`, `/Launch`, `/EmbeddedFile(s)`, form actions, XFA
    /// or `javascript:` links, also inside object streams (README, "Structure checks").
    #[serde(default)]
    pub pdf_scripts: bool,
    /// Walk every entry of office documents and zips: refuse executables (PE, ELF, Mach-O,
    /// Java classes), JAR manifests, VBA projects in types that are not macro-enabled, and
    /// entries only the central directory shows.
    #[serde(default)]
    pub archive_entries: bool,
}

/// A route's validated structure rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructureRules {
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    pub max_pixels: Option<u64>,
    pub end_marker: bool,
    pub metadata_scripts: bool,
    pub pdf_scripts: bool,
    pub archive_entries: bool,
}

impl StructureRules {
    pub fn from_config(f: &StructureFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let zero = [
            ("max_width", f.max_width.map(u64::from)),
            ("max_height", f.max_height.map(u64::from)),
            ("max_pixels", f.max_pixels),
        ];
        let errors: Vec<ConfigError> = zero
            .iter()
            .filter(|(_, v)| *v == Some(0))
            .map(|(k, _)| ConfigError::new(format!("{at}.{k}"), "must be > 0"))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            max_width: f.max_width,
            max_height: f.max_height,
            max_pixels: f.max_pixels,
            end_marker: f.end_marker,
            metadata_scripts: f.metadata_scripts,
            pdf_scripts: f.pdf_scripts,
            archive_entries: f.archive_entries,
        })
    }

    fn limits_dimensions(&self) -> bool {
        self.max_width.is_some() || self.max_height.is_some() || self.max_pixels.is_some()
    }

    /// Checks a size found outside the structure parsers (an SVG's root element).
    pub fn check_size(&self, mime: &str, width: u32, height: u32) -> Result<(), Rejection> {
        let mut shape = Shape::default();
        shape.add(width, height);
        self.check(mime, &shape)
    }

    fn check(&self, mime: &str, s: &Shape) -> Result<(), Rejection> {
        let over_w = self.max_width.is_some_and(|m| s.width > m);
        let over_h = self.max_height.is_some_and(|m| s.height > m);
        let over_p = self.max_pixels.is_some_and(|m| s.pixels > m);
        if over_w || over_h || over_p {
            let (w, h) = (s.width, s.height);
            return Err(Rejection::TooLarge(format!(
                "{mime} of {w}×{h} pixels exceeds this route's limits ({})",
                self.describe()
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(w) = self.max_width {
            parts.push(format!("width {w}"));
        }
        if let Some(h) = self.max_height {
            parts.push(format!("height {h}"));
        }
        if let Some(p) = self.max_pixels {
            parts.push(format!("{p} pixels"));
        }
        parts.join(", ")
    }
}

/// Sizes an image declares: the first (the canvas), the largest width and height, and the
/// largest frame's pixel count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub first: Option<(u32, u32)>,
    pub width: u32,
    pub height: u32,
    pub pixels: u64,
}

impl Shape {
    pub fn add(&mut self, w: u32, h: u32) {
        self.first.get_or_insert((w, h));
        self.width = self.width.max(w);
        self.height = self.height.max(h);
        self.pixels = self.pixels.max(u64::from(w) * u64::from(h));
    }
}

/// Runs a byte-driven parser over `data`: each step consumes a prefix (at least one byte).
fn drive(
    mut data: &[u8],
    mut step: impl FnMut(&[u8]) -> Result<usize, Problem>,
) -> Result<(), Problem> {
    while !data.is_empty() {
        let used = step(data)?;
        data = &data[used..];
    }
    Ok(())
}

/// Inflates `input` with `z`, handing what it makes to `out` in pieces of at most 8 KiB (the
/// output is never kept); returns whether the stream ended. Returns when `input` is used up
/// and nothing more is pending. `broken` names the data when it does not inflate. PNG text,
/// zip entries and PDF object streams share it.
fn inflate(
    z: &mut flate2::Decompress,
    mut input: &[u8],
    broken: &'static str,
    out: &mut dyn FnMut(&[u8]) -> Result<(), Problem>,
) -> Result<bool, Problem> {
    const PIECE: usize = 8192;
    let mut buf = [0u8; PIECE];
    loop {
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, &mut buf, flate2::FlushDecompress::None)
            .map_err(|_| Problem::Malformed(broken))?;
        let made = (z.total_out() - before_out) as usize;
        if made > 0 {
            out(&buf[..made])?;
        }
        let used = (z.total_in() - before_in) as usize;
        input = &input[used..];
        if status == flate2::Status::StreamEnd {
            return Ok(true);
        }
        // More may be pending only when the output filled up.
        if made < PIECE && (input.is_empty() || used == 0) {
            return Ok(false);
        }
    }
}

/// What a format parser found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Truncated(&'static str),
    Trailing(&'static str),
    Malformed(&'static str),
    /// A script marker, and where.
    Script(&'static str, &'static str),
    /// PDF active content (what kind).
    Active(&'static str),
}

enum Parser {
    Jpeg(jpeg::Jpeg),
    Png(Box<png::Png>),
    Gif(gif::Gif),
    Pdf(Box<pdf::Pdf>),
    Zip(Box<zip::Zip>),
    /// Dimensions of every image in a TIFF or an ICO (their structures lie anywhere ahead).
    Tiff(Box<tiff::Tiff>),
    Ico(Box<ico::Ico>),
    /// Another image format: dimensions from its header in the first bytes (up to 64 KiB
    /// kept), when there; tried on prefixes of 64, 128, … bytes and at the end.
    Header {
        bytes: Vec<u8>,
        next_try: usize,
    },
}

const HEADER_BYTES: usize = 64 * 1024;

/// Width and height from an image's header (`imagesize`), except BMP, read here: its height is
/// signed (negative for a top-down bitmap, which `imagesize` reads as ~4 billion rows) and
/// OS/2 v1 headers hold 16-bit sizes.
fn header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if let [
        b'B',
        b'M',
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        h0,
        h1,
        h2,
        h3,
        rest @ ..,
    ] = bytes
    {
        let le16 = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as u32;
        let le32 = |b: &[u8]| i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        return match (u32::from_le_bytes([*h0, *h1, *h2, *h3]), rest) {
            (12, [w0, w1, h0, h1, ..]) => Some((le16(&[*w0, *w1]), le16(&[*h0, *h1]))),
            (n, r) if n > 12 && r.len() >= 8 => {
                Some((le32(&r[..4]).unsigned_abs(), le32(&r[4..8]).unsigned_abs()))
            }
            _ => None,
        };
    }
    imagesize::blob_size(bytes)
        .ok()
        .map(|s| (s.width as u32, s.height as u32))
}

/// One file part's structure check.
pub struct Check {
    parser: Parser,
    rules: Arc<StructureRules>,
    mime: String,
    /// The parser met something it cannot parse past and the route does not refuse for it.
    stopped: bool,
    shape: Shape,
}

impl Check {
    /// Whether a file of type `mime` gets a check under `rules` (it then needs the whole
    /// stream, from its first byte).
    pub fn applies(rules: &StructureRules, mime: &str) -> bool {
        let image_rules = rules.end_marker || rules.metadata_scripts || rules.limits_dimensions();
        match mime {
            "image/jpeg" | "image/png" | "image/apng" | "image/gif" => image_rules,
            "application/pdf" => rules.pdf_scripts,
            m if zip::Zip::reads(m) => rules.archive_entries,
            m => m.starts_with("image/") && rules.limits_dimensions(),
        }
    }

    /// The check for a file detected as `mime`, fed `seen` (the part's bytes so far), if the
    /// rules ask anything of that type.
    pub fn start(
        rules: &Arc<StructureRules>,
        mime: &str,
        seen: &[u8],
    ) -> Result<Option<Self>, Rejection> {
        let image_rules = rules.end_marker || rules.metadata_scripts || rules.limits_dimensions();
        let parser = match mime {
            "image/jpeg" if image_rules => Parser::Jpeg(jpeg::Jpeg::default()),
            "image/png" | "image/apng" if image_rules => Parser::Png(Box::default()),
            "image/gif" if image_rules => Parser::Gif(gif::Gif::default()),
            "application/pdf" if rules.pdf_scripts => Parser::Pdf(Box::default()),
            m if rules.archive_entries && zip::Zip::reads(m) => {
                Parser::Zip(Box::new(zip::Zip::new(m)))
            }
            "image/tiff" if rules.limits_dimensions() => Parser::Tiff(Box::default()),
            "image/vnd.microsoft.icon" if rules.limits_dimensions() => Parser::Ico(Box::default()),
            m if m.starts_with("image/") && rules.limits_dimensions() => Parser::Header {
                bytes: Vec::new(),
                next_try: 64,
            },
            _ => return Ok(None),
        };
        let mut check = Self {
            parser,
            rules: rules.clone(),
            mime: mime.to_string(),
            stopped: false,
            shape: Shape::default(),
        };
        check.feed(seen)?;
        Ok(Some(check))
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<(), Rejection> {
        if self.stopped {
            return Ok(());
        }
        let (result, shape) = match &mut self.parser {
            Parser::Jpeg(p) => (p.feed(data), p.shape),
            Parser::Png(p) => (p.feed(data), p.shape),
            Parser::Gif(p) => (p.feed(data), p.shape),
            Parser::Pdf(p) => (p.feed(data), Shape::default()),
            Parser::Zip(p) => (p.feed(data), Shape::default()),
            Parser::Tiff(p) => (p.feed(data), p.shape),
            Parser::Ico(p) => (p.feed(data), p.shape),
            Parser::Header { bytes, next_try } => {
                // Tried on fixed prefixes (64, 128, … bytes): the answer cannot depend on
                // how the file was chunked.
                let take = (HEADER_BYTES - bytes.len()).min(data.len());
                bytes.extend_from_slice(&data[..take]);
                let mut shape = Shape::default();
                while shape.first.is_none() && *next_try <= bytes.len() {
                    if let Some((w, h)) = header_size(&bytes[..*next_try]) {
                        shape.add(w, h);
                    }
                    *next_try *= 2;
                }
                if shape.first.is_some() || bytes.len() == HEADER_BYTES {
                    self.stopped = true;
                }
                (Ok(()), shape)
            }
        };
        if shape != self.shape {
            self.shape = shape;
            self.rules.check(&self.mime, &shape)?;
        }
        result.or_else(|p| self.problem(p))
    }

    /// The part ended: its size (width × height), when known.
    pub fn finish(&mut self) -> Result<Option<(u32, u32)>, Rejection> {
        if !self.stopped {
            let result = match &self.parser {
                Parser::Jpeg(p) => p.finish(),
                Parser::Png(p) => p.finish(),
                Parser::Gif(p) => p.finish(),
                Parser::Pdf(p) => p.finish(),
                Parser::Zip(p) => p.finish(),
                Parser::Tiff(p) => p.finish(),
                Parser::Ico(p) => p.finish(),
                Parser::Header { bytes, .. } => {
                    if let Some((w, h)) = header_size(bytes) {
                        let mut shape = Shape::default();
                        shape.add(w, h);
                        self.shape = shape;
                        self.rules.check(&self.mime, &shape)?;
                    }
                    Ok(())
                }
            };
            result.or_else(|p| self.problem(p))?;
        }
        Ok(self.shape.first)
    }

    fn problem(&mut self, p: Problem) -> Result<(), Rejection> {
        let pdf = matches!(self.parser, Parser::Pdf(_));
        // A zip walk, a TIFF or ICO reader runs only when the route asks for what it checks:
        // all it finds is refused (an image whose sizes cannot be read cannot be vouched for).
        let asked = matches!(
            self.parser,
            Parser::Zip(_) | Parser::Tiff(_) | Parser::Ico(_)
        );
        let refuse = match &p {
            Problem::Truncated(_) | Problem::Trailing(_) => self.rules.end_marker || asked,
            Problem::Malformed(_) => self.rules.end_marker || pdf || asked,
            Problem::Script(..) => self.rules.metadata_scripts,
            Problem::Active(_) => self.rules.pdf_scripts || asked,
        };
        self.stopped = true;
        if !refuse {
            return Ok(());
        }
        Err(match p {
            Problem::Truncated(m) | Problem::Trailing(m) | Problem::Malformed(m) => {
                Rejection::InvalidFile(m.to_string())
            }
            Problem::Script(marker, place) => Rejection::UnsupportedMediaType(format!(
                "{} with script ({marker}) in {place} is not allowed on this route",
                self.mime
            )),
            Problem::Active(what) => Rejection::UnsupportedMediaType(format!(
                "{} with {what} is not allowed on this route",
                if pdf { "PDF" } else { &self.mime }
            )),
        })
    }
}

#[cfg(test)]
mod segment_tests;
#[cfg(test)]
mod tests;
