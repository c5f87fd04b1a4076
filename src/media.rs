//! Media types the gateway knows: canonical names, the aliases clients declare, the category
//! each belongs to (for per-category size limits), and which declared types a detected type
//! satisfies.

use serde::Deserialize;

/// Size-limit categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Image,
    Video,
    Audio,
    Document,
    Other,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Image,
        Category::Video,
        Category::Audio,
        Category::Document,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Image => "image",
            Category::Video => "video",
            Category::Audio => "audio",
            Category::Document => "document",
            Category::Other => "other",
        }
    }
}

/// Internal name for an OLE2 compound file whose exact kind (doc, xls, ppt) could not be told
/// from the bytes seen.
pub const OLE_STORAGE: &str = "application/x-ole-storage";
pub const OCTET_STREAM: &str = "application/octet-stream";

const OOXML_DOC: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const OOXML_XLS: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const OOXML_PPT: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

/// (canonical type, category, aliases)
const TABLE: &[(&str, Category, &[&str])] = &[
    ("image/png", Category::Image, &["image/x-png"]),
    ("image/jpeg", Category::Image, &["image/jpg", "image/pjpeg"]),
    ("image/gif", Category::Image, &[]),
    ("image/webp", Category::Image, &[]),
    (
        "image/bmp",
        Category::Image,
        &["image/x-ms-bmp", "image/x-bmp"],
    ),
    ("image/tiff", Category::Image, &["image/tif"]),
    ("image/avif", Category::Image, &[]),
    ("image/heif", Category::Image, &["image/heic"]),
    (
        "image/vnd.microsoft.icon",
        Category::Image,
        &["image/x-icon", "image/ico"],
    ),
    ("image/svg+xml", Category::Image, &[]),
    ("video/mp4", Category::Video, &["video/x-m4v"]),
    ("video/quicktime", Category::Video, &[]),
    ("video/x-matroska", Category::Video, &["video/mkv"]),
    ("video/webm", Category::Video, &[]),
    (
        "video/x-msvideo",
        Category::Video,
        &["video/avi", "video/msvideo"],
    ),
    ("video/mpeg", Category::Video, &[]),
    (
        "audio/mpeg",
        Category::Audio,
        &["audio/mp3", "audio/mpeg3", "audio/x-mp3", "audio/x-mpeg"],
    ),
    (
        "audio/wav",
        Category::Audio,
        &["audio/x-wav", "audio/wave", "audio/vnd.wave"],
    ),
    ("audio/ogg", Category::Audio, &["application/ogg"]),
    ("audio/opus", Category::Audio, &[]),
    ("audio/flac", Category::Audio, &["audio/x-flac"]),
    ("audio/mp4", Category::Audio, &["audio/x-m4a", "audio/m4a"]),
    ("audio/aac", Category::Audio, &["audio/x-aac"]),
    // What browsers' MediaRecorder declares for audio-only recordings (WebM bytes).
    ("audio/webm", Category::Audio, &[]),
    (
        "application/pdf",
        Category::Document,
        &["application/x-pdf"],
    ),
    ("application/msword", Category::Document, &[]),
    ("application/vnd.ms-excel", Category::Document, &[]),
    ("application/vnd.ms-powerpoint", Category::Document, &[]),
    (OOXML_DOC, Category::Document, &[]),
    (OOXML_XLS, Category::Document, &[]),
    (OOXML_PPT, Category::Document, &[]),
    (
        "application/vnd.oasis.opendocument.text",
        Category::Document,
        &[],
    ),
    (
        "application/vnd.oasis.opendocument.spreadsheet",
        Category::Document,
        &[],
    ),
    (
        "application/vnd.oasis.opendocument.presentation",
        Category::Document,
        &[],
    ),
    ("application/rtf", Category::Document, &["text/rtf"]),
    ("text/plain", Category::Document, &[]),
    ("text/csv", Category::Document, &[]),
    ("application/json", Category::Other, &[]),
    ("text/html", Category::Other, &[]),
    (
        "application/zip",
        Category::Other,
        &["application/x-zip-compressed", "application/x-zip"],
    ),
    (OLE_STORAGE, Category::Document, &[]),
];

/// The canonical spelling of `mime` (lower-cased, aliases resolved). Unknown types are returned
/// lower-cased as they are.
pub fn canonical(mime: &str) -> String {
    let m = mime.trim().to_ascii_lowercase();
    TABLE
        .iter()
        .find(|(c, _, aliases)| *c == m || aliases.contains(&m.as_str()))
        .map(|(c, _, _)| c.to_string())
        .unwrap_or(m)
}

/// The size-limit category of a (canonical) type.
pub fn category(mime: &str) -> Category {
    if let Some((_, cat, _)) = TABLE.iter().find(|(c, _, _)| *c == mime) {
        return *cat;
    }
    match mime.split('/').next() {
        Some("image") => Category::Image,
        Some("video") => Category::Video,
        Some("audio") => Category::Audio,
        _ => Category::Other,
    }
}

/// Whether a part declared as `declared` may carry bytes detected as `detected` (both canonical).
/// Beyond equality, this accepts containers that the bytes alone cannot tell apart.
pub fn satisfies(detected: &str, declared: &str) -> bool {
    if detected == declared {
        return true;
    }
    matches!(
        (detected, declared),
        ("audio/opus", "audio/ogg")
            | ("video/webm", "audio/webm")
            | ("video/mp4", "audio/mp4")
            | ("audio/mp4", "video/mp4")
            | ("text/plain", "text/csv")
            | ("text/plain", "application/json")
            | (
                OLE_STORAGE,
                "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint"
            )
    )
}

/// Whether a declared type says nothing about the content (the part is judged by its bytes).
pub fn is_unspecific(declared: &str) -> bool {
    declared == OCTET_STREAM || declared == "binary/octet-stream"
}

/// Whether `mime` is one the gateway can detect and configs may name.
pub fn is_known(mime: &str) -> bool {
    TABLE
        .iter()
        .any(|(c, _, a)| *c == mime || a.contains(&mime))
        || matches!(
            mime,
            "application/x-executable"
                | "application/vnd.microsoft.portable-executable"
                | "text/x-shellscript"
                | OCTET_STREAM
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        assert_eq!(canonical("IMAGE/JPG"), "image/jpeg");
        assert_eq!(canonical("audio/mp3"), "audio/mpeg");
        assert_eq!(canonical("application/x-zip-compressed"), "application/zip");
        assert_eq!(canonical("image/x-icon"), "image/vnd.microsoft.icon");
        assert_eq!(category("video/webm"), Category::Video);
        assert_eq!(category(OOXML_DOC), Category::Document);
    }

    #[test]
    fn containers_that_bytes_cannot_split() {
        assert!(satisfies("audio/opus", "audio/ogg"));
        assert!(satisfies(OLE_STORAGE, "application/msword"));
        assert!(!satisfies("image/png", "image/jpeg"));
        assert!(!satisfies("audio/ogg", "audio/opus"));
        // Browsers record audio as WebM and declare audio/webm.
        assert!(satisfies("video/webm", canonical("audio/webm").as_str()));
        assert!(!satisfies("audio/webm", "video/webm"));
        assert_eq!(canonical("video/x-m4v"), "video/mp4");
    }
}
