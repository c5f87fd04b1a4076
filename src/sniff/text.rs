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
    // Text that holds script or renderable markup further in (`x<script>`, an `<svg>` after
    // a long comment) is what a browser sniffing it would run: active, as HTML would be.
    Some(("text/plain", active || has_markup(&lower)))
}

/// Elements that make a browser render a text as a document (lower-cased input): one pass
/// over the `<`s.
pub fn has_markup(lower: &[u8]) -> bool {
    const TAGS: [&[u8]; 8] = [
        b"svg",
        b"html",
        b"!doctype html",
        b"body",
        b"iframe",
        b"object",
        b"embed",
        b"?xml-stylesheet",
    ];
    memchr::memchr_iter(b'<', lower).any(|i| TAGS.iter().any(|t| lower[i + 1..].starts_with(t)))
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
    /// Plain text: renderable markup (`has_markup`) counts too.
    plain: bool,
}

/// Longest marker prefix that must be carried over (an `on…=` attribute name included).
const CARRY: usize = 64;

impl ActiveScanner {
    /// A scanner that continues after `seen` (the bytes already classified).
    pub fn after(seen: &[u8]) -> Self {
        Self {
            tail: seen[seen.len().saturating_sub(CARRY)..].to_ascii_lowercase(),
            plain: false,
        }
    }

    /// The same for plain text, where markup a browser would render also counts.
    pub fn after_text(seen: &[u8]) -> Self {
        Self {
            plain: true,
            ..Self::after(seen)
        }
    }

    /// Whether active content appears once `chunk` is added.
    pub fn scan(&mut self, chunk: &[u8]) -> bool {
        let mut window = std::mem::take(&mut self.tail);
        window.extend(chunk.iter().map(u8::to_ascii_lowercase));
        let found = has_active_content(&window) || self.plain && has_markup(&window);
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
        let mut s = ActiveScanner::after_text(b"notes: ");
        assert!(!s.scan(b"a < b and c > d, on time"));
        assert!(!s.scan(b"<SV"));
        assert!(s.scan(b"G/>"));
        let mut s = ActiveScanner::after_text(b"<SV");
        assert!(s.scan(b"G onload=x>"));
    }

    #[test]
    fn text_with_markup_or_script_further_in_is_active() {
        for text in [
            &b"x<script>alert(1)</script>"[..],
            b"notes\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"a\n<iframe src=x>",
            b"see javascript:alert(1)",
            b"a <img src=x onerror=alert(1)>",
        ] {
            assert_eq!(classify(text), Some(("text/plain", true)), "{text:?}");
        }
        assert_eq!(
            classify(b"a < b; x = 1; on time\n"),
            Some(("text/plain", false))
        );
    }
}
