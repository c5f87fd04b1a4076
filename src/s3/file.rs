//! `[routes.s3]` as operators write it, validated by `S3Rules::from_config` (src/s3.rs). A leaf
//! of the configuration.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[routes.s3]` as operators write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3File {
    /// Access key id → the tenant its requests spend quota from and are counted under.
    pub access_keys: BTreeMap<String, String>,
    /// Domains of virtual-hosted-style requests (`bucket.DOMAIN`); others are path-style.
    #[serde(default)]
    pub domains: Vec<String>,
}
