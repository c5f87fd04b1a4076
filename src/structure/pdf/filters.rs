//! PDF stream filters undone, streamed and bounded, before an object stream's objects are
//! tokenized (ISO 32000-1 §7.4): `FlateDecode` and `LZWDecode` with the PNG and TIFF predictors
//! of `/DecodeParms`, `ASCIIHexDecode`, `ASCII85Decode` and `RunLengthDecode`, in the order
//! `/Filter` lists them. The stream dictionary is read by [`StreamDict`] from the tokenizer's
//! names and numbers.

use crate::structure::Problem;
use flate2::Decompress;
use std::sync::{Mutex, PoisonError};

/// A filter the chain undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Flate,
    Lzw,
    AsciiHex,
    Ascii85,
    RunLength,
    /// An image codec or encryption (`DCTDecode`, `JBIG2Decode`, `Crypt`, …) or a name that is
    /// no filter: objects behind it cannot be read.
    Other,
}

impl Filter {
    fn from_name(name: &[u8]) -> Self {
        match name {
            b"FlateDecode" | b"Fl" => Self::Flate,
            b"LZWDecode" | b"LZW" => Self::Lzw,
            b"ASCIIHexDecode" | b"AHx" => Self::AsciiHex,
            b"ASCII85Decode" | b"A85" => Self::Ascii85,
            b"RunLengthDecode" | b"RL" => Self::RunLength,
            _ => Self::Other,
        }
    }
}

/// `/DecodeParms` numbers (the last value seen of each; defaults per §7.4.4.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    pub predictor: Option<u32>,
    pub columns: Option<u32>,
    pub colors: Option<u32>,
    pub bits: Option<u32>,
    pub early_change: Option<u32>,
}

const PARAMS: [&[u8]; 5] = [
    b"Predictor",
    b"Columns",
    b"Colors",
    b"BitsPerComponent",
    b"EarlyChange",
];

/// A stream's dictionary as far as decoding goes: `/Filter` (one name or an array of names)
/// and the `/DecodeParms` numbers.
#[derive(Debug, Clone, Default)]
pub struct StreamDict {
    pub filters: Vec<Filter>,
    pub params: Params,
    /// After `/Filter`: `Some(false)` until its value, `Some(true)` inside its array.
    filter: Option<bool>,
    /// After a parameter's name: which one (index into `PARAMS`).
    param: Option<usize>,
}

impl StreamDict {
    pub fn name(&mut self, name: &[u8]) {
        self.param = PARAMS.iter().position(|p| *p == name);
        match self.filter {
            Some(true) => self.filters.push(Filter::from_name(name)),
            Some(false) => {
                self.filters.push(Filter::from_name(name));
                self.filter = None;
            }
            None if name == b"Filter" => {
                self.filters.clear();
                self.filter = Some(false);
            }
            None => {}
        }
    }

    /// A number or keyword.
    pub fn word(&mut self, word: &[u8]) {
        if self.filter == Some(false) {
            // `/Filter 5 0 R`: an indirect filter cannot be read here.
            self.filters.push(Filter::Other);
            self.filter = None;
        }
        let Some(at) = self.param.take() else {
            return;
        };
        let value = std::str::from_utf8(word).ok().and_then(|w| w.parse().ok());
        let p = &mut self.params;
        match at {
            0 => p.predictor = value,
            1 => p.columns = value,
            2 => p.colors = value,
            3 => p.bits = value,
            _ => p.early_change = value,
        }
    }

    pub fn open_array(&mut self) {
        if self.filter == Some(false) {
            self.filter = Some(true);
        }
    }

    pub fn close_array(&mut self) {
        self.filter = None;
    }
}

/// Decoded bytes handed on by a stage.
type Sink<'a> = dyn FnMut(&[u8]) -> Result<(), Problem> + 'a;

/// One filter's state.
enum Stage {
    Flate(Box<Decompress>, bool),
    /// In a `Mutex` only to be `Sync` as the request context must be (weezl's decoder is
    /// `Send` only); reached through `get_mut`, never locked.
    Lzw(Box<Mutex<weezl::decode::Decoder>>, bool),
    Hex(Option<u8>, bool),
    /// The digits of the group being read, how many, and whether `~>` ended the data.
    Ascii85([u8; 5], usize, bool),
    /// A run's header: `Some(n)` literal bytes to copy, or a repeat waiting for its byte.
    RunLength(Run),
    Predict(Box<Predictor>),
}

#[derive(Clone, Copy)]
enum Run {
    Header,
    Copy(u8),
    Repeat(u8),
    Done,
}

/// The filters of one stream, in order, and what they still hold.
pub struct Chain {
    stages: Vec<Stage>,
}

const OUT: usize = 8192;
/// A predictor row longer than this is not one an object stream has.
const MAX_ROW: usize = 1 << 20;

