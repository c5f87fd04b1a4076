//! GIF, streamed: the logical screen and every frame's size; extension blocks that carry text
//! (comment, application, plain text) through the script-marker scanner; image data (LZW
//! sub-blocks) never scanned; nothing after the trailer.

use super::{MarkerScanner, Problem, Shape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a fixed-size header into `buf` (`what` says which).
    Fixed {
        what: Fixed,
        need: usize,
    },
    /// Skipping `left` bytes (a color table), then a block (`image`: the frame's code size).
    Skip {
        left: usize,
        image: bool,
    },
    /// The next block's introducer.
    Block,
    /// A sub-block's size byte; `text`: the block's data is scanned.
    SubSize {
        text: bool,
    },
    SubData {
        text: bool,
        left: usize,
    },
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixed {
    /// Signature and logical screen descriptor.
    Screen,
    /// The image descriptor after `,`.
    Image,
    /// The LZW minimum code size.
    CodeSize,
    /// An extension's label.
    Label,
}

#[derive(Debug, Clone)]
pub struct Gif {
    state: State,
    buf: Vec<u8>,
    markers: MarkerScanner,
    pub shape: Shape,
}

impl Default for Gif {
    fn default() -> Self {
        Self {
            state: State::Fixed {
                what: Fixed::Screen,
                need: 13,
            },
            buf: Vec::new(),
            markers: MarkerScanner::default(),
            shape: Shape::default(),
        }
    }
}

fn table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 7) + 1)
    }
}

impl Gif {
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Problem> {
        super::drive(data, |rest| self.step(rest))
    }

    pub fn finish(&self) -> Result<(), Problem> {
        match self.state {
            State::End => Ok(()),
            _ => Err(Problem::Truncated("GIF ends before its trailer")),
        }
    }

    fn step(&mut self, data: &[u8]) -> Result<usize, Problem> {
        match self.state {
            State::Fixed { what, need } => {
                let take = (need - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                if self.buf.len() == need {
                    let buf = std::mem::take(&mut self.buf);
                    self.fixed(what, &buf)?;
                }
                Ok(take)
            }
            State::Skip { left, image } => {
                let n = left.min(data.len());
                self.state = match (left - n, image) {
                    (0, false) => State::Block,
                    (0, true) => State::Fixed {
                        what: Fixed::CodeSize,
                        need: 1,
                    },
                    (left, image) => State::Skip { left, image },
                };
                Ok(n)
            }
            State::Block => {
                self.state = match data[0] {
                    b',' => State::Fixed {
                        what: Fixed::Image,
                        need: 9,
                    },
                    b'!' => State::Fixed {
                        what: Fixed::Label,
                        need: 1,
                    },
                    b';' => State::End,
                    _ => return Err(Problem::Malformed("GIF with an unknown block")),
                };
                Ok(1)
            }
            State::SubSize { text } => {
                self.state = match data[0] {
                    0 => State::Block,
                    n => State::SubData {
                        text,
                        left: n as usize,
                    },
                };
                Ok(1)
            }
            State::SubData { text, left } => {
                let n = left.min(data.len());
                if text && let Some(m) = self.markers.scan(&data[..n]) {
                    return Err(Problem::Script(m, "a GIF comment or extension"));
                }
                self.state = if n == left {
                    State::SubSize { text }
                } else {
                    State::SubData {
                        text,
                        left: left - n,
                    }
                };
                Ok(n)
            }
            State::End => Err(Problem::Trailing("GIF has data after its trailer")),
        }
    }

    fn fixed(&mut self, what: Fixed, buf: &[u8]) -> Result<(), Problem> {
        let le = |i: usize| u32::from(u16::from_le_bytes([buf[i], buf[i + 1]]));
        self.state = match what {
            Fixed::Screen => {
                if !(buf.starts_with(b"GIF87a") || buf.starts_with(b"GIF89a")) {
                    return Err(Problem::Malformed("GIF without its signature"));
                }
                self.shape.add(le(6), le(8));
                match table_len(buf[10]) {
                    0 => State::Block,
                    left => State::Skip { left, image: false },
                }
            }
            Fixed::Image => {
                // A frame is decoded at its own size wherever it sits on the screen.
                self.shape.add(le(4), le(6));
                match table_len(buf[8]) {
                    0 => State::Fixed {
                        what: Fixed::CodeSize,
                        need: 1,
                    },
                    left => State::Skip { left, image: true },
                }
            }
            Fixed::CodeSize => State::SubSize { text: false },
            // Every extension is metadata, whatever its label (an unknown one, or a graphic
            // control block longer than its 4 bytes, can carry anything): comments and plain
            // text are text, the rest binary.
            Fixed::Label => State::SubSize { text: true },
        };
        self.markers.reset();
        if let Fixed::Label = what {
            self.markers.set_binary(!matches!(buf[0], 0xFE | 0x01));
        }
        Ok(())
    }
}
