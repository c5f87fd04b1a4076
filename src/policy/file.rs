//! `[routes.upload]` as operators write it, converted by `UploadPolicy::from_config`
//! (src/policy.rs). A leaf of the configuration: it imports only the file structs of the
//! checks it names.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
    /// How the body carries the file: a multipart form (default), or `raw`, the body is the
    /// file (its type from the request's `Content-Type`).
    #[serde(default)]
    pub body: BodyFile,
    /// Canonical types or aliases, or `image/*`-style wildcards.
    pub allowed_types: Vec<String>,
    /// Per-category limits in bytes.
    #[serde(default)]
    pub max_bytes: CategoryLimitsFile,
    /// Whole-body limit; default: the largest category limit plus 1 MiB for fields and framing.
    pub max_total_bytes: Option<u64>,
    #[serde(default = "default_sniff")]
    pub sniff_bytes: usize,
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
    #[serde(default = "default_max_file_parts")]
    pub max_file_parts: usize,
    #[serde(default = "default_part_header")]
    pub max_part_header_bytes: usize,
    /// Field names inspected as files whether or not they carry a filename.
    #[serde(default = "default_file_fields")]
    pub file_fields: Vec<String>,
    #[serde(default = "default_file_fields")]
    pub required_fields: Vec<String>,
    /// Cap for text fields without a rule of their own.
    #[serde(default = "default_field_bytes")]
    pub max_field_bytes: usize,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldFile>,
    #[serde(default)]
    pub unknown_fields: UnknownFieldsFile,
    #[serde(default)]
    pub allow_active_content: bool,
    #[serde(default = "default_filename")]
    pub max_filename_bytes: usize,
    /// Types refused whatever `allowed_types` says, by detected or declared type (wildcards
    /// allowed): with `allowed_types = ["*/*"]`, any type but executables and archives.
    #[serde(default)]
    pub denied_types: Vec<String>,
    /// File parts must declare a Content-Type (default false: the detected type is used).
    #[serde(default)]
    pub require_part_content_type: bool,
    /// A declared type → further detected types it accepts, for APIs that document one type
    /// for a family (`"application/msword" = ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"]`).
    #[serde(default)]
    pub equivalent_types: BTreeMap<String, Vec<String>>,
    /// Structure checks beyond magic bytes (`[routes.upload.structure]`).
    pub structure: Option<crate::structure::StructureFile>,
    /// Malware scanning with clamd (`[routes.upload.scan]`).
    pub scan: Option<crate::scan::ScanFile>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFile {
    #[default]
    Multipart,
    Raw,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryLimitsFile {
    #[serde(default = "mb50")]
    pub image: u64,
    #[serde(default = "mb500")]
    pub video: u64,
    #[serde(default = "mb100")]
    pub audio: u64,
    #[serde(default = "mb50")]
    pub document: u64,
    #[serde(default = "mb10")]
    pub other: u64,
}

impl Default for CategoryLimitsFile {
    fn default() -> Self {
        Self {
            image: mb50(),
            video: mb500(),
            audio: mb100(),
            document: mb50(),
            other: mb10(),
        }
    }
}

const MB: u64 = 1024 * 1024;
fn mb10() -> u64 {
    10 * MB
}
fn mb50() -> u64 {
    50 * MB
}
fn mb100() -> u64 {
    100 * MB
}
fn mb500() -> u64 {
    500 * MB
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldFile {
    pub max_bytes: usize,
    /// A limit in characters (Unicode scalar values), as APIs document lengths; checked on the
    /// complete value, while `max_bytes` bounds it as it streams.
    pub max_chars: Option<usize>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownFieldsFile {
    #[default]
    Allow,
    Reject,
}

fn default_sniff() -> usize {
    64 * 1024
}
fn default_max_parts() -> usize {
    16
}
fn default_max_file_parts() -> usize {
    1
}
fn default_part_header() -> usize {
    8 * 1024
}
fn default_file_fields() -> Vec<String> {
    vec!["file".into()]
}
fn default_field_bytes() -> usize {
    8 * 1024
}
fn default_filename() -> usize {
    255
}
