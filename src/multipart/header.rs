//! Strict parsing of the request's `Content-Type` (the boundary) and of each part's header
//! block. Everything two multipart parsers could read differently is refused, never guessed.

use std::collections::HashSet;

/// Largest boundary RFC 2046 allows.
pub const MAX_BOUNDARY_LEN: usize = 70;
const MAX_PART_HEADERS: usize = 16;

/// The headers of one part, as the gateway (and the backend) must read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHead {
    /// The form field name (`Content-Disposition: form-data; name=…`).
    pub name: String,
    /// The file name, if the part carries one (`filename`, or a matching `filename*`).
    pub filename: Option<String>,
    /// The declared media type essence, lower-cased, without parameters.
    pub content_type: Option<String>,
}

/// Extracts the boundary from a request `Content-Type`. `Ok(None)` means the type is not
/// multipart/form-data at all; an error means it is, but ambiguous or malformed.
pub fn boundary_from_content_type(value: &[u8]) -> Result<Option<String>, String> {
    let value = std::str::from_utf8(value).map_err(|_| "Content-Type is not valid UTF-8")?;
    let (essence, rest) = value.split_once(';').unwrap_or((value, ""));
    if !essence.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Ok(None);
    }
    let params = parse_params(rest)?;
    let boundary = params
        .iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v.clone())
        .ok_or("multipart/form-data without a boundary parameter")?;
    validate_boundary(&boundary)?;
    Ok(Some(boundary))
}

fn validate_boundary(b: &str) -> Result<(), String> {
    if b.is_empty() || b.len() > MAX_BOUNDARY_LEN {
        return Err(format!(
            "boundary must be 1 to {MAX_BOUNDARY_LEN} characters, got {}",
            b.len()
        ));
    }
    let ok = b
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c));
    if !ok {
        return Err("boundary contains characters outside RFC 2046 bchars (or spaces)".into());
    }
    Ok(())
}

/// Parses `; name=value` parameters strictly: no whitespace around `=`, token or quoted-string
/// values, no backslash escapes, no duplicate names. Names are lower-cased.
pub fn parse_params(input: &str) -> Result<Vec<(String, String)>, String> {
    parse_params_with(input, false)
}

