//! PDF, streamed: every name token (`/JavaScript`, also spelled with `#xx` escapes) outside
//! stream data is compared with the active-content names; stream data is skipped up to
//! `endstream` (binary data would match by chance) except object streams (`/Type /ObjStm`),
//! which hold objects and are inflated — with a bound — and tokenized the same way.

use super::Problem;
use flate2::{Decompress, FlushDecompress, Status};

/// Names that make a PDF run code or carry files.
const ACTIVE: [&[u8]; 8] = [
    b"JS",
    b"JavaScript",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"SubmitForm",
    b"ImportData",
    b"GoToE",
];
/// Inflated object-stream bytes tokenized per file; beyond, the file is refused.
const MAX_INFLATED: u64 = 64 * 1024 * 1024;
const NAME_MAX: usize = 127;

fn is_delimiter(b: u8) -> bool {
    b"()<>[]{}/%".contains(&b)
}

fn is_space(b: u8) -> bool {
    b"\0\t\n\x0c\r ".contains(&b)
}

/// Names and keywords of PDF syntax.
#[derive(Debug, Default, Clone)]
struct Tokens {
    name: Option<Vec<u8>>,
    /// A `#` escape in a name: the hex digits seen so far.
    escape: Option<Vec<u8>>,
    word: Vec<u8>,
    comment: bool,
    /// Nesting depth of a literal string; `escaped`: the last byte was a backslash.
    string: u32,
    escaped: bool,
    objstm: bool,
    /// The object's dictionary named `/N` and `/First`: an object stream, whatever its `/Type`
    /// says (`/Type 7 0 R` hides the name).
    keys: (bool, bool),
    /// The last name was `/URI`: the next string is a link's target.
    uri: bool,
    /// A `/URI` string's first decoded bytes, lower-cased, while they may still spell
    /// `javascript:` (`None`: not a link, or decided).
    text: Option<Vec<u8>>,
    /// An octal escape being read in a literal string.
    octal: Option<Vec<u8>>,
    /// A `<` was read: `<<` opens a dictionary, anything else a hex string.
    lt: bool,
    /// In a hex string (`<6A61…>`): the high digit of the byte being read, if any.
    hex: Option<Option<u8>>,
}

/// What a token told the caller.
enum Event {
    None,
    /// The `stream` keyword: its data follows.
    Stream {
        objstm: bool,
    },
}

impl Tokens {
    fn byte(&mut self, b: u8) -> Result<Event, Problem> {
        if let Some(name) = &mut self.name {
            if let Some(esc) = &mut self.escape {
                esc.push(b);
                if esc.len() == 2 {
                    let v = std::str::from_utf8(esc)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    let Some(v) = v else {
                        return Err(Problem::Malformed("PDF name with a bad # escape"));
                    };
                    if name.len() < NAME_MAX {
                        name.push(v);
                    }
                    self.escape = None;
                }
                return Ok(Event::None);
            }
            if b == b'#' {
                self.escape = Some(Vec::new());
                return Ok(Event::None);
            }
            if !is_space(b) && !is_delimiter(b) {
                if name.len() < NAME_MAX {
                    name.push(b);
                }
                return Ok(Event::None);
            }
            let name = self.name.take().expect("in a name");
            if ACTIVE.contains(&name.as_slice()) {
                return Err(Problem::Active(match name.as_slice() {
                    b"JS" | b"JavaScript" => "JavaScript",
                    b"Launch" => "a launch action",
                    b"SubmitForm" | b"ImportData" => "a form action",
                    b"GoToE" => "a jump into an embedded file",
                    _ => "an embedded file",
                }));
            }
            self.uri = name == b"URI";
            match name.as_slice() {
                b"ObjStm" => self.objstm = true,
                b"N" => self.keys.0 = true,
                b"First" => self.keys.1 = true,
                _ => {}
            }
        }
        if self.comment {
            // A comment runs to the end of its line and holds no tokens: `%stream` is not
            // the start of stream data (which would skip everything up to `endstream`).
            self.comment = !matches!(b, b'\r' | b'\n');
            return Ok(Event::None);
        }
        if std::mem::take(&mut self.lt) {
            if b == b'<' {
                return Ok(Event::None);
            }
            self.hex = Some(None);
            self.text = std::mem::take(&mut self.uri).then(Vec::new);
        }
        if let Some(high) = self.hex {
            return self.hex_byte(high, b).map(|()| Event::None);
        }
        if self.string > 0 {
            if let Some(digits) = &mut self.octal {
                if (b'0'..=b'7').contains(&b) && digits.len() < 3 {
                    digits.push(b);
                    return Ok(Event::None);
                }
                let v = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                self.octal = None;
                self.string_byte(v as u8)?;
            }
            match (self.escaped, b) {
                (true, b'0'..=b'7') => {
                    self.escaped = false;
                    self.octal = Some(vec![b]);
                }
                (true, b'\r' | b'\n') => self.escaped = false,
                (true, _) => {
                    self.escaped = false;
                    let c = match b {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'f' => 0x0c,
                        b'b' => 0x08,
                        other => other,
                    };
                    self.string_byte(c)?;
                }
                (false, b'\\') => self.escaped = true,
                (false, b'(') => {
                    self.string += 1;
                    self.string_byte(b)?;
                }
                (false, b')') => {
                    self.string -= 1;
                    if self.string > 0 {
                        self.string_byte(b)?;
                    }
                }
                _ => self.string_byte(b)?,
            }
            // Names inside strings are not names, but refusing them errs on the safe side.
            if b == b'/' {
                self.name = Some(Vec::new());
            }
            return Ok(Event::None);
        }
        if !is_space(b) && !is_delimiter(b) {
            if self.word.len() < 16 {
                self.word.push(b);
            }
            return Ok(Event::None);
        }
        let word = std::mem::take(&mut self.word);
        let mut event = Event::None;
        match word.as_slice() {
            b"stream" => {
                let keys = std::mem::take(&mut self.keys);
                event = Event::Stream {
                    objstm: std::mem::take(&mut self.objstm) || keys == (true, true),
                }
            }
            b"obj" | b"endobj" => {
                self.objstm = false;
                self.keys = (false, false);
            }
            _ => {}
        }
        match b {
            b'/' => self.name = Some(Vec::new()),
            b'%' => self.comment = true,
            b'<' => self.lt = true,
            b'(' => {
                self.string = 1;
                self.text = std::mem::take(&mut self.uri).then(Vec::new);
            }
            _ => {}
        }
        Ok(event)
    }
}

