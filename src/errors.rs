//! Error profiles: how a route's refusals look to its clients, so the gateway can stand in front
//! of a backend whose clients already parse that backend's own error bodies. One [`Rejection`]
//! is rendered in one of five formats — `nested` (the gateway's own), `flat`, `problem`
//! (RFC 9457), `envelope` and `s3` (S3's XML error document) — after a per-profile mapping of each gateway code to the
//! backend's status, code and message. Built once from config; rendering is pure.

pub mod file;
mod s3;

use crate::rejection::Rejection;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The body shapes a profile can answer in. A new one is a variant and a `render_*` function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"error":{"code","message",…,"request_id"}}`
    Nested,
    /// `{"error":"message"}`
    Flat,
    /// RFC 9457 `application/problem+json`: `type, title, status, detail`, `violations`,
    /// `missingPermissions`.
    Problem,
    /// `{"status_code","error_type","message","validation_errors","request_id",…}`
    Envelope,
    /// `<Error><Code/><Message/><RequestId/></Error>` (`application/xml`) with S3's codes.
    S3,
}

/// How the request id is written in bodies and in `X-Request-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// As generated: 32 lower-case hex digits (or the client's own id).
    Hex,
    /// A generated id as a UUID (`8-4-4-4-12`).
    Uuid,
    /// `req_` and the id.
    ReqPrefix,
}

/// What one gateway code becomes under a profile (each part optional: unset keeps the
/// gateway's own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeMapping {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// Constant fields added to this code's bodies (`more_info`, `type`).
    pub fields: Map<String, Value>,
}

/// A named error profile (`[errors.NAME]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorProfile {
    pub format: Format,
    /// The body field holding the request id (`None`: not in the body).
    pub request_id_field: Option<String>,
    pub request_id_format: IdFormat,
    /// Whether responses carry `X-Request-Id` and the `X-Upload-*` headers.
    pub response_headers: bool,
    /// How a file field is located in `validation_errors` / `violations` (`{field}` is
    /// replaced: `file.{field}` gives `file.file`); text fields are located by their name.
    pub file_location: String,
    /// Constant fields in every body of the profile.
    pub fields: Map<String, Value>,
    pub codes: HashMap<String, CodeMapping>,
    /// Per field-problem kind (`missing`, `too_long`, …): the backend's own type and message
    /// in `validation_errors` / `violations`.
    pub field_errors: HashMap<String, FieldErrorMapping>,
    /// The file field type and size refusals are reported at (kinds `invalid_type`,
    /// `too_large`), for APIs that answer those as field violations.
    pub file_field: Option<String>,
    /// A body field holding the time of the refusal (RFC 3339, UTC, milliseconds).
    pub timestamp_field: Option<String>,
}

/// How one kind of field problem is written (each part optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrorMapping {
    pub kind: Option<String>,
    pub message: Option<String>,
}

impl Default for ErrorProfile {
    /// The gateway's own format.
    fn default() -> Self {
        Self {
            format: Format::Nested,
            request_id_field: Some("request_id".into()),
            request_id_format: IdFormat::Hex,
            response_headers: true,
            file_location: "{field}".into(),
            fields: Map::new(),
            codes: HashMap::new(),
            field_errors: HashMap::new(),
            file_field: None,
            timestamp_field: None,
        }
    }
}

