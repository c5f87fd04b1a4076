//! Content rules for types without magic numbers: SVG, HTML, shell scripts and plain text,
//! and whether they carry active content (script, event handlers, `javascript:` URLs).

/// `Some((type, active))` if `buf` is text; `None` if it is binary.
pub fn classify(buf: &[u8]) -> Option<(&'static str, bool)> {
    if buf.contains(&0) {
        return None;
    }
    if let Err(e) = std::str::from_utf8(buf) {
        // Only a multi-byte character cut at the end of the window is acceptable.
        if e.error_len().is_some() {
            return None;
        }
    }
    let body = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    let lower = body.to_ascii_lowercase();
    let start = lower.trim_ascii_start();
    let active = has_active_content(&lower);
    if start.starts_with(b"#!") {
        return Some(("text/x-shellscript", true));
    }
    let markup = start.starts_with(b"<");
    // A document that says it is HTML is HTML, whatever SVG it holds.
    if markup && (start.starts_with(b"<!doctype html") || contains(&lower, b"<html")) {
        return Some(("text/html", active));
    }
    if markup && contains(&lower, b"<svg") {
        // Judged by parsing the whole file (src/sniff/svg.rs), not by markers in the window.
        return Some(("image/svg+xml", false));
    }
    if markup && (contains(&lower, b"<script") || contains(&lower, b"<body")) {
        return Some(("text/html", active));
    }
    Some(("text/plain", false))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Script elements, `javascript:` URLs and `on…=` event-handler attributes (lower-cased input).
pub fn has_active_content(lower: &[u8]) -> bool {
    if contains(lower, b"<script") || contains(lower, b"javascript:") {
        return true;
    }
    // An event handler attribute: whitespace, '/' or a quote, "on", letters, optional
    // spaces, '='.
    memchr::memmem::find_iter(lower, b"on").any(|i| {
        // HTML parsers also end an attribute at a quote, and treat a form feed as space.
        let before_ok = i > 0
            && matches!(
                lower[i - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'"' | b'\''
            );
        let rest = &lower[i + 2..];
        let letters = rest.iter().take_while(|c| c.is_ascii_lowercase()).count();
        let after = rest[letters..].iter().find(|c| !c.is_ascii_whitespace());
        before_ok && letters > 0 && after == Some(&b'=')
    })
}

/// Keeps looking for active content in a text part after its type was decided, across chunk
/// boundaries (a marker split between two chunks is still found).
#[derive(Debug, Default)]
pub struct ActiveScanner {
    tail: Vec<u8>,
}

/// Longest marker prefix that must be carried over (an `on…=` attribute name included).
const CARRY: usize = 64;

impl ActiveScanner {
    /// A scanner that continues after `seen` (the bytes already classified).
    pub fn after(seen: &[u8]) -> Self {
        Self {
            tail: seen[seen.len().saturating_sub(CARRY)..].to_ascii_lowercase(),
        }
    }

    /// Whether active content appears once `chunk` is added.
    pub fn scan(&mut self, chunk: &[u8]) -> bool {
        let mut window = std::mem::take(&mut self.tail);
        window.extend(chunk.iter().map(u8::to_ascii_lowercase));
        let found = has_active_content(&window);
        self.tail = window[window.len().saturating_sub(CARRY)..].to_vec();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markers_split_across_chunks() {
        let mut s = ActiveScanner::after(b"<svg><rect/>");
        assert!(!s.scan(b"<g>lots of static content</g><scr"));
        assert!(s.scan(b"ipt>alert(1)</script>"));
        let mut s = ActiveScanner::after(b"<svg>");
        assert!(!s.scan(b"<rect width=\"1\" on"));
        assert!(s.scan(b"click=\"x()\"/>"));
    }
}