impl Chain {
    pub fn new(dict: &StreamDict) -> Result<Self, Problem> {
        let mut stages = Vec::new();
        for filter in &dict.filters {
            stages.push(match filter {
                Filter::Flate => Stage::Flate(Box::new(Decompress::new(true)), false),
                Filter::Lzw => {
                    let decoder = if dict.params.early_change == Some(0) {
                        weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
                    } else {
                        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
                    };
                    Stage::Lzw(Box::new(Mutex::new(decoder)), false)
                }
                Filter::AsciiHex => Stage::Hex(None, false),
                Filter::Ascii85 => Stage::Ascii85([0; 5], 0, false),
                Filter::RunLength => Stage::RunLength(Run::Header),
                Filter::Other => {
                    return Err(Problem::Malformed(
                        "PDF object stream behind a filter that is not undone",
                    ));
                }
            });
            if matches!(filter, Filter::Flate | Filter::Lzw)
                && let Some(p) = Predictor::new(&dict.params)?
            {
                stages.push(Stage::Predict(Box::new(p)));
            }
        }
        Ok(Self { stages })
    }

    /// Decodes `input` through every stage into `sink`.
    pub fn feed(&mut self, input: &[u8], sink: &mut Sink<'_>) -> Result<(), Problem> {
        run(&mut self.stages, input, sink)
    }

    /// The stream ended: what stages hold back (a last partial row or group) is handed on.
    pub fn finish(&mut self, sink: &mut Sink<'_>) -> Result<(), Problem> {
        finish(&mut self.stages, sink)
    }
}

fn run(stages: &mut [Stage], input: &[u8], sink: &mut Sink<'_>) -> Result<(), Problem> {
    let Some((stage, rest)) = stages.split_first_mut() else {
        return sink(input);
    };
    stage.decode(input, &mut |out: &[u8]| run(rest, out, sink))
}

fn finish(stages: &mut [Stage], sink: &mut Sink<'_>) -> Result<(), Problem> {
    let Some((stage, rest)) = stages.split_first_mut() else {
        return Ok(());
    };
    stage.flush(&mut |out: &[u8]| run(rest, out, sink))?;
    finish(rest, sink)
}

impl Stage {
    fn decode(&mut self, mut input: &[u8], next: &mut Sink<'_>) -> Result<(), Problem> {
        // Decoded bytes of the byte-wise stages, handed on in pieces (`spill`).
        let mut out = Vec::new();
        match self {
            Stage::Flate(z, done) => {
                if !*done {
                    let broken = "PDF object stream that does not inflate";
                    *done = crate::structure::inflate(z, input, broken, next)?;
                }
            }
            Stage::Lzw(d, done) => {
                let d = d.get_mut().unwrap_or_else(PoisonError::into_inner);
                let mut buf = [0u8; OUT];
                while !*done {
                    let r = d.decode_bytes(input, &mut buf);
                    next(&buf[..r.consumed_out])?;
                    input = &input[r.consumed_in..];
                    match r.status {
                        Ok(weezl::LzwStatus::Done) => *done = true,
                        Ok(weezl::LzwStatus::Ok) => {}
                        Ok(weezl::LzwStatus::NoProgress) => break,
                        Err(_) => {
                            return Err(Problem::Malformed("PDF LZW data that does not decode"));
                        }
                    }
                    if r.consumed_out < OUT && (input.is_empty() || r.consumed_in == 0) {
                        break;
                    }
                }
            }
            Stage::Hex(high, done) => {
                for &b in input {
                    if *done {
                        break;
                    }
                    if b == b'>' {
                        *done = true;
                        out.extend(high.take().map(|h| h << 4));
                    } else if !super::is_space(b) {
                        let d = (b as char)
                            .to_digit(16)
                            .ok_or(Problem::Malformed("PDF ASCIIHex data with a non-hex byte"))?
                            as u8;
                        match high.take() {
                            None => *high = Some(d),
                            Some(h) => out.push(h << 4 | d),
                        }
                    }
                    spill(&mut out, next)?;
                }
            }
            Stage::Ascii85(group, len, done) => {
                for &b in input {
                    if *done {
                        break;
                    }
                    ascii85_byte(group, len, done, b, &mut out)?;
                    spill(&mut out, next)?;
                }
            }
            Stage::RunLength(state) => {
                for &b in input {
                    *state = match *state {
                        Run::Done => break,
                        Run::Header => match b {
                            128 => Run::Done,
                            0..=127 => Run::Copy(b + 1),
                            _ => Run::Repeat((257 - u16::from(b)) as u8),
                        },
                        Run::Copy(n) => {
                            out.push(b);
                            if n == 1 {
                                Run::Header
                            } else {
                                Run::Copy(n - 1)
                            }
                        }
                        Run::Repeat(n) => {
                            out.extend(std::iter::repeat_n(b, n.into()));
                            Run::Header
                        }
                    };
                    spill(&mut out, next)?;
                }
            }
            Stage::Predict(p) => p.decode(input, next)?,
        }
        if out.is_empty() { Ok(()) } else { next(&out) }
    }