/// A refusal as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl ErrorProfile {
    /// The request id as this profile writes it.
    pub fn request_id(&self, id: &str) -> String {
        let hex32 = id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit());
        match self.request_id_format {
            IdFormat::Uuid if hex32 => format!(
                "{}-{}-{}-{}-{}",
                &id[..8],
                &id[8..12],
                &id[12..16],
                &id[16..20],
                &id[20..]
            ),
            IdFormat::ReqPrefix if !id.starts_with("req_") => format!("req_{id}"),
            _ => id.to_string(),
        }
    }

    /// Renders `r` for the client.
    pub fn render(&self, r: &Rejection, request_id: &str) -> Rendered {
        let mapping = self.codes.get(r.code());
        let m = |f: fn(&CodeMapping) -> Option<&str>| mapping.and_then(f);
        if self.format == Format::S3 {
            return self.render_s3(r, request_id);
        }
        let status = mapping.and_then(|c| c.status).unwrap_or_else(|| r.status());
        // A mapped code answers as the backend documents it: none of the gateway's own details.
        let remapped = mapping.is_some();
        let facts = Facts {
            status,
            code: m(|c| c.code.as_deref()).unwrap_or(r.code()),
            message: m(|c| c.message.as_deref()).map_or_else(|| r.message(), str::to_string),
            request_id: self.request_id(request_id),
            rejection: r,
            details: !remapped,
        };
        let mut body = match self.format {
            Format::Nested => self.nested(&facts),
            Format::Flat => json!({ "error": facts.message }),
            Format::Problem => self.problem(&facts),
            // (S3 answered above: not JSON.)
            Format::Envelope | Format::S3 => self.envelope(&facts),
        };
        let target = match (self.format, body.get_mut("error")) {
            (Format::Nested, Some(Value::Object(error))) => error,
            _ => body
                .as_object_mut()
                .expect("every format renders an object"),
        };
        if let Some(f) = &self.timestamp_field {
            target.insert(f.clone(), json!(timestamp(std::time::SystemTime::now())));
        }
        for (k, v) in self
            .fields
            .iter()
            .chain(mapping.iter().flat_map(|c| &c.fields))
        {
            target.insert(k.clone(), v.clone());
        }
        Rendered {
            status,
            content_type: match self.format {
                Format::Problem => "application/problem+json",
                _ => "application/json",
            },
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// S3's XML document: S3's code and status for the refusal unless the profile maps it.
    fn render_s3(&self, r: &Rejection, request_id: &str) -> Rendered {
        let mapping = self.codes.get(r.code());
        let (code, status) = s3::code_and_status(r);
        let code = mapping.and_then(|c| c.code.as_deref()).unwrap_or(code);
        let message = mapping
            .and_then(|c| c.message.clone())
            .unwrap_or_else(|| r.message());
        Rendered {
            status: mapping.and_then(|c| c.status).unwrap_or(status),
            content_type: "application/xml",
            body: s3::document(code, &message, &self.request_id(request_id)),
        }
    }

    fn id_field(&self, into: &mut Map<String, Value>, facts: &Facts<'_>) {
        if let Some(f) = &self.request_id_field {
            into.insert(f.clone(), json!(facts.request_id));
        }
    }

    /// A field-level problem as (location, kind, message): located by `{field}` for text
    /// fields and `file_location` for files; kind and message as `field_errors` maps them.
    fn field_problem(&self, r: &Rejection) -> Option<(String, String, String)> {
        let file = |name: &str| self.file_location.replace("{field}", name);
        let (location, kind, message) = match (r, &self.file_field) {
            (
                Rejection::Validation {
                    field: Some(f),
                    message,
                },
                _,
            ) => (
                if f.file {
                    file(&f.name)
                } else {
                    f.name.clone()
                },
                f.kind,
                message.clone(),
            ),
            (Rejection::ContentMismatch { .. } | Rejection::UnsupportedMediaType(_), Some(f)) => {
                (file(f), "invalid_type", r.message())
            }
            (Rejection::TooLarge(m), Some(f)) => (file(f), "too_large", m.clone()),
            _ => return None,
        };
        let mapped = self.field_errors.get(kind);
        Some((
            location,
            mapped
                .and_then(|m| m.kind.clone())
                .unwrap_or_else(|| kind.to_string()),
            mapped.and_then(|m| m.message.clone()).unwrap_or(message),
        ))
    }

    fn nested(&self, facts: &Facts<'_>) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(facts.code));
        error.insert("message".into(), json!(facts.message));
        let r = facts.rejection;
        match r {
            Rejection::Forbidden { missing_scopes, .. }
                if facts.details && !missing_scopes.is_empty() =>
            {
                error.insert("missing_scopes".into(), json!(missing_scopes));
            }
            Rejection::ContentMismatch { declared, detected } if facts.details => {
                error.insert("declared".into(), json!(declared));
                error.insert("detected".into(), json!(detected));
            }
            Rejection::QuotaExceeded {
                metric,
                used,
                limit,
            } if facts.details => {
                error.insert("metric".into(), json!(metric));
                error.insert(
                    "quotas".into(),
                    json!([{"metric": metric, "used": used, "limit": limit, "cumulative": true}]),
                );
            }
            Rejection::RateLimited { metric, .. } if facts.details => {
                error.insert("metric".into(), json!(metric));
            }
            _ => {}
        }
        self.id_field(&mut error, facts);
        json!({ "error": error })
    }

    fn problem(&self, facts: &Facts<'_>) -> Value {
        let mut p = Map::new();
        p.insert("type".into(), json!("about:blank"));
        p.insert("title".into(), json!(reason(facts.status)));
        p.insert("status".into(), json!(facts.status));
        p.insert("detail".into(), json!(facts.message));
        if let Some((path, kind, message)) = self.field_problem(facts.rejection) {
            p.insert(
                "violations".into(),
                json!([{"propertyPath": path, "message": message, "code": kind}]),
            );
        }
        if let Rejection::Forbidden { missing_scopes, .. } = facts.rejection
            && !missing_scopes.is_empty()
        {
            p.insert("missingPermissions".into(), json!(missing_scopes));
        }
        self.id_field(&mut p, facts);
        Value::Object(p)
    }

    fn envelope(&self, facts: &Facts<'_>) -> Value {
        let errors: Vec<Value> = self
            .field_problem(facts.rejection)
            .map(|(location, kind, message)| {
                json!({"error_type": kind, "location": location, "message": message})
            })
            .into_iter()
            .collect();
        let mut e = Map::new();
        e.insert("status_code".into(), json!(facts.status));
        e.insert("error_type".into(), json!(facts.code));
        e.insert("message".into(), json!(facts.message));
        e.insert("validation_errors".into(), json!(errors));
        self.id_field(&mut e, facts);
        Value::Object(e)
    }
}

/// One rendering's inputs after the code mapping.
struct Facts<'a> {
    status: u16,
    code: &'a str,
    message: String,
    request_id: String,
    rejection: &'a Rejection,
    /// Whether the gateway's own detail fields (`missing_scopes`, `declared`, `detected`,
    /// `metric`, `quotas`) belong
    /// in the body: not when the profile maps the code to the backend's own answer.
    details: bool,
}

pub use crate::clock::rfc3339_millis as timestamp;

/// The RFC 9110 reason phrase of `status` (the problem's `title`).
fn reason(status: u16) -> &'static str {
    http_reason(status).unwrap_or("Error")
}

fn http_reason(status: u16) -> Option<&'static str> {
    pingora::http::StatusCode::from_u16(status)
        .ok()?
        .canonical_reason()
}

#[cfg(test)]
mod tests;
