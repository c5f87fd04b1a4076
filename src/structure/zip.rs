//! Zip-based files (office documents, zips), streamed entry by entry: every local header is
//! read and the first bytes of every entry (inflated when deflated) are looked at, so an
//! executable (PE, ELF, Mach-O, a Java class), a JAR manifest or — in a type that is not
//! macro-enabled — a VBA project hidden anywhere in the archive is refused. Readers go by the
//! central directory: every entry it lists must be one the walk saw (an entry hidden inside
//! another's data, or only in the directory, is refused). Bounded: a few KiB of header state,
//! one inflater, the offsets of at most `MAX_ENTRIES` entries.

use super::Problem;
use flate2::Decompress;

const LOCAL: &[u8; 4] = b"PK\x03\x04";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const END: &[u8; 4] = b"PK\x05\x06";
const END64: &[u8; 4] = b"PK\x06\x06";
const LOCATOR64: &[u8; 4] = b"PK\x06\x07";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";
/// Bytes of an entry's start looked at.
const HEAD: usize = 64;
const MAX_ENTRIES: usize = 16 * 1024;
/// Bytes inflated to find the end of entries whose sizes follow their data.
const MAX_INFLATED: u64 = 1 << 30;

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// What the walk is reading.
enum State {
    /// A record's fixed part (`need` bytes, collected in `buf`) or, after it, its variable part.
    Record { need: usize },
    /// An entry's data with known size: `left` bytes to go.
    Sized {
        left: u64,
        inflate: Option<Box<Decompress>>,
    },
    /// A deflated entry whose size follows it: inflated to its end.
    Streamed(Box<Decompress>),
    /// After a streamed entry: its data descriptor (collected, then measured).
    Descriptor,
    /// After the end of central directory record: the comment, ignored.
    Done,
}

pub struct Zip {
    state: State,
    buf: Vec<u8>,
    /// The file offset of the next byte fed, and of the record being read.
    pos: u64,
    record_at: u64,
    /// Offsets of the local headers walked, ascending.
    seen: Vec<u64>,
    /// An entry's first bytes (inflated) and its name, while they are gathered.
    head: Vec<u8>,
    name: Vec<u8>,
    inflated: u64,
    macros_allowed: bool,
}

impl std::fmt::Debug for Zip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zip")
            .field("entries", &self.seen.len())
            .finish()
    }
}

impl Zip {
    /// A walk for a file of type `mime` (a macro-enabled type may hold a VBA project).
    pub fn new(mime: &str) -> Self {
        Self {
            state: State::Record { need: 4 },
            buf: Vec::new(),
            pos: 0,
            record_at: 0,
            seen: Vec::new(),
            head: Vec::new(),
            name: Vec::new(),
            inflated: 0,
            macros_allowed: mime.contains("macroenabled"),
        }
    }

    /// Whether files of type `mime` are zips this walk reads.
    pub fn reads(mime: &str) -> bool {
        mime == "application/zip"
            || mime.starts_with("application/vnd.openxmlformats-officedocument.")
            || mime.starts_with("application/vnd.oasis.opendocument.")
            || mime.starts_with("application/vnd.ms-") && mime.contains("macroenabled")
    }

    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Problem> {
        while !data.is_empty() {
            let used = self.step(data)?;
            self.pos += used as u64;
            data = &data[used..];
        }
        Ok(())
    }

    pub fn finish(&self) -> Result<(), Problem> {
        match self.state {
            State::Done => Ok(()),
            _ => Err(Problem::Truncated(
                "zip without its end of central directory",
            )),
        }
    }

