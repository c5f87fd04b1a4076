//! ICO and CUR, streamed: the directory's sizes (a 0 byte is 256) and, read where the stream
//! passes them (`ahead.rs`), each image's own header — an embedded PNG's IHDR or a bitmap's
//! BITMAPINFOHEADER (its height counts the mask too) — so an entry claiming 16 × 16 cannot hold
//! a 100,000² PNG.

use super::ahead::{Ahead, Got, Wants};
use super::{Problem, Shape};

#[derive(Debug, Clone, Copy)]
enum Part {
    Header,
    Directory,
    Image,
}

#[derive(Debug)]
pub struct Ico {
    ahead: Ahead<Part>,
    pub shape: Shape,
}

impl Default for Ico {
    fn default() -> Self {
        let mut ahead = Ahead::new();
        ahead.want(0, 6, Part::Header).expect("the first want");
        Self {
            ahead,
            shape: Shape::default(),
        }
    }
}

impl Ico {
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Problem> {
        let shape = &mut self.shape;
        self.ahead.feed(data, &mut |got| read(got, shape))
    }

    pub fn finish(&self) -> Result<(), Problem> {
        self.ahead.finish()
    }
}

fn read((part, _, b): Got<'_, Part>, shape: &mut Shape) -> Result<Wants<Part>, Problem> {
    let le16 = |i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let le32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    Ok(match part {
        Part::Header => match le16(4) {
            0 => return Err(Problem::Malformed("ICO without images")),
            n => vec![(6, 16 * n as usize, Part::Directory)],
        },
        Part::Directory => {
            let mut wants = Vec::new();
            for e in (0..b.len() / 16).map(|i| i * 16) {
                let side = |v: u8| if v == 0 { 256 } else { u32::from(v) };
                shape.add(side(b[e]), side(b[e + 1]));
                wants.push((u64::from(le32(e + 12)), 24, Part::Image));
            }
            wants
        }
        Part::Image => {
            let (w, h) = if b.starts_with(b"\x89PNG\r\n\x1a\n") {
                let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                (be(16), be(20))
            } else {
                let signed = |v: u32| (v as i32).unsigned_abs();
                (signed(le32(4)), signed(le32(8)) / 2)
            };
            shape.add(w, h);
            Vec::new()
        }
    })
}
