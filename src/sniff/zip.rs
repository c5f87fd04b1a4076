//! A streaming-friendly walk over a zip's local file headers that names OOXML and ODF
//! documents by their entries, not by where the first entries happen to be.

use memchr::memmem;

const LOCAL: &[u8; 4] = b"PK\x03\x04";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// `Some(type)` once the entries seen decide it (an office document, or a plain zip when the
/// central directory is reached); `None` while undecided.
pub fn walk(buf: &[u8]) -> Option<&'static str> {
    let mut pos = 0;
    loop {
        let header = buf.get(pos..pos + 30)?;
        if header.starts_with(CENTRAL) {
            return Some("application/zip");
        }
        if !header.starts_with(LOCAL) {
            return Some("application/zip");
        }
        let flags = u16_at(header, 6);
        let method = u16_at(header, 8);
        let compressed = u32_at(header, 18);
        let name_len = u16_at(header, 26);
        let extra_len = u16_at(header, 28);
        let name = buf.get(pos + 30..pos + 30 + name_len)?;
        let data = pos + 30 + name_len + extra_len;
        if let Some(kind) = by_entry_name(name) {
            return Some(kind);
        }
        if name == b"mimetype" && method == 0 {
            let content = buf.get(data..data + compressed)?;
            return Some(odf_kind(content));
        }
        pos = if flags & 0x08 == 0 {
            data + compressed
        } else {
            // Sizes follow the data (data descriptor): find the next entry or the directory.
            let rest = buf.get(data..)?;
            let next = [memmem::find(rest, LOCAL), memmem::find(rest, CENTRAL)]
                .into_iter()
                .flatten()
                .min()?;
            data + next
        };
    }
}

fn by_entry_name(name: &[u8]) -> Option<&'static str> {
    if name.starts_with(b"word/") {
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    } else if name.starts_with(b"xl/") {
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else if name.starts_with(b"ppt/") {
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
    } else {
        None
    }
}

fn odf_kind(mimetype: &[u8]) -> &'static str {
    match mimetype {
        b"application/vnd.oasis.opendocument.text" => "application/vnd.oasis.opendocument.text",
        b"application/vnd.oasis.opendocument.spreadsheet" => {
            "application/vnd.oasis.opendocument.spreadsheet"
        }
        b"application/vnd.oasis.opendocument.presentation" => {
            "application/vnd.oasis.opendocument.presentation"
        }
        _ => "application/zip",
    }
}
