//! One file part's state while it streams (its report is `crate::file_report`).

use super::hash;
use crate::media;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::sniff::svg::SvgCheck;
use crate::sniff::{ActiveScanner, Detected};

pub(super) struct FilePart {
    pub(super) field: String,
    pub(super) filename: Option<String>,
    pub(super) declared: Option<String>,
    pub(super) sniff: Vec<u8>,
    pub(super) detected: Option<Detected>,
    pub(super) limit: u64,
    pub(super) size: u64,
    pub(super) hasher: hash::PartHasher,
    /// Keeps scanning HTML for script after the type was decided.
    pub(super) scanner: Option<ActiveScanner>,
    /// Parses a whole SVG against the allowlist (src/sniff/svg.rs), from its first byte.
    pub(super) svg: Option<SvgCheck>,
    /// The route's structure check for the detected type (src/structure.rs).
    pub(super) structure: Option<crate::structure::Check>,
}

/// An SVG root's size against the route's structure limits, once known.
pub(super) fn svg_size(policy: &UploadPolicy, svg: &SvgCheck) -> Result<(), Rejection> {
    match (&policy.structure, svg.size()) {
        (Some(rules), Some((w, h))) => rules.check_size("image/svg+xml", w, h),
        _ => Ok(()),
    }
}

pub(super) fn svg_refused(why: String) -> Rejection {
    Rejection::UnsupportedMediaType(format!(
        "image/svg+xml with active or unknown content ({why}) is not allowed on this route"
    ))
}

pub(super) fn check_size(f: &FilePart) -> Result<(), Rejection> {
    match &f.detected {
        Some(d) if f.size > f.limit => Err(Rejection::TooLarge(format!(
            "{} file exceeds the {} limit of {} bytes",
            d.mime,
            media::category(&d.mime).as_str(),
            f.limit
        ))),
        _ => Ok(()),
    }
}