/// [`parse_params`]; with `form_data`, only the canonical form every multipart parser reads
/// alike is accepted: the parameters `name`, `filename` (quoted) and `filename*`, lower-case.
fn parse_params_with(input: &str, form_data: bool) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return Ok(out);
        }
        rest = rest.strip_prefix(';').unwrap_or(rest);
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return Ok(out);
        }
        let eq = rest.find('=').ok_or("parameter without '='")?;
        let name = &rest[..eq];
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(format!("malformed parameter name {name:?}"));
        }
        let after = &rest[eq + 1..];
        if form_data {
            // Parsers that search the header for `filename=` (multer) read anything else
            // differently from a strict parameter parser.
            match name {
                "name" | "filename" if !after.starts_with('"') => {
                    return Err(format!("the {name} parameter must be a quoted string"));
                }
                "name" | "filename" | "filename*" => {}
                _ if name.eq_ignore_ascii_case("name") || name.eq_ignore_ascii_case("filename") => {
                    return Err(format!("parameter name {name:?} must be lower-case"));
                }
                _ => return Err(format!("unknown Content-Disposition parameter {name:?}")),
            }
        }
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or("unterminated quoted parameter value")?;
            let v = &q[..end];
            if v.contains('\\') {
                return Err("backslash escapes in quoted parameters are ambiguous".into());
            }
            if v.chars().any(|c| c.is_control()) {
                return Err("control character in a parameter value".into());
            }
            (v.to_string(), &q[end + 1..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            let v = &after[..end];
            let trimmed = v.trim_end_matches([' ', '\t']);
            if trimmed.is_empty() || !trimmed.bytes().all(is_token_char) {
                return Err(format!("malformed value for parameter {name:?}"));
            }
            (trimmed.to_string(), &after[end..])
        };
        let tail_trim = tail.trim_start_matches([' ', '\t']);
        if !tail_trim.is_empty() && !tail_trim.starts_with(';') {
            return Err(format!("unexpected text after parameter {name:?}"));
        }
        let lname = name.to_ascii_lowercase();
        if out.iter().any(|(k, _)| *k == lname) {
            return Err(format!("parameter {lname:?} appears twice"));
        }
        out.push((lname, value));
        rest = tail_trim;
    }
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses and validates a part's header block (without the terminating empty line).
pub fn parse_part_head(block: &[u8]) -> Result<PartHead, String> {
    check_line_endings(block)?;
    let mut raw = Vec::with_capacity(block.len() + 4);
    raw.extend_from_slice(block);
    raw.extend_from_slice(b"\r\n\r\n");
    let mut headers = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    match httparse::parse_headers(&raw, &mut headers) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete part headers".into()),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(format!("more than {MAX_PART_HEADERS} part headers"));
        }
        Err(e) => return Err(format!("malformed part headers: {e}")),
    }
    let mut seen = HashSet::new();
    let (mut disposition, mut content_type) = (None, None);
    for h in headers.iter().take_while(|h| !h.name.is_empty()) {
        let name = h.name.to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            return Err(format!("part header {name} appears twice"));
        }
        let value = std::str::from_utf8(h.value)
            .map_err(|_| format!("part header {name} is not valid UTF-8"))?;
        match name.as_str() {
            "content-disposition" => disposition = Some(value.to_string()),
            "content-type" => content_type = Some(value.to_string()),
            "content-transfer-encoding" => {
                let v = value.trim().to_ascii_lowercase();
                if !matches!(v.as_str(), "7bit" | "8bit" | "binary") {
                    return Err(format!("Content-Transfer-Encoding {v:?} is not allowed"));
                }
            }
            _ => {}
        }
    }
    let disposition = disposition.ok_or("part without Content-Disposition")?;
    let (name, filename) = parse_disposition(&disposition)?;
    let content_type = content_type.map(|ct| parse_part_type(&ct)).transpose()?;
    Ok(PartHead {
        name,
        filename,
        content_type,
    })
}

fn check_line_endings(block: &[u8]) -> Result<(), String> {
    for (i, &c) in block.iter().enumerate() {
        if c == b'\n' && (i == 0 || block[i - 1] != b'\r') {
            return Err("bare LF in part headers".into());
        }
        if c == b'\r' && block.get(i + 1) != Some(&b'\n') {
            return Err("bare CR in part headers".into());
        }
        if c == b'\n' && matches!(block.get(i + 1), Some(b' ' | b'\t')) {
            return Err("folded (obs-fold) part header".into());
        }
    }
    if matches!(block.first(), Some(b' ' | b'\t')) {
        return Err("part headers start with whitespace".into());
    }
    Ok(())
}

fn parse_part_type(value: &str) -> Result<String, String> {
    let (raw_essence, rest) = value.split_once(';').unwrap_or((value, ""));
    if value.contains('\t') {
        return Err("tab in a part Content-Type".into());
    }
    if raw_essence.ends_with([' ', '\t']) && !rest.is_empty() {
        return Err("whitespace before ';' in a part Content-Type".into());
    }
    // Spaces may only follow a ';', and no parameter is empty (nor a trailing ';'): strict MIME
    // parsers (multer's) stop at anything else.
    if value.contains(';') {
        for param in rest.split(';').map(|p| p.trim_start_matches(' ')) {
            if param.contains(' ') || param.is_empty() {
                return Err("whitespace or an empty parameter in a part Content-Type".into());
            }
        }
    }
    let essence = raw_essence.trim().to_ascii_lowercase();
    // RFC 6838 restricted names, one '/': what strict MIME parsers (multer's) accept too.
    let name = |n: &str| {
        n.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && n.len() <= 127
            && n.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&c))
    };
    let valid = essence
        .split_once('/')
        .is_some_and(|(t, s)| name(t) && name(s));
    if !valid {
        return Err(format!("malformed part Content-Type {essence:?}"));
    }
    if essence.starts_with("multipart/") {
        return Err("nested multipart parts are not allowed".into());
    }
    for (k, v) in parse_params(rest)? {
        if !name(&k) || !name(&v) {
            return Err(format!("malformed part Content-Type parameter {k:?}"));
        }
    }
    Ok(essence)
}

