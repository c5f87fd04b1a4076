//! PDF, streamed: every name token (`/JavaScript`, also spelled with `#xx` escapes) outside
//! stream data is compared with the active-content names; stream data is skipped up to
//! `endstream` (binary data would match by chance) except object streams (`/Type /ObjStm`, or
//! a dictionary with `/N` and `/First`), which hold objects: their filters are undone
//! (`filters.rs`, with a bound on the bytes made) and the objects tokenized the same way.

mod filters;
#[cfg(test)]
mod tests;

use super::Problem;
use filters::{Chain, StreamDict};

/// Names that make a PDF run code or carry files. An XFA form is refused whole: its scripts
/// live in XML streams the dictionary only points to.
const ACTIVE: [&[u8]; 9] = [
    b"JS",
    b"JavaScript",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"SubmitForm",
    b"ImportData",
    b"GoToE",
    b"XFA",
];
/// Decoded object-stream bytes tokenized per file; beyond, the file is refused.
const MAX_DECODED: u64 = 64 * 1024 * 1024;
const NAME_MAX: usize = 127;

fn is_delimiter(b: u8) -> bool {
    b"()<>[]{}/%".contains(&b)
}

pub(super) fn is_space(b: u8) -> bool {
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
    /// The object's `/Filter` and `/DecodeParms`, for its stream.
    dict: StreamDict,
}

/// What a token told the caller.
enum Event {
    None,
    /// The `stream` keyword: its data follows.
    Stream {
        objstm: bool,
        dict: StreamDict,
        /// The keyword ended with CR: an LF after it is the end of line, not data.
        cr: bool,
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
                    b"XFA" => "an XFA form (its scripts)",
                    _ => "an embedded file",
                }));
            }
            self.uri = name == b"URI";
            self.dict.name(&name);
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
                    dict: std::mem::take(&mut self.dict),
                    cr: b == b'\r',
                }
            }
            b"obj" | b"endobj" => {
                self.objstm = false;
                self.keys = (false, false);
                self.dict = StreamDict::default();
            }
            b"" => {}
            _ => self.dict.word(&word),
        }
        match b {
            b'[' => self.dict.open_array(),
            b']' => self.dict.close_array(),
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

/// An object stream being decoded: its filters, the tokens of its objects, and whether an LF
/// may still end the `stream` line.
struct ObjectStream {
    chain: Chain,
    tokens: Tokens,
    skip_lf: bool,
}

#[derive(Default)]
pub struct Pdf {
    tokens: Tokens,
    /// In stream data: the bytes of a possible `endstream` carried over; and the decoder of an
    /// object stream.
    stream: Option<(Vec<u8>, Option<Box<ObjectStream>>)>,
    decoded: u64,
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
            let Some((carry, objects)) = &mut self.stream else {
                let mut used = 0;
                for &b in data {
                    used += 1;
                    if let Event::Stream { objstm, dict, cr } = self.tokens.byte(b)? {
                        let objects = match objstm {
                            true => Some(Box::new(ObjectStream {
                                chain: Chain::new(&dict)?,
                                tokens: Tokens::default(),
                                skip_lf: cr,
                            })),
                            false => None,
                        };
                        self.stream = Some((Vec::new(), objects));
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
            if let Some(o) = objects {
                let mut bytes = &data[..stream_end];
                if std::mem::take(&mut o.skip_lf) && bytes.first() == Some(&b'\n') {
                    bytes = &bytes[1..];
                }
                let (tokens, decoded) = (&mut o.tokens, &mut self.decoded);
                let mut sink = |out: &[u8]| tokenize(tokens, decoded, out);
                o.chain.feed(bytes, &mut sink)?;
                if at.is_some() {
                    o.chain.finish(&mut sink)?;
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

/// Tokenizes decoded object-stream bytes, counting them against the bound.
fn tokenize(tokens: &mut Tokens, decoded: &mut u64, out: &[u8]) -> Result<(), Problem> {
    *decoded += out.len() as u64;
    if *decoded > MAX_DECODED {
        return Err(Problem::Malformed(
            "PDF object streams decoding beyond 64 MiB",
        ));
    }
    for &b in out {
        tokens.byte(b)?;
    }
    Ok(())
}
