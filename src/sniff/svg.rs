//! SVG by parsing, not by string matching: every byte of an SVG file part is pushed through a
//! streaming XML tokenizer (bounded state: one tag, one entity, the open elements) with
//! namespaces resolved and character references decoded, and checked against an allowlist.
//! Refused: a DTD internal subset (entities), processing instructions other than the XML
//! declaration, HTML or MathML elements, SVG elements outside the allowlist (`script`,
//! `foreignObject`, the animation elements…), any `on*` attribute in any namespace, URL-valued
//! attributes that are not same-document fragments (or an inline raster image), style with
//! imports, escapes or non-fragment URLs, and anything that is not one well-formed root
//! element. The verdict does not depend on how the bytes are chunked (tests, fuzz target `svg`).

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Namespaces whose elements a browser gives behaviour inside an SVG document.
const ACTIVE_NS: [&str; 2] = [
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1998/Math/MathML",
];

/// SVG elements allowed (lower-cased): shapes, text, paint servers, filters, structure, and
/// descriptive elements — DOMPurify's `svg` and `svgFilters` profiles. No script, foreignObject,
/// animation (`animate`, `set`, … can rewrite `href` or handlers) or embedding elements.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "symbol",
    "use",
    "title",
    "desc",
    "metadata",
    "switch",
    "view",
    "a",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textpath",
    "tref",
    "altglyph",
    "altglyphdef",
    "altglyphitem",
    "glyphref",
    "glyph",
    "font",
    "font-face",
    "hkern",
    "vkern",
    "image",
    "lineargradient",
    "radialgradient",
    "stop",
    "pattern",
    "clippath",
    "mask",
    "marker",
    "style",
    "filter",
    "feblend",
    "fecolormatrix",
    "fecomponenttransfer",
    "fecomposite",
    "feconvolvematrix",
    "fediffuselighting",
    "fedisplacementmap",
    "fedistantlight",
    "fedropshadow",
    "feflood",
    "fefunca",
    "fefuncb",
    "fefuncg",
    "fefuncr",
    "fegaussianblur",
    "feimage",
    "femerge",
    "femergenode",
    "femorphology",
    "feoffset",
    "fepointlight",
    "fespecularlighting",
    "fespotlight",
    "fetile",
    "feturbulence",
];

/// Whether `name` (lower-cased) is in `ELEMENTS`: a set built once (a linear search over the
/// list was the SVG parser's largest cost).
fn allowed_element(name: &str) -> bool {
    static SET: std::sync::LazyLock<std::collections::HashSet<&str>> =
        std::sync::LazyLock::new(|| ELEMENTS.iter().copied().collect());
    SET.contains(name)
}

/// Attributes whose value is a URL (local names, lower-cased, in any namespace).
const URL_ATTRS: &[&str] = &["href", "src", "action", "formaction", "data", "xlink"];

/// The longest tag, entity reference or style text held while it is read.
const MAX_TOKEN: usize = 64 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The deepest element nesting accepted.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Character data (or the prolog / epilog around the root).
    Text,
    /// `&` seen in text: the reference is read into `token`.
    TextRef,
    /// `<` seen: the tag is read into `token` up to its `>` (quotes respected).
    Tag { quote: u8 },
    /// Inside `<!-- … -->`.
    Comment,
    /// Inside `<![CDATA[ … ]]>`.
    Cdata,
}

/// Where the document is relative to its root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Prolog,
    Inside,
    Epilog,
}

/// One open element: its namespace declarations' count and whether it is `style`.
struct Open {
    name: String,
    scopes: usize,
}

/// The streaming SVG check of one file part.
pub struct SvgCheck {
    state: State,
    place: Place,
    token: Vec<u8>,
    /// How many closing characters of a comment or CDATA section were just seen (`tail[0]`).
    tail: [u8; 2],
    open: Vec<Open>,
    /// In-scope namespace declarations: (prefix, uri); "" is the default namespace.
    scopes: Vec<(String, String)>,
    /// The text of an open `style` element (decoded), checked at its end tag.
    style: Option<Vec<u8>>,
    /// How many bytes of a leading byte order mark were read (3: done looking).
    bom: usize,
    /// The root element's rendered size in pixels (`width`/`height`, else its `viewBox`).
    size: Option<(u32, u32)>,
}

impl Default for SvgCheck {
    fn default() -> Self {
        Self::new()
    }
}

type Verdict = Result<(), String>;

impl SvgCheck {
    pub fn new() -> Self {
        Self {
            state: State::Text,
            place: Place::Prolog,
            token: Vec::new(),
            tail: [0; 2],
            open: Vec::new(),
            scopes: Vec::new(),
            style: None,
            bom: 0,
            size: None,
        }
    }