fn parse_disposition(value: &str) -> Result<(String, Option<String>), String> {
    let (kind, rest) = value.split_once(';').unwrap_or((value, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(format!(
            "Content-Disposition must be form-data, got {:?}",
            kind.trim()
        ));
    }
    let params = parse_params_with(rest, true)?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let name = get("name").ok_or("Content-Disposition without a name")?;
    if name.is_empty() {
        return Err("empty field name".into());
    }
    if get("name*").is_some() {
        return Err("name* is not allowed in form-data".into());
    }
    // Parsers that look for `filename=` by substring (multer) split such values differently.
    for (i, (k, v)) in params.iter().enumerate() {
        if v.contains([';', '=']) {
            return Err(format!("';' or '=' inside the {k} parameter is ambiguous"));
        }
        // Such a parser takes `filename` (or `name`) after whitespace for the parameter itself:
        // inside a value it hides the real one that follows.
        let name_follows = params[i + 1..].iter().any(|(n, _)| n == "name");
        if word_after_space(v, "filename") || (name_follows && word_after_space(v, "name")) {
            return Err(format!(
                "the {k} parameter holds a parameter name after a space (ambiguous)"
            ));
        }
    }
    let position = |k: &str| params.iter().position(|(n, _)| n == k);
    if let (Some(star), Some(plain)) = (position("filename*"), position("filename"))
        && star < plain
    {
        // A substring search for `filename` stops at `filename*` and finds no filename at all.
        return Err("filename* before filename is ambiguous".into());
    }
    let plain = get("filename");
    let extended = get("filename*").map(|v| decode_ext_value(&v)).transpose()?;
    let filename = match (plain, extended) {
        (Some(p), Some(e)) if p != e => {
            return Err("filename and filename* disagree".into());
        }
        // RFC 7578 §4.2: filename* is not for form-data; parsers that ignore it (multer) would
        // read the part as a text field while another takes it for a file.
        (None, Some(_)) => return Err("filename* without a plain filename".into()),
        (p, _) => p,
    };
    // `filename=""` is kept: common parsers (busboy) take any filename parameter for a file.
    Ok((name, filename))
}

/// Whether `word` occurs in `v` right after whitespace.
fn word_after_space(v: &str, word: &str) -> bool {
    v.match_indices(word)
        .any(|(i, _)| i > 0 && v.as_bytes()[i - 1].is_ascii_whitespace())
}

/// Decodes an RFC 5987 `ext-value` (`UTF-8''percent%20encoded`).
fn decode_ext_value(v: &str) -> Result<String, String> {
    let mut it = v.splitn(3, '\'');
    let (charset, _lang, enc) = match (it.next(), it.next(), it.next()) {
        (Some(c), Some(l), Some(e)) => (c, l, e),
        _ => return Err("malformed filename* value".into()),
    };
    if !charset.eq_ignore_ascii_case("utf-8") {
        return Err("filename* must use the UTF-8 charset".into());
    }
    let bytes = enc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or("truncated percent escape in filename*")?;
            let s = std::str::from_utf8(hex).map_err(|_| "bad percent escape")?;
            out.push(u8::from_str_radix(s, 16).map_err(|_| "bad percent escape in filename*")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "filename* is not valid UTF-8".into())
}
