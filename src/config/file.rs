//! The TOML file structs, exactly as operators write them. Converted into the validated
//! internal [`crate::config::Config`]; nothing here is used on the request path.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerFile,
    pub listeners: Vec<ListenerFile>,
    pub upstreams: BTreeMap<String, UpstreamFile>,
    pub routes: Vec<RouteFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Worker threads per service (default 2).
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Seconds to keep serving after a graceful shutdown starts (default 5).
    #[serde(default = "default_grace")]
    pub grace_period_seconds: u64,
    /// Seconds a client may take between two reads of its request (default 60 000 ms).
    #[serde(default = "default_client_timeout")]
    pub client_read_timeout_ms: u64,
}

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            threads: default_threads(),
            grace_period_seconds: default_grace(),
            client_read_timeout_ms: default_client_timeout(),
        }
    }
}

fn default_threads() -> usize {
    2
}
fn default_grace() -> u64 {
    5
}
fn default_client_timeout() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    /// `ip:port` to listen on.
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    /// `host:port` of the backend.
    pub address: String,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_io_timeout")]
    pub read_timeout_ms: u64,
    #[serde(default = "default_io_timeout")]
    pub write_timeout_ms: u64,
}

fn default_connect_timeout() -> u64 {
    2_000
}
fn default_io_timeout() -> u64 {
    60_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub name: String,
    /// `/media` (exact) or `/media/*`, `/media*` (prefix).
    pub path: String,
    /// Methods this route answers; empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    pub upstream: String,
    /// Present on upload routes: the body is inspected under this policy.
    pub upload: Option<UploadFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
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
    pub unknown_fields: UnknownFields,
    #[serde(default)]
    pub allow_active_content: bool,
    #[serde(default = "default_filename")]
    pub max_filename_bytes: usize,
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
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownFields {
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
