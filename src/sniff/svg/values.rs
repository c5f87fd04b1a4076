//! The values inside SVG tags: a tag's name and attributes, character references, URLs and
//! style text (the rules of src/sniff/svg.rs).

use super::Verdict;

pub(super) fn split(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

pub(super) fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A tag's name and its attributes, values decoded.
pub(super) fn parse_tag(body: &str) -> Result<(String, Vec<(String, String)>), String> {
    let name_end = body
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.:".contains(c))
    {
        return Err(format!("the malformed tag name {:?}", truncated(name)));
    }
    let mut attrs = Vec::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or("an attribute without a value")?;
        let key = rest[..eq].trim_end();
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return Err("a malformed attribute".into());
        }
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let Some(q) = quote else {
            return Err(format!("the unquoted attribute {key}"));
        };
        let close = after[1..]
            .find(q)
            .ok_or("an unterminated attribute value")?;
        let raw = &after[1..1 + close];
        if raw.contains('<') {
            return Err("'<' in an attribute value".into());
        }
        let value = decode_text(raw)?;
        if attrs.iter().any(|(k, _): &(String, String)| k == key) {
            return Err(format!("the duplicate attribute {key}"));
        }
        attrs.push((key.to_string(), value));
        let next = &after[2 + close..];
        if !next.is_empty() && !next.starts_with(char::is_whitespace) {
            return Err("attributes without whitespace between them".into());
        }
        rest = next.trim_start();
    }
    Ok((name.to_string(), attrs))
}

/// `s` with its character and predefined entity references decoded.
fn decode_text(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').ok_or("an unterminated reference")?;
        out.push(decode_reference(&rest.as_bytes()[i + 1..i + end])?);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The character `&name;` stands for (the name without `&` and `;`). Entities other than the
/// five predefined ones could only come from a DTD, which is refused.
pub(super) fn decode_reference(name: &[u8]) -> Result<char, String> {
    let num = |digits: &[u8], radix| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            .and_then(char::from_u32)
    };
    let c = match name {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        [b'#', b'x' | b'X', hex @ ..] if !hex.is_empty() => num(hex, 16),
        [b'#', dec @ ..] if !dec.is_empty() => num(dec, 10),
        _ => None,
    };
    c.ok_or_else(|| format!("the reference &{};", String::from_utf8_lossy(name)))
}

/// The pixels an SVG root renders to: `width` and `height` (px, or absolute units at 96 dpi),
/// else the `viewBox` size. Relative sizes (`%`, `em`) are not known: `None`.
pub(super) fn root_size(
    width: Option<&str>,
    height: Option<&str>,
    view_box: Option<&str>,
) -> Option<(u32, u32)> {
    let px = |v: &str| -> Option<f64> {
        let v = v.trim();
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic() || c == '%')?);
        let scale = match unit {
            "" | "px" => 1.0,
            "pt" => 96.0 / 72.0,
            "pc" => 16.0,
            "in" => 96.0,
            "cm" => 96.0 / 2.54,
            "mm" => 96.0 / 25.4,
            _ => return None,
        };
        num.trim().parse::<f64>().ok().map(|n| n * scale)
    };
    let px = |v: &str| px(v).or_else(|| v.trim().parse::<f64>().ok());
    let clamp = |n: f64| n.clamp(0.0, f64::from(u32::MAX)).ceil() as u32;
    if let (Some(w), Some(h)) = (width.and_then(px), height.and_then(px)) {
        return Some((clamp(w), clamp(h)));
    }
    let nums: Vec<f64> = view_box?
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    match nums[..] {
        [_, _, w, h] => Some((clamp(w), clamp(h))),
        _ => None,
    }
}

/// A same-document fragment, or a raster image inlined as a base64 `data:` URL on an image.
pub(super) fn safe_url(element: &str, value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    if v.starts_with('#') {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    let raster = ["png", "jpeg", "jpg", "gif", "webp"]
        .iter()
        .any(|t| lower.starts_with(&format!("data:image/{t};base64,")));
    raster && (element == "image" || element == "feimage")
}

/// Style text: no escapes (CSS `\` escapes could spell anything), no imports, bindings,
/// expressions or script URLs, and `url()` only to a same-document fragment.
pub(super) fn check_css(css: &[u8]) -> Verdict {
    let lower = css.to_ascii_lowercase();
    let has = |n: &[u8]| memchr::memmem::find(&lower, n).is_some();
    if has(b"\\") {
        return Err("an escape in style".into());
    }
    for bad in [
        &b"@import"[..],
        b"expression(",
        b"javascript:",
        b"-moz-binding",
        b"behavior",
    ] {
        if has(bad) {
            return Err(format!("{} in style", String::from_utf8_lossy(bad)));
        }
    }
    for i in memchr::memmem::find_iter(&lower, b"url(") {
        let arg = lower[i + 4..]
            .iter()
            .find(|c| !c.is_ascii_whitespace() && **c != b'"' && **c != b'\'');
        if arg != Some(&b'#') {
            return Err("a url() in style that is not a fragment".into());
        }
    }
    Ok(())
}