impl Tokens {
    /// A byte of a hex string: two digits make a string byte (a link target is decoded like a
    /// literal one); whitespace is skipped; `>` ends it (an odd last digit counts as `d0`).
    fn hex_byte(&mut self, high: Option<u8>, b: u8) -> Result<(), Problem> {
        if b == b'>' {
            if let Some(h) = high {
                self.string_byte(h << 4)?;
            }
            self.hex = None;
            self.text = None;
            return Ok(());
        }
        if is_space(b) {
            return Ok(());
        }
        let digit = (b as char)
            .to_digit(16)
            .ok_or(Problem::Malformed("PDF hex string with a non-hex byte"))?
            as u8;
        match high {
            None => self.hex = Some(Some(digit)),
            Some(h) => {
                self.hex = Some(None);
                self.string_byte(h << 4 | digit)?;
            }
        }
        Ok(())
    }

    /// A decoded byte of a literal string: a link target (`/URI (…)`) that starts with
    /// `javascript:` is active content (a link that runs script). Whitespace and controls are
    /// dropped, as URL parsers drop them.
    fn string_byte(&mut self, b: u8) -> Result<(), Problem> {
        const SCHEME: &[u8] = b"javascript:";
        let Some(text) = &mut self.text else {
            return Ok(());
        };
        if b.is_ascii_whitespace() || b < 0x20 {
            return Ok(());
        }
        text.push(b.to_ascii_lowercase());
        if !SCHEME.starts_with(text) {
            self.text = None;
        } else if text.len() == SCHEME.len() {
            return Err(Problem::Active("a javascript: URI"));
        }
        Ok(())
    }
}

/// An object stream being inflated, and the tokens of its content.
type ObjectStream = (Decompress, Tokens);

#[derive(Default)]
pub struct Pdf {
    tokens: Tokens,
    /// In stream data: the bytes of a possible `endstream` carried over; and the inflater of an
    /// object stream.
    stream: Option<(Vec<u8>, Option<ObjectStream>)>,
    inflated: u64,
}

impl std::fmt::Debug for Pdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pdf")
            .field("in_stream", &self.stream.is_some())
            .finish()
    }
}

const END: &[u8] = b"endstream";

impl Pdf {
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Problem> {
        while !data.is_empty() {
            let Some((carry, inflate)) = &mut self.stream else {
                let mut used = 0;
                for &b in data {
                    used += 1;
                    if let Event::Stream { objstm } = self.tokens.byte(b)? {
                        let inflate = objstm.then(|| (Decompress::new(true), Tokens::default()));
                        self.stream = Some((Vec::new(), inflate));
                        break;
                    }
                }
                data = &data[used..];
                continue;
            };
            // Where `endstream` is, counting the carried bytes before `data`.
            let mut joined = std::mem::take(carry);
            let head = data.len().min(END.len());
            joined.extend_from_slice(&data[..head]);
            let at = memchr::memmem::find(&joined, END)
                .map(|i| i as isize - (joined.len() - head) as isize)
                .or_else(|| memchr::memmem::find(data, END).map(|i| i as isize));
            let stream_end = at.map_or(data.len(), |i| i.max(0) as usize);
            if let Some((z, tokens)) = inflate {
                self.inflated += inflate_into(z, tokens, &data[..stream_end])?;
                if self.inflated > MAX_INFLATED {
                    return Err(Problem::Malformed(
                        "PDF object streams inflating beyond 64 MiB",
                    ));
                }
            }
            match at {
                Some(i) => {
                    self.stream = None;
                    data = &data[(i + END.len() as isize).max(0) as usize..];
                }
                None => {
                    *carry = joined[joined.len().saturating_sub(END.len() - 1)..].to_vec();
                    if data.len() >= END.len() - 1 {
                        *carry = data[data.len() - (END.len() - 1)..].to_vec();
                    }
                    data = &[];
                }
            }
        }
        Ok(())
    }

    pub fn finish(&self) -> Result<(), Problem> {
        Ok(())
    }
}

/// Inflates object-stream bytes and tokenizes the result; returns the bytes made. A stream
/// that does not inflate is not an object stream we can read: it stops being inflated.
fn inflate_into(z: &mut Decompress, tokens: &mut Tokens, mut input: &[u8]) -> Result<u64, Problem> {
    let mut out = [0u8; 8192];
    let start = z.total_out();
    loop {
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let Ok(status) = z.decompress(input, &mut out, FlushDecompress::None) else {
            return Err(Problem::Malformed(
                "PDF object stream that does not inflate",
            ));
        };
        let made = (z.total_out() - before_out) as usize;
        for &b in &out[..made] {
            tokens.byte(b)?;
        }
        input = &input[(z.total_in() - before_in) as usize..];
        let drained = input.is_empty() && made < out.len();
        if status == Status::StreamEnd || drained || made == 0 && z.total_in() == before_in {
            return Ok(z.total_out() - start);
        }
    }
}
