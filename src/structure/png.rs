//! PNG, streamed: chunks by their lengths; the size from IHDR (which must come first); every
//! chunk but the image's own (IHDR, PLTE, IDAT, IEND) — text, eXIf, private chunks — through
//! the script-marker scanner, and compressed ones (zTXt, compressed iTXt, iCCP) also inflated
//! with a bound; pixel data (IDAT) never scanned; nothing after IEND.

use super::{MarkerScanner, Problem, Shape};
use flate2::Decompress;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// Inflated text scanned per compressed chunk; a chunk inflating to more is refused (a text
/// chunk has no business being larger; it would be a decompression bomb for the backend).
const MAX_INFLATED: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Signature(usize),
    Header,
    Data { left: usize },
    Crc(usize),
    End,
}

/// Where a text chunk's bytes are: its header fields (`nuls` NUL-terminated fields still to
/// pass, then `fixed` bytes, the first of which is iTXt's compression flag), then its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TextLayout {
    nuls_before: u8,
    fixed: u8,
    nuls_after: u8,
    compressed: bool,
}

pub struct Png {
    state: State,
    header: Vec<u8>,
    kind: [u8; 4],
    chunks: u64,
    ihdr: Vec<u8>,
    text: Option<TextLayout>,
    /// The chunk is metadata (scanned), not the image itself.
    metadata: bool,
    markers: MarkerScanner,
    inflate: Option<(Decompress, MarkerScanner)>,
    pub shape: Shape,
}

impl Default for Png {
    fn default() -> Self {
        Self {
            state: State::Signature(0),
            header: Vec::new(),
            kind: [0; 4],
            chunks: 0,
            ihdr: Vec::new(),
            text: None,
            metadata: false,
            markers: MarkerScanner::default(),
            inflate: None,
            shape: Shape::default(),
        }
    }
}

impl std::fmt::Debug for Png {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Png").field("state", &self.state).finish()
    }
}

impl Png {
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Problem> {
        super::drive(data, |rest| self.step(rest))
    }

    pub fn finish(&self) -> Result<(), Problem> {
        match self.state {
            State::End => Ok(()),
            _ => Err(Problem::Truncated("PNG ends before its IEND chunk")),
        }
    }

