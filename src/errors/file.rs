//! `[errors.NAME]` as operators write it, validated into an [`ErrorProfile`].

use super::{CodeMapping, ErrorProfile, Format, IdFormat};
use crate::config::error::ConfigError;
use crate::rejection::Rejection;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorProfileFile {
    /// `nested` (default), `flat`, `problem`, `envelope`, `s3`.
    pub format: Option<String>,
    /// The body field holding the request id; `""` leaves it out (default `request_id`, none
    /// for `flat`).
    pub request_id_field: Option<String>,
    /// `hex` (default), `uuid`, `req_prefix`.
    pub request_id_format: Option<String>,
    /// `X-Request-Id` and `X-Upload-*` on this profile's routes' responses (default true).
    pub response_headers: Option<bool>,
    /// Where file fields are located in field-level errors (`file.{field}`; default `{field}`).
    pub file_location: Option<String>,
    /// Constant fields in every body.
    #[serde(default)]
    pub fields: BTreeMap<String, toml::Value>,
    /// Per gateway code: `{ status, code, message, fields }`.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeFile>,
    /// Per field-problem kind (`missing`, `too_long`, `invalid`, `unknown`, `empty`):
    /// `{ type, message }` in `validation_errors` / `violations`.
    #[serde(default)]
    pub field_errors: BTreeMap<String, FieldErrorFile>,
    /// The file field type and size refusals are reported at in `violations` /
    /// `validation_errors` (default: not reported as field problems).
    pub file_field: Option<String>,
    /// A body field holding the time of the refusal (`timestamp`).
    pub timestamp_field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldErrorFile {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// The kinds of field problem the gateway reports.
const FIELD_KINDS: [&str; 7] = [
    "missing",
    "too_long",
    "invalid",
    "unknown",
    "empty",
    "invalid_type",
    "too_large",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeFile {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, toml::Value>,
}

fn json_fields(f: &BTreeMap<String, toml::Value>) -> Map<String, Value> {
    f.iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect()
}

impl ErrorProfile {
    /// Validates `[errors.NAME]` (`at` is its dotted path).
    pub fn from_config(f: &ErrorProfileFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let format = match f.format.as_deref() {
            None | Some("nested") => Format::Nested,
            Some("flat") => Format::Flat,
            Some("problem") => Format::Problem,
            Some("envelope") => Format::Envelope,
            Some("s3") => Format::S3,
            Some(other) => {
                errors.push(ConfigError::new(
                    format!("{at}.format"),
                    format!("{other:?} is not a format: nested, flat, problem, envelope or s3"),
                ));
                Format::Nested
            }
        };
        let request_id_format = match f.request_id_format.as_deref() {
            None | Some("hex") => IdFormat::Hex,
            Some("uuid") => IdFormat::Uuid,
            Some("req_prefix") => IdFormat::ReqPrefix,
            Some(other) => {
                errors.push(ConfigError::new(
                    format!("{at}.request_id_format"),
                    format!("{other:?} is not an id format: hex, uuid or req_prefix"),
                ));
                IdFormat::Hex
            }
        };
        let request_id_field = match (&f.request_id_field, format) {
            (Some(s), _) if s.is_empty() => None,
            (Some(s), _) => Some(s.clone()),
            (None, Format::Flat) => None,
            (None, _) => Some("request_id".into()),
        };
        let mut codes = std::collections::HashMap::new();
        for (code, c) in &f.codes {
            if !Rejection::CODES.contains(&code.as_str()) {
                errors.push(ConfigError::new(
                    format!("{at}.codes.{code}"),
                    format!("not a gateway code; one of {}", Rejection::CODES.join(", ")),
                ));
            }
            if let Some(s) = c.status
                && !(400..=599).contains(&s)
            {
                errors.push(ConfigError::new(
                    format!("{at}.codes.{code}.status"),
                    "an error status is 400–599",
                ));
            }
            let mapping = CodeMapping {
                status: c.status,
                code: c.code.clone(),
                message: c.message.clone(),
                fields: json_fields(&c.fields),
            };
            codes.insert(code.clone(), mapping);
        }
        let mut field_errors = std::collections::HashMap::new();
        for (kind, m) in &f.field_errors {
            if !FIELD_KINDS.contains(&kind.as_str()) {
                errors.push(ConfigError::new(
                    format!("{at}.field_errors.{kind}"),
                    format!("not a field problem; one of {}", FIELD_KINDS.join(", ")),
                ));
            }
            let mapping = super::FieldErrorMapping {
                kind: m.kind.clone(),
                message: m.message.clone(),
            };
            field_errors.insert(kind.clone(), mapping);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            file_field: f.file_field.clone(),
            timestamp_field: f.timestamp_field.clone(),
            field_errors,
            format,
            request_id_field,
            request_id_format,
            response_headers: f.response_headers.unwrap_or(true),
            file_location: f.file_location.clone().unwrap_or_else(|| "{field}".into()),
            fields: json_fields(&f.fields),
            codes,
        })
    }
}
