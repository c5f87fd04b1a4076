//! A streaming-friendly walk over a zip's local file headers that names OOXML and ODF
//! documents by what they declare, not by entry names anyone can write: an OOXML package is
//! the type its `[Content_Types].xml` names as the main part (read, inflated with a bounded
//! output — producers write it first), a macro-enabled one (`macroEnabled` main part or a
//! `vbaProject` part) is the macro-enabled type; ODF by its stored `mimetype` entry. A zip with
//! `word/` entries and no such declaration is a zip.

use flate2::{Decompress, FlushDecompress, Status};
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
        if name == b"[Content_Types].xml" {
            return Some(
                match content_types(buf.get(data..)?, method, compressed, flags)? {
                    Some(xml) => by_main_part(&xml).unwrap_or("application/zip"),
                    None => "application/zip",
                },
            );
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

/// Most of `[Content_Types].xml` that is read: it is a few KiB in real documents.
const CONTENT_TYPES_MAX: usize = 64 * 1024;

/// The entry's XML (at most [`CONTENT_TYPES_MAX`] bytes of it). `None` while the entry is not
/// all in `data` yet; `Some(None)` when it cannot be read (unknown method, corrupt stream).
fn content_types(
    data: &[u8],
    method: usize,
    compressed: usize,
    flags: usize,
) -> Option<Option<Vec<u8>>> {
    let sized = flags & 0x08 == 0;
    match method {
        0 if sized => Some(Some(
            data.get(..compressed.min(CONTENT_TYPES_MAX))?.to_vec(),
        )),
        8 => {
            let input = if sized { data.get(..compressed)? } else { data };
            let mut out = Vec::with_capacity(8 * 1024);
            let mut inflate = Decompress::new(false);
            loop {
                let before = inflate.total_in() as usize;
                let produced = out.len();
                let status =
                    inflate.decompress_vec(&input[before..], &mut out, FlushDecompress::None);
                match status {
                    Ok(Status::StreamEnd) => return Some(Some(out)),
                    Ok(_) if out.len() >= CONTENT_TYPES_MAX => return Some(Some(out)),
                    Ok(_) if out.len() == out.capacity() => {
                        out.reserve((out.capacity()).min(CONTENT_TYPES_MAX - out.len()))
                    }
                    // All input used and the stream not ended: the rest is not here yet.
                    Ok(_) if inflate.total_in() as usize == input.len() => {
                        return if sized { Some(None) } else { None };
                    }
                    Ok(_) if inflate.total_in() as usize == before && out.len() == produced => {
                        return Some(None);
                    }
                    Ok(_) => {}
                    Err(_) => return Some(None),
                }
            }
        }
        _ => Some(None),
    }
}

/// The document type `[Content_Types].xml` names as its main part, if any; macro-enabled
/// packages are their macro-enabled types (which a route allowing docx does not allow).
fn by_main_part(xml: &[u8]) -> Option<&'static str> {
    const MACROS: [(&[u8], &str); 3] = [
        (
            b"ms-word.document.macroEnabled",
            "application/vnd.ms-word.document.macroenabled.12",
        ),
        (
            b"ms-excel.sheet.macroEnabled",
            "application/vnd.ms-excel.sheet.macroenabled.12",
        ),
        (
            b"ms-powerpoint.presentation.macroEnabled",
            "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        ),
    ];
    if let Some((_, kind)) = MACROS
        .iter()
        .find(|(marker, _)| memmem::find(xml, marker).is_some())
    {
        return Some(kind);
    }
    let macro_part = memmem::find(xml, b"vbaProject").is_some();
    const MAIN: [(&[u8], &str); 3] = [
        (
            b"wordprocessingml.document.main+xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            b"spreadsheetml.sheet.main+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            b"presentationml.presentation.main+xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ];
    let main = MAIN
        .iter()
        .position(|(marker, _)| memmem::find(xml, marker).is_some())?;
    Some(if macro_part {
        MACROS[main].1
    } else {
        MAIN[main].1
    })
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