    fn step(&mut self, data: &[u8]) -> Result<usize, Problem> {
        match self.state {
            State::Signature(n) => {
                let take = (8 - n).min(data.len());
                if data[..take] != SIGNATURE[n..n + take] {
                    return Err(Problem::Malformed("PNG without its signature"));
                }
                self.state = if n + take == 8 {
                    State::Header
                } else {
                    State::Signature(n + take)
                };
                Ok(take)
            }
            State::Header => {
                let take = (8 - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..take]);
                if self.header.len() == 8 {
                    self.start_chunk()?;
                }
                Ok(take)
            }
            State::Data { left } => {
                let n = left.min(data.len());
                self.chunk_data(&data[..n])?;
                self.state = if left == n {
                    self.end_chunk()?;
                    State::Crc(4)
                } else {
                    State::Data { left: left - n }
                };
                Ok(n)
            }
            State::Crc(left) => {
                let n = left.min(data.len());
                self.state = match left - n {
                    0 if &self.kind == b"IEND" => State::End,
                    0 => State::Header,
                    more => State::Crc(more),
                };
                Ok(n)
            }
            State::End => Err(Problem::Trailing("PNG has data after its IEND chunk")),
        }
    }

    fn start_chunk(&mut self) -> Result<(), Problem> {
        let len = u32::from_be_bytes(self.header[..4].try_into().expect("4 bytes"));
        self.kind.copy_from_slice(&self.header[4..8]);
        self.header.clear();
        if len > 0x7FFF_FFFF || !self.kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(Problem::Malformed("PNG with an invalid chunk header"));
        }
        if (self.chunks == 0) != (&self.kind == b"IHDR") {
            return Err(Problem::Malformed("PNG whose first chunk is not IHDR"));
        }
        self.chunks += 1;
        self.markers.reset();
        self.metadata = !matches!(&self.kind, b"IHDR" | b"PLTE" | b"IDAT" | b"IEND");
        // Text chunks are text; the other metadata (eXIf, private chunks) is binary.
        let text = matches!(&self.kind, b"tEXt" | b"zTXt" | b"iTXt");
        self.markers.set_binary(!text);
        self.text = match &self.kind {
            b"tEXt" => Some((0, 0, 0)),
            b"zTXt" | b"iCCP" => Some((1, 1, 0)),
            b"iTXt" => Some((1, 2, 2)),
            _ => None,
        }
        .map(|(nuls_before, fixed, nuls_after)| TextLayout {
            nuls_before,
            fixed,
            nuls_after,
            compressed: matches!(&self.kind, b"zTXt" | b"iCCP"),
        });
        self.state = State::Data { left: len as usize };
        if len == 0 {
            self.end_chunk()?;
            self.state = State::Crc(4);
        }
        Ok(())
    }

    fn chunk_data(&mut self, data: &[u8]) -> Result<(), Problem> {
        if &self.kind == b"IHDR" && self.ihdr.len() < 8 {
            let take = (8 - self.ihdr.len()).min(data.len());
            self.ihdr.extend_from_slice(&data[..take]);
            if self.ihdr.len() == 8 {
                let w = u32::from_be_bytes(self.ihdr[..4].try_into().expect("4 bytes"));
                let h = u32::from_be_bytes(self.ihdr[4..].try_into().expect("4 bytes"));
                self.shape.add(w, h);
            }
        }
        if !self.metadata {
            return Ok(());
        }
        // Metadata is scanned raw — keywords and plain text, binary chunks whole — except a
        // compressed payload (zTXt, compressed iTXt, iCCP), which is scanned inflated: raw
        // deflate data matches markers by chance.
        let mut rest = data;
        while !rest.is_empty() {
            let Some(t) = self.text.as_mut() else {
                return self.scan_raw(rest);
            };
            let used = if t.nuls_before > 0 || (t.fixed == 0 && t.nuls_after > 0) {
                let field = memchr::memchr(0, rest).map_or(rest.len(), |i| i + 1);
                if rest[..field].last() == Some(&0) {
                    if t.nuls_before > 0 {
                        t.nuls_before -= 1;
                    } else {
                        t.nuls_after -= 1;
                    }
                }
                field
            } else if t.fixed > 0 {
                if &self.kind == b"iTXt" && t.fixed == 2 {
                    t.compressed = rest[0] == 1;
                }
                t.fixed -= 1;
                1
            } else if t.compressed {
                return self.inflate_text(rest);
            } else {
                rest.len()
            };
            self.scan_raw(&rest[..used])?;
            rest = &rest[used..];
        }
        Ok(())
    }

    fn scan_raw(&mut self, bytes: &[u8]) -> Result<(), Problem> {
        match self.markers.scan(bytes) {
            Some(m) => Err(Problem::Script(m, "a PNG metadata chunk")),
            None => Ok(()),
        }
    }

    fn inflate_text(&mut self, input: &[u8]) -> Result<(), Problem> {
        let (z, markers) = self
            .inflate
            .get_or_insert_with(|| (Decompress::new(true), MarkerScanner::default()));
        let mut total = z.total_out();
        let broken = "PNG compressed text that does not inflate";
        super::inflate(z, input, broken, &mut |made| {
            if let Some(m) = markers.scan(made) {
                return Err(Problem::Script(m, "a PNG compressed metadata chunk"));
            }
            total += made.len() as u64;
            match total > MAX_INFLATED {
                true => Err(Problem::Malformed("PNG text chunk inflating beyond 8 MiB")),
                false => Ok(()),
            }
        })?;
        Ok(())
    }

    fn end_chunk(&mut self) -> Result<(), Problem> {
        if &self.kind == b"IHDR" && self.ihdr.len() < 8 {
            return Err(Problem::Malformed("PNG IHDR chunk too short"));
        }
        self.text = None;
        self.inflate = None;
        Ok(())
    }
}
