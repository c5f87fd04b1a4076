//! `[routes.tus]` as operators write it, validated by `TusRules::from_config` (src/tus.rs). A
//! leaf of the configuration.

use serde::Deserialize;

/// `[routes.tus]`: the route fronts a tus 1.0 server (README, "Resumable uploads (tus)").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TusFile {
    /// How long an upload's state (and its quota hold) lives without a request (default 86400).
    pub expiry_seconds: Option<u64>,
    /// What happens when a request continues an upload whose checks need the whole stream
    /// (structure, SVG, scan) and this instance did not read its start: `"refuse"` (default:
    /// the upload is terminated) or `"continue"` (size, limits and hash only from there).
    pub lost_stream: Option<String>,
}
