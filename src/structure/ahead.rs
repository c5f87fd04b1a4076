//! Byte ranges wanted at offsets ahead in a stream — TIFF IFDs, ICO images — read as the
//! stream passes them, with bounded state: the ranges asked for (at most `MAX_WANTS`) and the
//! one being read. A range wanted behind what the stream already passed cannot be read; the
//! formats' writers put them ahead, so such a file is refused rather than buffered.

use super::Problem;
use std::collections::BTreeMap;

const MAX_WANTS: usize = 4096;
/// The longest range read (a TIFF IFD of 65,535 entries is 786,426 bytes).
const MAX_LEN: usize = 1 << 20;

/// A range read: what it was wanted as, where it starts, its bytes.
pub type Got<'a, T> = (T, u64, &'a [u8]);
/// Further ranges wanted: (offset, length, what for).
pub type Wants<T> = Vec<(u64, usize, T)>;
/// What is told of each range read.
pub type Reader<'r, T> = dyn FnMut(Got<'_, T>) -> Result<Wants<T>, Problem> + 'r;

#[derive(Debug)]
pub struct Ahead<T> {
    pos: u64,
    pending: BTreeMap<u64, (usize, T)>,
    reading: Option<(u64, usize, T)>,
    buf: Vec<u8>,
    asked: usize,
}

impl<T: Copy> Ahead<T> {
    pub fn new() -> Self {
        Self {
            pos: 0,
            pending: BTreeMap::new(),
            reading: None,
            buf: Vec::new(),
            asked: 0,
        }
    }

    pub fn want(&mut self, at: u64, len: usize, what: T) -> Result<(), Problem> {
        self.asked += 1;
        if self.asked > MAX_WANTS || len > MAX_LEN {
            return Err(Problem::Malformed("more structures than are read"));
        }
        if at < self.pos {
            return Err(Problem::Malformed(
                "a structure pointing back into the bytes already read",
            ));
        }
        if self.pending.insert(at, (len, what)).is_some() {
            return Err(Problem::Malformed("two structures at one offset"));
        }
        Ok(())
    }

    /// Feeds stream bytes; `got` is told each wanted range once read, and returns further
    /// ranges wanted.
    pub fn feed(&mut self, mut data: &[u8], got: &mut Reader<'_, T>) -> Result<(), Problem> {
        while !data.is_empty() {
            if let Some((at, len, what)) = self.reading {
                let take = (len - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                self.pos += take as u64;
                data = &data[take..];
                if self.buf.len() == len {
                    self.reading = None;
                    let bytes = std::mem::take(&mut self.buf);
                    for (at, len, what) in got((what, at, &bytes))? {
                        self.want(at, len, what)?;
                    }
                }
                continue;
            }
            let Some((&at, _)) = self.pending.first_key_value() else {
                self.pos += data.len() as u64;
                return Ok(());
            };
            if at < self.pos {
                return Err(Problem::Malformed(
                    "a structure pointing back into the bytes already read",
                ));
            }
            let skip = (at - self.pos).min(data.len() as u64) as usize;
            self.pos += skip as u64;
            data = &data[skip..];
            if self.pos == at {
                let (len, what) = self.pending.remove(&at).expect("pending");
                self.reading = Some((at, len, what));
                if len == 0 {
                    self.reading = None;
                    for (at, len, what) in got((what, at, &[]))? {
                        self.want(at, len, what)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The stream ended: every range wanted must have been read.
    pub fn finish(&self) -> Result<(), Problem> {
        match self.reading.is_some() || !self.pending.is_empty() {
            true => Err(Problem::Truncated("a structure past the end of the file")),
            false => Ok(()),
        }
    }
}
