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
    /// Access key id → where its secret key is. When given (for every key), the gateway
    /// verifies each request's SigV4 signature before reading its body.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretFile>,
    /// Multipart uploads (CreateMultipartUpload, UploadPart, CompleteMultipartUpload) pass the
    /// inspected route: part 1 inspected, Complete gated (src/s3/multipart.rs).
    #[serde(default)]
    pub multipart: bool,
    /// Presigned POST forms (browser uploads to the bucket) pass the inspected route: the file
    /// held to the form's policy by its detected type and size (src/s3/post.rs).
    #[serde(default)]
    pub presigned_post: bool,
    /// Domains of virtual-hosted-style requests (`bucket.DOMAIN`); others are path-style.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// Where one secret access key is: exactly one of an environment variable or a file (its
/// content, surrounding whitespace trimmed; relative to the configuration file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFile {
    pub env: Option<String>,
    pub file: Option<String>,
}
