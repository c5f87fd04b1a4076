//! The upload policy of a route: which types are allowed, size limits per category and in
//! total, form-field and filename rules. Built once from config, then asked pure questions;
//! it knows nothing of pingora.

pub mod file;

use crate::config::error::ConfigError;
use crate::media::{self, Category};
use crate::rejection::Rejection;
use crate::sniff::{Detected, FIRST_LOOK};
use crate::structure::StructureRules;
use file::{UnknownFieldsFile, UploadFile};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Largest sniff window pingora can replay (its fixed retry-buffer size).
pub const MAX_SNIFF_BYTES: usize = 64 * 1024;

/// A validated upload policy.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// The body is the file (`body = "raw"`), not a multipart form.
    pub raw_body: bool,
    allowed: Vec<String>,
    limits: BTreeMap<&'static str, u64>,
    pub max_total_bytes: u64,
    pub sniff_bytes: usize,
    pub max_parts: usize,
    pub max_file_parts: usize,
    pub max_part_header_bytes: usize,
    file_fields: Vec<String>,
    required_fields: Vec<String>,
    field_limits: BTreeMap<String, usize>,
    field_chars: BTreeMap<String, usize>,
    max_field_bytes: usize,
    unknown_fields: UnknownFields,
    allow_active_content: bool,
    max_filename_bytes: usize,
    require_part_content_type: bool,
    denied: Vec<String>,
    /// Declared type (canonical) → detected types it also accepts.
    equivalents: BTreeMap<String, Vec<String>>,
    /// Structure checks of file parts (src/structure.rs), when the route has any.
    pub structure: Option<Arc<StructureRules>>,
    /// Malware scanning of file parts (src/scan.rs), when the route has it.
    pub scan: Option<Arc<crate::scan::ScanSettings>>,
    /// An S3 presigned POST form ([`Self::for_s3_form`]): its text fields are kept for the
    /// policy checks, and the one file, `file`, must be the last part.
    pub s3_form: bool,
}

/// What happens to a text field the route does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    Allow,
    Reject,
}

/// What kind of part a part is, by the route's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// Inspected as a file: sniffed, hashed, size-limited by its detected category.
    File,
    /// A small text field capped at this many bytes.
    Field { max_bytes: usize },
}

