//! JPEG, streamed: segments by their lengths, entropy-coded data up to the next marker (stuffed
//! `FF 00`, restart markers and fill bytes skipped), dimensions from the frame header (SOFn),
//! APPn and COM segments through the script-marker scanner, nothing but EOI at the end.

use super::{MarkerScanner, Problem, Shape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes of `FF D8` seen.
    Soi(u8),
    /// Expecting the `FF` of the next marker.
    Marker,
    /// After `FF`: the marker code (more `FF` are fill).
    Code,
    /// The segment length's bytes seen (`hi` is the first).
    Length {
        code: u8,
        got: u8,
        hi: u8,
    },
    Payload {
        code: u8,
        left: usize,
    },
    /// Entropy-coded data; `ff`: the last byte was `FF`.
    Entropy {
        ff: bool,
    },
    End,
}

#[derive(Debug, Clone)]
pub struct Jpeg {
    state: State,
    /// The frame header's first bytes: precision, height, width.
    sof: Vec<u8>,
    seen_sof: bool,
    markers: MarkerScanner,
    pub shape: Shape,
}

impl Default for Jpeg {
    fn default() -> Self {
        Self {
            state: State::Soi(0),
            sof: Vec::new(),
            seen_sof: false,
            markers: MarkerScanner::default(),
            shape: Shape::default(),
        }
    }
}

fn is_sof(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}

fn is_metadata(code: u8) -> bool {
    matches!(code, 0xE0..=0xEF | 0xFE)
}

impl Jpeg {
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Problem> {
        super::drive(data, |rest| self.step(rest))
    }

    pub fn finish(&self) -> Result<(), Problem> {
        match self.state {
            State::End => Ok(()),
            _ => Err(Problem::Truncated(
                "JPEG ends before its end-of-image marker",
            )),
        }
    }

    /// Consumes a prefix of `data` (at least one byte; see `super::drive`).
    fn step(&mut self, data: &[u8]) -> Result<usize, Problem> {
        let b = data[0];
        match self.state {
            State::Soi(n) => {
                if b != [0xFF, 0xD8][n as usize] {
                    return Err(Problem::Malformed("JPEG without a start-of-image marker"));
                }
                self.state = if n == 0 { State::Soi(1) } else { State::Marker };
            }
            State::Marker => {
                if b != 0xFF {
                    return Err(Problem::Malformed("JPEG with bytes between segments"));
                }
                self.state = State::Code;
            }
            State::Code => self.marker(b)?,
            State::Length { code, got: 0, .. } => {
                self.state = State::Length {
                    code,
                    got: 1,
                    hi: b,
                }
            }
            State::Length { code, hi, .. } => {
                let len = usize::from(hi) << 8 | usize::from(b);
                if len < 2 {
                    return Err(Problem::Malformed("JPEG segment length under 2"));
                }
                self.markers.reset();
                // APPn segments hold binary EXIF, ICC profiles and thumbnails (where the
                // two-byte `<%` turns up by chance); a comment segment is text.
                self.markers.set_binary(code != 0xFE);
                self.sof.clear();
                self.state = State::Payload {
                    code,
                    left: len - 2,
                };
                self.payload_done(code)?;
            }
            State::Payload { code, left } => {
                let n = left.min(data.len());
                let chunk = &data[..n];
                // Every segment outside entropy-coded data: tables can carry bytes past their
                // last table, and DNL or JPGn segments are read by nothing but still bytes.
                if let Some(m) = self.markers.scan(chunk) {
                    return Err(Problem::Script(
                        m,
                        match is_metadata(code) {
                            true => "a JPEG metadata or comment segment",
                            false => "a JPEG marker segment",
                        },
                    ));
                }
                if is_sof(code) && self.sof.len() < 5 {
                    let take = (5 - self.sof.len()).min(n);
                    self.sof.extend_from_slice(&chunk[..take]);
                    if self.sof.len() == 5 {
                        let height = u32::from(self.sof[1]) << 8 | u32::from(self.sof[2]);
                        let width = u32::from(self.sof[3]) << 8 | u32::from(self.sof[4]);
                        self.shape.add(width, height);
                        self.seen_sof = true;
                    }
                }
                self.state = State::Payload {
                    code,
                    left: left - n,
                };
                self.payload_done(code)?;
                return Ok(n);
            }
            State::Entropy { ff: false } => {
                return Ok(match memchr::memchr(0xFF, data) {
                    Some(i) => {
                        self.state = State::Entropy { ff: true };
                        i + 1
                    }
                    None => data.len(),
                });
            }
            State::Entropy { ff: true } => match b {
                0x00 | 0xD0..=0xD7 => self.state = State::Entropy { ff: false },
                0xFF => {}
                code => self.marker(code)?,
            },
            State::End => {
                return Err(Problem::Trailing(
                    "JPEG has data after its end-of-image marker",
                ));
            }
        }
        Ok(1)
    }

    fn marker(&mut self, code: u8) -> Result<(), Problem> {
        self.state = match code {
            0xFF => State::Code,
            0xD9 if self.seen_sof => State::End,
            0xD9 => return Err(Problem::Malformed("JPEG ends without a frame")),
            0x01 | 0xD0..=0xD7 => State::Marker,
            0x00 | 0xD8 => return Err(Problem::Malformed("JPEG with a misplaced marker")),
            code => State::Length {
                code,
                got: 0,
                hi: 0,
            },
        };
        Ok(())
    }

    fn payload_done(&mut self, code: u8) -> Result<(), Problem> {
        if let State::Payload { left: 0, .. } = self.state {
            if is_sof(code) && self.sof.len() < 5 {
                return Err(Problem::Malformed("JPEG frame header too short"));
            }
            self.state = if code == 0xDA {
                State::Entropy { ff: false }
            } else {
                State::Marker
            };
        }
        Ok(())
    }
}