    fn flush(&mut self, next: &mut Sink<'_>) -> Result<(), Problem> {
        match self {
            Stage::Ascii85(group, len, done) if !*done && *len > 0 => {
                let mut out = Vec::new();
                ascii85_byte(group, len, done, b'~', &mut out)?;
                next(&out)
            }
            Stage::Predict(p) => p.flush(next),
            _ => Ok(()),
        }
    }
}

/// Hands on decoded bytes once a chunk's worth is buffered.
fn spill(out: &mut Vec<u8>, next: &mut Sink<'_>) -> Result<(), Problem> {
    if out.len() >= OUT {
        next(out)?;
        out.clear();
    }
    Ok(())
}

/// One byte of ASCII85 data: `z` is four zeros, `~` ends the data (a partial group of n
/// digits makes n − 1 bytes), whitespace is skipped.
fn ascii85_byte(
    group: &mut [u8; 5],
    len: &mut usize,
    done: &mut bool,
    b: u8,
    out: &mut Vec<u8>,
) -> Result<(), Problem> {
    const BAD: Problem = Problem::Malformed("PDF ASCII85 data that does not decode");
    match b {
        b'~' => {
            *done = true;
            if *len == 1 {
                return Err(BAD);
            }
            if *len > 0 {
                let n = *len;
                group[n..].fill(b'u' - b'!');
                let v = group.iter().fold(0u64, |v, d| v * 85 + u64::from(*d));
                let v = u32::try_from(v).map_err(|_| BAD)?;
                out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
                *len = 0;
            }
        }
        b'z' if *len == 0 => out.extend_from_slice(&[0; 4]),
        b'!'..=b'u' => {
            group[*len] = b - b'!';
            *len += 1;
            if *len == 5 {
                let v = group.iter().fold(0u64, |v, d| v * 85 + u64::from(*d));
                let v = u32::try_from(v).map_err(|_| BAD)?;
                out.extend_from_slice(&v.to_be_bytes());
                *len = 0;
            }
        }
        b if super::is_space(b) => {}
        _ => return Err(BAD),
    }
    Ok(())
}

/// The PNG (10–15: a filter-type byte per row) or TIFF (2: horizontal differences) predictor.
struct Predictor {
    png: bool,
    /// Bytes per pixel (at least 1) and per row.
    bpp: usize,
    row: usize,
    prev: Vec<u8>,
    cur: Vec<u8>,
}

impl Predictor {
    fn new(p: &Params) -> Result<Option<Self>, Problem> {
        let predictor = p.predictor.unwrap_or(1);
        let (colors, bits) = (p.colors.unwrap_or(1) as usize, p.bits.unwrap_or(8) as usize);
        let columns = p.columns.unwrap_or(1) as usize;
        let png = match predictor {
            1 => return Ok(None),
            2 if bits == 8 => false,
            10..=15 => true,
            _ => {
                return Err(Problem::Malformed(
                    "PDF object stream with a predictor that is not undone",
                ));
            }
        };
        let row = colors
            .checked_mul(bits)
            .and_then(|b| b.checked_mul(columns))
            .map(|b| b.div_ceil(8))
            .filter(|r| (1..=MAX_ROW).contains(r))
            .ok_or(Problem::Malformed("PDF predictor with a row out of bounds"))?;
        let bpp = (colors * bits).div_ceil(8).max(1);
        Ok(Some(Self {
            png,
            bpp,
            row,
            prev: vec![0; row],
            cur: Vec::with_capacity(row + 1),
        }))
    }

    fn width(&self) -> usize {
        self.row + usize::from(self.png)
    }

    fn decode(&mut self, mut input: &[u8], next: &mut Sink<'_>) -> Result<(), Problem> {
        while !input.is_empty() {
            let take = (self.width() - self.cur.len()).min(input.len());
            self.cur.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.cur.len() == self.width() {
                self.emit(next)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, next: &mut Sink<'_>) -> Result<(), Problem> {
        if self.cur.len() > usize::from(self.png) {
            self.emit(next)?;
        }
        Ok(())
    }

    /// Undoes the predictor on the (possibly partial) row in `cur` and hands it on.
    fn emit(&mut self, next: &mut Sink<'_>) -> Result<(), Problem> {
        let bpp = self.bpp;
        if !self.png {
            for i in bpp..self.cur.len() {
                self.cur[i] = self.cur[i].wrapping_add(self.cur[i - bpp]);
            }
            next(&self.cur)?;
            self.cur.clear();
            return Ok(());
        }
        let kind = self.cur[0];
        let row = &mut self.cur[1..];
        let prev = &self.prev;
        for i in 0..row.len() {
            let a = if i >= bpp { row[i - bpp] } else { 0 };
            let (b, c) = (prev[i], if i >= bpp { prev[i - bpp] } else { 0 });
            row[i] = row[i].wrapping_add(match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                _ => {
                    return Err(Problem::Malformed(
                        "PDF PNG predictor with a bad row filter",
                    ));
                }
            });
        }
        next(row)?;
        self.prev[..row.len()].copy_from_slice(row);
        self.cur.clear();
        Ok(())
    }
}

pub(super) fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