    /// Reads the next bytes of the file; an error names what is not allowed.
    pub fn feed(&mut self, data: &[u8]) -> Verdict {
        let mut rest = data;
        // A byte order mark, however it is split, before anything else.
        while self.bom < BOM.len() && !rest.is_empty() {
            if rest[0] != BOM[self.bom] {
                if self.bom > 0 {
                    return Err("a broken byte order mark".into());
                }
                self.bom = BOM.len();
                break;
            }
            self.bom += 1;
            rest = &rest[1..];
        }
        while !rest.is_empty() {
            let used = match self.state {
                State::Text => self.text(rest)?,
                State::TextRef => self.reference(rest)?,
                State::Tag { .. } => self.tag(rest)?,
                State::Comment | State::Cdata => self.section(rest)?,
            };
            rest = &rest[used..];
        }
        Ok(())
    }

    /// The root element's size in pixels, once its start tag was read.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.size
    }

    /// The file ended: it must have been one complete root element.
    pub fn finish(&mut self) -> Verdict {
        if self.state != State::Text || self.place != Place::Epilog {
            return Err("the SVG is not one complete XML element".into());
        }
        Ok(())
    }

    fn text(&mut self, data: &[u8]) -> Result<usize, String> {
        let stop = memchr::memchr2(b'<', b'&', data).unwrap_or(data.len());
        let chars = &data[..stop];
        if self.place != Place::Inside && !chars.iter().all(u8::is_ascii_whitespace) {
            return Err("text outside the root element".into());
        }
        self.style_text(chars)?;
        match data.get(stop) {
            Some(b'<') => {
                self.state = State::Tag { quote: 0 };
                self.token.clear();
            }
            Some(_) => {
                if self.place != Place::Inside {
                    return Err("a reference outside the root element".into());
                }
                self.state = State::TextRef;
                self.token.clear();
            }
            None => return Ok(stop),
        }
        Ok(stop + 1)
    }

    fn reference(&mut self, data: &[u8]) -> Result<usize, String> {
        let end = memchr::memchr(b';', data);
        let take = end.unwrap_or(data.len());
        self.token.extend_from_slice(&data[..take]);
        if self.token.len() > 16 {
            return Err("an over-long character reference".into());
        }
        let Some(end) = end else {
            return Ok(take);
        };
        let c = decode_reference(&self.token)?;
        let mut buf = [0u8; 4];
        self.style_text(c.encode_utf8(&mut buf).as_bytes())?;
        self.state = State::Text;
        Ok(end + 1)
    }

    fn style_text(&mut self, text: &[u8]) -> Verdict {
        if let Some(s) = &mut self.style {
            s.extend_from_slice(text);
            if s.len() > MAX_TOKEN {
                return Err("a style element longer than 64 KiB".into());
            }
        }
        Ok(())
    }

    fn tag(&mut self, data: &[u8]) -> Result<usize, String> {
        let State::Tag { mut quote } = self.state else {
            return Ok(0);
        };
        for (i, &b) in data.iter().enumerate() {
            self.token.push(b);
            if self.token.len() > MAX_TOKEN {
                return Err("a tag longer than 64 KiB".into());
            }
            let declaration = self.token[0] == b'!';
            // Sections whose content is not a tag are recognised by their opening (both start
            // with `!` and are at most 8 bytes: no other token needs the comparisons).
            if declaration && self.token.len() <= 8 {
                if self.token == b"!--" {
                    self.enter(State::Comment);
                    return Ok(i + 1);
                }
                if self.token == b"![CDATA[" {
                    if self.place != Place::Inside {
                        return Err("CDATA outside the root element".into());
                    }
                    self.enter(State::Cdata);
                    return Ok(i + 1);
                }
                if b"![CDATA[".starts_with(&self.token) || b"!--".starts_with(&self.token) {
                    continue;
                }
            }
            match (quote, b) {
                (0, b'"' | b'\'') => quote = b,
                (0, b'[') if declaration => {
                    return Err("a DTD internal subset (entity declarations)".into());
                }
                (0, b'>') => {
                    let tag = std::mem::take(&mut self.token);
                    self.state = State::Text;
                    self.markup(&tag[..tag.len() - 1])?;
                    return Ok(i + 1);
                }
                (q, b) if q == b => quote = 0,
                _ => {}
            }
        }
        self.state = State::Tag { quote };
        Ok(data.len())
    }

    fn enter(&mut self, s: State) {
        self.token.clear();
        self.tail = [0; 2];
        self.state = s;
    }

    /// Comments and CDATA sections: `held` counts the closing characters (`-` or `]`) just
    /// seen; a CDATA section's other bytes are character data.
    fn section(&mut self, data: &[u8]) -> Result<usize, String> {
        let cdata = self.state == State::Cdata;
        let close = if cdata { b']' } else { b'-' };
        for (i, &b) in data.iter().enumerate() {
            let held = self.tail[0];
            if b == b'>' && held >= 2 {
                self.state = State::Text;
                return Ok(i + 1);
            }
            if b == close {
                if held == 2 && cdata {
                    self.style_text(b"]")?;
                }
                self.tail[0] = (held + 1).min(2);
                continue;
            }
            if cdata {
                for _ in 0..held {
                    self.style_text(b"]")?;
                }
                self.style_text(&[b])?;
            }
            self.tail[0] = 0;
        }
        Ok(data.len())
    }

    /// A complete tag (without `<` and `>`).
    fn markup(&mut self, tag: &[u8]) -> Verdict {
        let text = std::str::from_utf8(tag).map_err(|_| "a tag that is not UTF-8".to_string())?;
        if let Some(pi) = text.strip_prefix('?') {
            let decl = pi
                .strip_prefix("xml")
                .is_some_and(|r| r.starts_with(char::is_whitespace));
            if !(decl && pi.ends_with('?') && self.place == Place::Prolog && self.open.is_empty()) {
                return Err(
                    "a processing instruction (only the XML declaration is allowed)".into(),
                );
            }
            return Ok(());
        }
        if let Some(doctype) = text.strip_prefix("!DOCTYPE") {
            let root = doctype.split_whitespace().next().unwrap_or("");
            if self.place != Place::Prolog || root != "svg" {
                return Err("a document type other than svg".into());
            }
            return Ok(());
        }
        if text.starts_with('!') {
            return Err("a markup declaration".into());
        }
        if let Some(name) = text.strip_prefix('/') {
            return self.end_tag(name.trim_end());
        }
        let (body, empty) = match text.strip_suffix('/') {
            Some(b) => (b, true),
            None => (text, false),
        };
        self.start_tag(body, empty)
    }

    fn start_tag(&mut self, body: &str, empty: bool) -> Verdict {
        if self.place == Place::Epilog {
            return Err("content after the root element".into());
        }
        if self.open.len() >= MAX_DEPTH {
            return Err("elements nested too deep".into());
        }
        let (name, attrs) = parse_tag(body)?;
        let scopes = self.scopes.len();
        for (k, v) in &attrs {
            if k == "xmlns" {
                self.scopes.push((String::new(), v.clone()));
            } else if let Some(prefix) = k.strip_prefix("xmlns:") {
                self.scopes.push((prefix.to_string(), v.clone()));
            }
        }
        let (prefix, local) = split(&name);
        let ns = self.namespace(prefix, true)?;
        let lower = local.to_ascii_lowercase();
        if ACTIVE_NS.contains(&ns) {
            return Err(format!("the HTML or MathML element <{name}>"));
        }
        let svg = ns == SVG_NS || ns.is_empty();
        if svg && !allowed_element(&lower) {
            return Err(format!("the element <{name}>"));
        }
        for (k, v) in &attrs {
            if k == "xmlns" || k.starts_with("xmlns:") {
                continue;
            }
            let (p, l) = split(k);
            let ans = match p {
                Some(p) => self.namespace(Some(p), false)?,
                None => "",
            };
            self.attribute(&lower, svg, ans, &l.to_ascii_lowercase(), v)?;
        }
        if svg && lower == "style" && !empty {
            self.style = Some(Vec::new());
        }
        if self.open.is_empty() && svg && lower == "svg" {
            let attr = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
            self.size = values::root_size(attr("width"), attr("height"), attr("viewBox"));
        }
        if empty {
            self.scopes.truncate(scopes);
            if self.open.is_empty() {
                self.place = Place::Epilog;
            }
        } else {
            self.open.push(Open { name, scopes });
            self.place = Place::Inside;
        }
        Ok(())
    }

    fn attribute(&self, element: &str, svg: bool, ns: &str, local: &str, value: &str) -> Verdict {
        if local.starts_with("on") {
            return Err(format!("the event handler attribute {local}"));
        }
        let url_ns = ns.is_empty() || ns == XLINK_NS || ns == SVG_NS;
        if url_ns && URL_ATTRS.contains(&local) && !safe_url(element, value) {
            return Err(format!("the {local} URL {:?}", truncated(value)));
        }
        if local == "style" && (svg || ns.is_empty()) {
            check_css(value.as_bytes())?;
        }
        Ok(())
    }

    fn end_tag(&mut self, name: &str) -> Verdict {
        let Some(open) = self.open.pop() else {
            return Err("an end tag without its start".into());
        };
        if open.name != name {
            return Err(format!("</{name}> closes <{}>", open.name));
        }
        self.scopes.truncate(open.scopes);
        if let Some(css) = self.style.take() {
            check_css(&css)?;
        }
        if self.open.is_empty() {
            self.place = Place::Epilog;
        }
        Ok(())
    }

    /// The namespace `prefix` names here (`element`: the default namespace applies).
    fn namespace(&self, prefix: Option<&str>, element: bool) -> Result<&str, String> {
        let key = match prefix {
            Some("xml") => return Ok(XML_NS),
            Some(p) => p,
            None if element => "",
            None => return Ok(""),
        };
        match self.scopes.iter().rev().find(|(p, _)| p == key) {
            Some((_, uri)) => Ok(uri.as_str()),
            None if key.is_empty() => Ok(""),
            None => Err(format!("the undeclared namespace prefix {key}")),
        }
    }
}

mod values;

use values::{check_css, decode_reference, parse_tag, safe_url, split, truncated};

#[cfg(test)]
mod tests;
