//! TIFF, streamed: every IFD — the chain of next-IFD offsets and every SubIFD — is read where
//! the stream passes it (`ahead.rs`), and each image's `ImageWidth` × `ImageLength` counted,
//! so page 2 of a TIFF, or an IFD past the first 64 KiB, cannot hide a pixel bomb. Classic
//! TIFF only: a BigTIFF's IFDs are not read, and the file is refused.

use super::ahead::{Ahead, Got, Wants};
use super::{Problem, Shape};

#[derive(Debug, Clone, Copy)]
enum Part {
    Header,
    /// An IFD's entry count, then its entries and next offset.
    Count,
    Entries,
    /// An array of SubIFD offsets (LONGs).
    Offsets,
}

#[derive(Debug)]
pub struct Tiff {
    ahead: Ahead<Part>,
    little: bool,
    pub shape: Shape,
}

impl Default for Tiff {
    fn default() -> Self {
        let mut ahead = Ahead::new();
        ahead.want(0, 8, Part::Header).expect("the first want");
        Self {
            ahead,
            little: true,
            shape: Shape::default(),
        }
    }
}

impl Tiff {
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Problem> {
        let (little, shape) = (&mut self.little, &mut self.shape);
        self.ahead.feed(data, &mut |got| read(got, little, shape))
    }

    pub fn finish(&self) -> Result<(), Problem> {
        match self.shape.first {
            None => Err(Problem::Truncated("TIFF without an image")),
            Some(_) => self.ahead.finish(),
        }
    }
}

fn read(
    (part, at, b): Got<'_, Part>,
    little: &mut bool,
    shape: &mut Shape,
) -> Result<Wants<Part>, Problem> {
    let u16_at = |little: bool, i: usize| {
        let v = [b[i], b[i + 1]];
        u64::from(if little {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        })
    };
    let u32_at = |little: bool, i: usize| {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        u64::from(if little {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    let l = *little;
    Ok(match part {
        Part::Header => {
            *little = match &b[..4] {
                b"II*\0" => true,
                b"MM\0*" => false,
                _ => {
                    return Err(Problem::Malformed(
                        "TIFF that is not classic TIFF (BigTIFF)",
                    ));
                }
            };
            vec![(u32_at(*little, 4), 2, Part::Count)]
        }
        Part::Count => vec![(at + 2, 12 * u16_at(l, 0) as usize + 4, Part::Entries)],
        Part::Entries => {
            let n = (b.len() - 4) / 12;
            let (mut width, mut height, mut wants) = (None, None, Vec::new());
            for e in (0..n).map(|i| i * 12) {
                let (tag, kind, count) = (u16_at(l, e), u16_at(l, e + 2), u32_at(l, e + 4));
                // A SHORT is the first two bytes of the value field, whatever the byte order.
                let value = match kind {
                    3 => u16_at(l, e + 8),
                    _ => u32_at(l, e + 8),
                };
                match tag {
                    256 => width = Some(value),
                    257 => height = Some(value),
                    330 if count == 1 => wants.push((value, 2, Part::Count)),
                    330 if count <= 1024 => wants.push((value, 4 * count as usize, Part::Offsets)),
                    330 => return Err(Problem::Malformed("TIFF with too many SubIFDs")),
                    _ => {}
                }
            }
            if let (Some(w), Some(h)) = (width, height) {
                let fit = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                shape.add(fit(w), fit(h));
            }
            let next = u32_at(l, n * 12);
            if next != 0 {
                wants.push((next, 2, Part::Count));
            }
            wants
        }
        Part::Offsets => (0..b.len() / 4)
            .map(|i| (u32_at(l, i * 4), 2, Part::Count))
            .collect(),
    })
}