impl UploadPolicy {
    /// Validates the file form; `at` is the dotted path used in error messages.
    pub fn from_config(f: &UploadFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut allowed = Vec::new();
        for (i, t) in f.allowed_types.iter().enumerate() {
            let c = media::canonical(t);
            let wildcard = c.strip_suffix("/*").is_some_and(|p| !p.contains('/'));
            if !(wildcard || media::is_known(&c)) {
                errors.push(ConfigError::new(
                    format!("{at}.allowed_types[{i}]"),
                    format!(
                        "unknown media type {t:?}; use a known type or a wildcard like \"image/*\""
                    ),
                ));
            }
            allowed.push(c);
        }
        if allowed.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.allowed_types"),
                "list at least one type",
            ));
        }
        let l = &f.max_bytes;
        let limits = BTreeMap::from([
            ("image", l.image),
            ("video", l.video),
            ("audio", l.audio),
            ("document", l.document),
            ("other", l.other),
        ]);
        let largest = limits.values().copied().max().unwrap_or(0);
        let max_total_bytes = f.max_total_bytes.unwrap_or(largest + 1024 * 1024);
        if !(FIRST_LOOK..=MAX_SNIFF_BYTES).contains(&f.sniff_bytes) {
            errors.push(ConfigError::new(
                format!("{at}.sniff_bytes"),
                format!("must be between {FIRST_LOOK} and {MAX_SNIFF_BYTES} (pingora replays at most 64 KiB)"),
            ));
        }
        for (name, v) in [
            ("max_parts", f.max_parts),
            ("max_file_parts", f.max_file_parts),
            ("max_part_header_bytes", f.max_part_header_bytes),
            ("max_filename_bytes", f.max_filename_bytes),
        ] {
            if v == 0 {
                errors.push(ConfigError::new(
                    format!("{at}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if f.max_file_parts > f.max_parts {
            errors.push(ConfigError::new(
                format!("{at}.max_file_parts"),
                "cannot exceed max_parts",
            ));
        }
        let mut equivalents = BTreeMap::new();
        for (declared, detected) in &f.equivalent_types {
            for (j, t) in detected.iter().enumerate() {
                if !media::is_known(&media::canonical(t)) {
                    errors.push(ConfigError::new(
                        format!("{at}.equivalent_types.{declared}[{j}]"),
                        format!("unknown media type {t:?}"),
                    ));
                }
            }
            let list = detected.iter().map(|t| media::canonical(t)).collect();
            equivalents.insert(media::canonical(declared), list);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for (i, t) in f.denied_types.iter().enumerate() {
            let ok = t
                .split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty());
            if !ok {
                errors.push(ConfigError::new(
                    format!("{at}.denied_types[{i}]"),
                    format!("{t:?} is not a type/subtype (or a wildcard like \"application/*\")"),
                ));
            }
        }
        let structure = match &f.structure {
            Some(s) => match StructureRules::from_config(s, &format!("{at}.structure")) {
                Ok(r) => Some(Arc::new(r)),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
            None => None,
        };
        let scan = match &f.scan {
            Some(s) => match crate::scan::ScanSettings::from_config(s, &format!("{at}.scan")) {
                Ok(r) => Some(Arc::new(r)),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            raw_body: f.body == file::BodyFile::Raw,
            structure,
            scan,
            s3_form: false,
            denied: f.denied_types.iter().map(|t| media::canonical(t)).collect(),
            require_part_content_type: f.require_part_content_type,
            equivalents,
            allowed,
            limits,
            max_total_bytes,
            sniff_bytes: f.sniff_bytes,
            max_parts: f.max_parts,
            max_file_parts: f.max_file_parts,
            max_part_header_bytes: f.max_part_header_bytes,
            file_fields: f.file_fields.clone(),
            required_fields: f.required_fields.clone(),
            field_limits: f
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.max_bytes))
                .collect(),
            field_chars: f
                .fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.max_chars?)))
                .collect(),
            max_field_bytes: f.max_field_bytes,
            unknown_fields: match f.unknown_fields {
                UnknownFieldsFile::Allow => UnknownFields::Allow,
                UnknownFieldsFile::Reject => UnknownFields::Reject,
            },
            allow_active_content: f.allow_active_content,
            max_filename_bytes: f.max_filename_bytes,
        })
    }

    /// Header phase: a declared body length over the total limit is refused unread.
    pub fn check_content_length(&self, len: u64) -> Result<(), Rejection> {
        if len > self.max_total_bytes {
            return Err(Rejection::TooLarge(format!(
                "request body of {len} bytes exceeds this route's limit of {} bytes",
                self.max_total_bytes
            )));
        }
        Ok(())
    }

    /// Header phase of a raw body: its declared type (required if the route says so).
    pub fn check_raw_declared(&self, declared: Option<&str>) -> Result<(), Rejection> {
        if self.require_part_content_type && declared.is_none() {
            return Err(Rejection::UnsupportedMediaType(
                "the upload must declare its Content-Type".into(),
            ));
        }
        self.check_declared(declared)
    }

    /// Header phase of a raw body: its length against the declared type's category limit.
    pub fn check_raw_length(&self, declared: Option<&str>, len: u64) -> Result<(), Rejection> {
        let Some(d) = declared.filter(|d| media::is_known(d) && !media::is_unspecific(d)) else {
            return Ok(());
        };
        let category = media::category(d);
        let limit = self.limit_for(category);
        if len > limit {
            return Err(Rejection::TooLarge(format!(
                "{d} file of {len} bytes exceeds the {} limit of {limit} bytes",
                category.as_str()
            )));
        }
        Ok(())
    }

    /// Streaming: the body read so far must stay within the total limit.
    pub fn check_total(&self, total: u64) -> Result<(), Rejection> {
        if total > self.max_total_bytes {
            return Err(Rejection::TooLarge(format!(
                "request body exceeds this route's limit of {} bytes",
                self.max_total_bytes
            )));
        }
        Ok(())
    }

    /// The size limit for a detected type's category.
    pub fn limit_for(&self, category: Category) -> u64 {
        self.limits.get(category.as_str()).copied().unwrap_or(0)
    }

    fn allows(&self, mime: &str) -> bool {
        self.allowed.iter().any(|a| {
            a == mime
                || a == "*/*"
                || a.strip_suffix("/*")
                    .is_some_and(|p| mime.split('/').next() == Some(p))
        })
    }

    /// Classifies a new part and applies the field-name and filename rules.
    /// `seen` holds the names of the text fields already read. A part is inspected as a file
    /// when any common parser could take it for one: it is named in `file_fields`, carries a
    /// `filename` parameter (even empty), or declares a type other than `text/*` (busboy
    /// takes `application/octet-stream` without a filename for a file).
    pub fn classify(
        &self,
        name: &str,
        filename: Option<&str>,
        declared: Option<&str>,
        seen: &HashSet<String>,
    ) -> Result<PartKind, Rejection> {
        let is_file_field = self.file_fields.iter().any(|f| f == name);
        let known = is_file_field
            || self.field_limits.contains_key(name)
            || self.required_fields.iter().any(|f| f == name);
        if !known && self.unknown_fields == UnknownFields::Reject {
            return Err(Rejection::field(
                name,
                false,
                "unknown",
                format!("unknown form field {name:?}"),
            ));
        }
        if let Some(f) = filename {
            self.check_filename(name, f)?;
        }
        let textual = declared.is_none_or(|t| {
            t.split('/')
                .next()
                .is_some_and(|top| top.trim().eq_ignore_ascii_case("text"))
        });
        if is_file_field || filename.is_some() || !textual {
            if self.require_part_content_type && declared.is_none() {
                return Err(Rejection::field(
                    name,
                    true,
                    "invalid",
                    format!("file part {name:?} must declare its Content-Type"),
                ));
            }
            return Ok(PartKind::File);
        }
        if seen.contains(name) {
            return Err(Rejection::InvalidMultipart(format!(
                "field {name:?} appears twice; backends disagree on which one wins"
            )));
        }
        let max_bytes = self
            .field_limits
            .get(name)
            .copied()
            .unwrap_or(self.max_field_bytes);
        Ok(PartKind::Field { max_bytes })
    }

    fn check_filename(&self, name: &str, f: &str) -> Result<(), Rejection> {
        let bad = if f.len() > self.max_filename_bytes {
            Some(format!("is longer than {} bytes", self.max_filename_bytes))
        } else if f.contains(['/', '\\']) {
            Some("contains a path separator".into())
        } else if f.contains("..") {
            Some("contains '..'".into())
        } else if f.chars().any(char::is_control) {
            Some("contains control characters".into())
        } else {
            None
        };
        match bad {
            Some(why) => Err(Rejection::field(
                name,
                true,
                "invalid",
                format!("filename {f:?} {why}"),
            )),
            None => Ok(()),
        }
    }

    /// Checks a text field's complete value.
    pub fn check_field_value(&self, name: &str, value: &[u8]) -> Result<(), Rejection> {
        let Ok(text) = std::str::from_utf8(value) else {
            return Err(Rejection::field(
                name,
                false,
                "invalid",
                format!("field {name:?} is not valid UTF-8"),
            ));
        };
        if let Some(max) = self.field_chars.get(name)
            && text.chars().count() > *max
        {
            return Err(Rejection::field(
                name,
                false,
                "too_long",
                format!("field {name:?} exceeds {max} characters"),
            ));
        }
        Ok(())
    }

    /// A declared type alone may already be refused (before any byte of the part is read).
    pub fn check_declared(&self, declared: Option<&str>) -> Result<(), Rejection> {
        match declared {
            Some(d) if !media::is_unspecific(d) && !self.allows(d) => Err(
                Rejection::UnsupportedMediaType(format!("{d} is not allowed on this route")),
            ),
            _ => Ok(()),
        }
    }

    /// This (raw-body S3) policy for a presigned POST form: the part named `file` is the one
    /// file and comes last (S3 ignores what follows it); the other fields are kept.
    pub fn for_s3_form(&self) -> Self {
        Self {
            raw_body: false,
            file_fields: vec!["file".to_string()],
            max_file_parts: 1,
            unknown_fields: UnknownFields::Allow,
            s3_form: true,
            ..self.clone()
        }
    }

    /// Decides a file part: declared type allowed, bytes matching it, active content refused.
    pub fn check_type(&self, declared: Option<&str>, detected: &Detected) -> Result<(), Rejection> {
        self.check_declared(declared)?;
        let declared = declared.filter(|d| !media::is_unspecific(d));
        // A type the gateway cannot detect, on a route taking any type, is not contradicted
        // by bytes it recognises no format in (binary or plain text; active content is still
        // refused below).
        let undetectable = |d: &str| {
            self.allowed.iter().any(|a| a == "*/*")
                && !media::is_known(&media::canonical(d))
                && (media::is_unspecific(&detected.mime) || detected.mime == "text/plain")
        };
        if let Some(d) = declared
            && !media::satisfies(&detected.mime, d)
            && !self.equivalent(d, &detected.mime)
            && !undetectable(d)
        {
            return Err(Rejection::ContentMismatch {
                declared: d.to_string(),
                detected: detected.mime.clone(),
            });
        }
        let effective = declared.unwrap_or(&detected.mime);
        if let Some(t) = [detected.mime.as_str(), effective].into_iter().find(|t| {
            self.denied.iter().any(|d| {
                d == t
                    || d == "*/*"
                    || d.strip_suffix("/*")
                        .is_some_and(|p| t.split('/').next() == Some(p))
            })
        }) {
            return Err(Rejection::UnsupportedMediaType(format!(
                "{t} is not allowed on this route"
            )));
        }
        if !self.allows(effective) {
            return Err(Rejection::UnsupportedMediaType(format!(
                "{effective} is not allowed on this route"
            )));
        }
        if detected.active && !self.allow_active_content {
            return Err(Rejection::UnsupportedMediaType(format!(
                "{} with active content (script) is not allowed on this route",
                detected.mime
            )));
        }
        Ok(())
    }

    /// Whether the route's `equivalent_types` let declared `d` stand for `detected`.
    fn equivalent(&self, d: &str, detected: &str) -> bool {
        self.equivalents
            .get(&media::canonical(d))
            .is_some_and(|list| list.iter().any(|e| media::satisfies(detected, e)))
    }

    /// Whether script in SVG/HTML is accepted on this route.
    pub fn allows_active_content(&self) -> bool {
        self.allow_active_content
    }

    /// At the closing boundary: every required field must have been sent.
    pub fn check_required(&self, present: &HashSet<String>) -> Result<(), Rejection> {
        match self.required_fields.iter().find(|f| !present.contains(*f)) {
            Some(f) => Err(Rejection::field(
                f,
                self.file_fields.contains(f),
                "missing",
                format!("required field {f:?} is missing"),
            )),
            None => Ok(()),
        }
    }

    /// Checks a field value length while it streams.
    pub fn check_field_len(name: &str, len: usize, max: usize) -> Result<(), Rejection> {
        if len > max {
            return Err(Rejection::field(
                name,
                false,
                "too_long",
                format!("field {name:?} exceeds {max} bytes"),
            ));
        }
        Ok(())
    }
}