    /// Consumes a prefix of `data` (at least one byte).
    fn step(&mut self, data: &[u8]) -> Result<usize, Problem> {
        match &mut self.state {
            State::Done => Ok(data.len()),
            State::Record { need } => {
                if self.buf.is_empty() {
                    self.record_at = self.pos;
                }
                let take = (*need - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                if self.buf.len() == *need {
                    self.record()?;
                }
                Ok(take)
            }
            State::Sized { left, inflate } => {
                let take = (*left).min(data.len() as u64) as usize;
                let chunk = &data[..take];
                if self.head.len() < HEAD {
                    match inflate {
                        Some(z) => {
                            inflate_head(z, chunk, &mut self.head)?;
                        }
                        None => {
                            let room = HEAD - self.head.len();
                            self.head.extend_from_slice(&chunk[..room.min(take)]);
                        }
                    }
                }
                *left -= take as u64;
                if *left == 0 {
                    self.entry_done()?;
                    self.record_next();
                }
                Ok(take)
            }
            State::Streamed(z) => {
                let before = z.total_in();
                let ended = inflate_head(z, data, &mut self.head)?;
                let used = (z.total_in() - before) as usize;
                self.inflated = z.total_out();
                if self.inflated > MAX_INFLATED {
                    return Err(Problem::Malformed("zip entry inflating beyond 1 GiB"));
                }
                if ended {
                    self.entry_done()?;
                    self.buf.clear();
                    self.state = State::Descriptor;
                }
                // No progress is only possible on a corrupt stream.
                if used == 0 && !ended {
                    return Err(Problem::Malformed("zip entry that does not inflate"));
                }
                Ok(used)
            }
            State::Descriptor => {
                // CRC-32 and two sizes (4 or 8 bytes each), maybe after a signature; then the
                // next record's signature says which.
                let take = (28 - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                let sig = usize::from(self.buf.starts_with(DESCRIPTOR)) * 4;
                for len in [sig + 12, sig + 20] {
                    let next = self.buf.get(len..len + 4);
                    if next.is_some_and(|n| n == LOCAL || n == CENTRAL) {
                        // The bytes after the descriptor start the next record (a local or
                        // directory header, longer than they are).
                        let rest = self.buf.split_off(len);
                        self.record_at = self.pos + take as u64 - rest.len() as u64;
                        self.buf = rest;
                        self.state = State::Record { need: 4 };
                        self.record()?;
                        return Ok(take);
                    }
                }
                if self.buf.len() == 28 {
                    return Err(Problem::Malformed("zip data descriptor out of place"));
                }
                Ok(take)
            }
        }
    }

    fn record_next(&mut self) {
        self.buf.clear();
        self.state = State::Record { need: 4 };
    }

    /// A record's bytes are in `buf`: its signature, then its fixed part, then its names.
    fn record(&mut self) -> Result<(), Problem> {
        let sig: [u8; 4] = self.buf[..4].try_into().expect("a signature");
        let fixed = match &sig {
            s if s == LOCAL => 30,
            s if s == CENTRAL => 46,
            s if s == END => 22,
            s if s == END64 => 12,
            s if s == LOCATOR64 => 20,
            _ => return Err(Problem::Malformed("zip with data between its records")),
        };
        if self.buf.len() < fixed {
            self.state = State::Record { need: fixed };
            return Ok(());
        }
        let b = &self.buf;
        let var = match &sig {
            s if s == LOCAL => le16(b, 26) + le16(b, 28),
            s if s == CENTRAL => le16(b, 28) + le16(b, 30) + le16(b, 32),
            s if s == END => le16(b, 20),
            s if s == END64 => le32(b, 4).min(u64::from(u32::MAX)) as usize,
            _ => 0,
        };
        let whole = fixed + var;
        if whole > 256 * 1024 {
            return Err(Problem::Malformed("zip record longer than 256 KiB"));
        }
        if self.buf.len() < whole {
            self.state = State::Record { need: whole };
            return Ok(());
        }
        match &sig {
            s if s == LOCAL => self.local(),
            s if s == END => {
                self.state = State::Done;
                Ok(())
            }
            s => {
                if s == CENTRAL {
                    self.central()?;
                }
                self.record_next();
                Ok(())
            }
        }
    }

    /// A local header: where its entry starts, how its data is read.
    fn local(&mut self) -> Result<(), Problem> {
        let b = std::mem::take(&mut self.buf);
        if self.seen.len() == MAX_ENTRIES {
            return Err(Problem::Malformed("zip with more than 16384 entries"));
        }
        self.seen.push(self.record_at);
        let (flags, method) = (le16(&b, 6), le16(&b, 8));
        let size = le32(&b, 18);
        self.name = b[30..30 + le16(&b, 26)].to_vec();
        self.head.clear();
        let sized = flags & 0x08 == 0;
        self.state = match (method, sized) {
            _ if flags & 0x01 != 0 => {
                return Err(Problem::Malformed("zip entry that is encrypted"));
            }
            (0, true) => State::Sized {
                left: size,
                inflate: None,
            },
            (8, true) => State::Sized {
                left: size,
                inflate: Some(Box::new(Decompress::new(false))),
            },
            (8, false) => State::Streamed(Box::new(Decompress::new(false))),
            (0, false) => {
                return Err(Problem::Malformed("zip stored entry without its size"));
            }
            _ => return Err(Problem::Malformed("zip entry compressed in a way not read")),
        };
        if let State::Sized { left: 0, .. } = self.state {
            self.entry_done()?;
            self.record_next();
        }
        Ok(())
    }

    /// A central directory record: its entry must be one the walk read.
    fn central(&mut self) -> Result<(), Problem> {
        let b = &self.buf;
        let mut offset = le32(b, 42);
        if offset == 0xFFFF_FFFF {
            offset = zip64_offset(b).ok_or(Problem::Malformed(
                "zip64 directory record without its offset",
            ))?;
        }
        if self.seen.binary_search(&offset).is_err() {
            return Err(Problem::Active("an entry only its central directory shows"));
        }
        Ok(())
    }

    /// An entry's start and name are known: what it is.
    fn entry_done(&mut self) -> Result<(), Problem> {
        let name = self.name.to_ascii_lowercase();
        let file = name.rsplit(|&c| c == b'/').next().unwrap_or(&name);
        let h = &self.head;
        let what = if h.starts_with(b"MZ") {
            Some("an executable entry (PE)")
        } else if h.starts_with(b"\x7fELF") {
            Some("an executable entry (ELF)")
        } else if [
            b"\xfe\xed\xfa\xce",
            b"\xfe\xed\xfa\xcf",
            b"\xce\xfa\xed\xfe",
            b"\xcf\xfa\xed\xfe",
        ]
        .iter()
        .any(|m| h.starts_with(*m))
        {
            Some("an executable entry (Mach-O)")
        } else if h.starts_with(b"\xca\xfe\xba\xbe") || file.ends_with(b".class") {
            Some("a Java class or Mach-O entry")
        } else if name == b"meta-inf/manifest.mf" {
            Some("a JAR manifest")
        } else if file == b"vbaproject.bin" && !self.macros_allowed {
            Some("a VBA macro project")
        } else {
            None
        };
        what.map_or(Ok(()), |w| Err(Problem::Active(w)))
    }
}

/// Inflates `input`, keeping the first bytes made in `head` (up to `HEAD`; the rest is
/// dropped — inflated only to find the stream's end). Returns whether the stream ended.
fn inflate_head(z: &mut Decompress, input: &[u8], head: &mut Vec<u8>) -> Result<bool, Problem> {
    super::inflate(z, input, "zip entry that does not inflate", &mut |made| {
        let room = HEAD.saturating_sub(head.len()).min(made.len());
        head.extend_from_slice(&made[..room]);
        Ok(())
    })
}

/// The local header offset in a central directory record's zip64 extra field: its values
/// are those of the record's fields that read 0xFFFFFFFF, in order (sizes, then the offset).
fn zip64_offset(record: &[u8]) -> Option<u64> {
    let name = le16(record, 28);
    let extra = record.get(46 + name..46 + name + le16(record, 30))?;
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, len) = (le16(extra, at), le16(extra, at + 2));
        let body = extra.get(at + 4..at + 4 + len)?;
        if id == 1 {
            let skip = [24, 20]
                .iter()
                .filter(|&&f| le32(record, f) == 0xFFFF_FFFF)
                .count()
                * 8;
            let v = body.get(skip..skip + 8)?;
            return Some(u64::from_le_bytes(v.try_into().ok()?));
        }
        at += 4 + len;
    }
    None
}

#[cfg(test)]
mod tests;
