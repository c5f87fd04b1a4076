//! Script markers in metadata: `<?php`, `<?=`, `<%` (server-side) and `<script` (browser),
//! and the signatures of other formats that make an image a polyglot (`%PDF-`, a ZIP local
//! header, `<html`), found across any chunking with a carry of the last bytes; ASCII
//! case-insensitive (PHP and HTML are). Only ever run over metadata and comment bytes, never
//! compressed pixel data, where such sequences occur by chance.

const MARKERS: [&[u8]; 5] = [b"<?php", b"<?=", b"<script", b"<%", b"<html"];
/// Other formats' signatures, found anywhere (case-sensitive: they are magic numbers).
const SIGNATURES: [(&[u8], &str); 2] =
    [(b"%PDF-", "%PDF- (a PDF)"), (b"PK\x03\x04", "a ZIP header")];
const CARRY: usize = 6; // the longest marker's length minus one

#[derive(Debug, Default, Clone)]
pub struct MarkerScanner {
    carry: Vec<u8>,
    /// Binary metadata (EXIF, private chunks): the two-byte `<%` would match by chance about
    /// once in 64 KiB, so only the longer markers are looked for.
    binary: bool,
}

fn find(hay: &[u8], binary: bool) -> Option<&'static str> {
    let script = memchr::memchr_iter(b'<', hay).find_map(|i| {
        MARKERS
            .iter()
            .filter(|m| !binary || m.len() > 2)
            .find(|m| hay.len() - i >= m.len() && hay[i..i + m.len()].eq_ignore_ascii_case(m))
            .map(|m| std::str::from_utf8(m).expect("ASCII"))
    });
    script.or_else(|| {
        SIGNATURES
            .iter()
            .find(|(sig, _)| memchr::memmem::find(hay, sig).is_some())
            .map(|(_, what)| *what)
    })
}

impl MarkerScanner {
    /// A scanner for binary metadata (see `binary`).
    pub fn binary() -> Self {
        Self {
            binary: true,
            ..Self::default()
        }
    }

    /// Switches between text and binary metadata (a new segment of another kind).
    pub fn set_binary(&mut self, binary: bool) {
        self.binary = binary;
    }

    /// The first marker in the bytes scanned so far (including ones split across calls).
    pub fn scan(&mut self, data: &[u8]) -> Option<&'static str> {
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(&data[..data.len().min(CARRY)]);
        if let Some(m) = find(&joined, self.binary).or_else(|| find(data, self.binary)) {
            return Some(m);
        }
        self.carry = if data.len() >= CARRY {
            data[data.len() - CARRY..].to_vec()
        } else {
            joined[joined.len().saturating_sub(CARRY)..].to_vec()
        };
        None
    }

    /// A new segment: a marker never spans two segments.
    pub fn reset(&mut self) {
        self.carry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markers_in_any_chunking_and_case() {
        let text = b"xx <?PHP system($_GET['c']); ?> yy";
        for split in 0..text.len() {
            let mut s = MarkerScanner::default();
            let found = s.scan(&text[..split]).or_else(|| s.scan(&text[split..]));
            assert_eq!(found, Some("<?php"), "split at {split}");
        }
        for one in [&b"a<%= x %>"[..], b"<ScRiPt>", b"<?= 1 ?>"] {
            let mut s = MarkerScanner::default();
            let mut found = None;
            for b in one {
                found = found.or(s.scan(std::slice::from_ref(b)));
            }
            assert!(found.is_some(), "{one:?} byte by byte");
        }
        let mut s = MarkerScanner::default();
        assert_eq!(s.scan(b"<scrip"), None);
        assert_eq!(s.scan(b"< % <?ph p <sc ript"), None);
        s.reset();
        assert_eq!(s.scan(b"t>"), None, "no marker across segments");
        let mut b = MarkerScanner::binary();
        assert_eq!(
            b.scan(b"\x00<%\x9f"),
            None,
            "two bytes in binary data are chance"
        );
        assert_eq!(b.scan(b"\x00<?php"), Some("<?php"));
    }
}
