//! S3 presigned POST forms (`[routes.s3] presigned_post = true`): browser uploads whose
//! credential, signature and policy are form fields before `file`. The gateway reads them from
//! the sniff window (src/proxy/s3.rs), names the tenant by the credential's access key, and
//! holds the file to the policy as S3 cannot: the *detected* type must satisfy the policy's
//! `Content-Type` conditions (S3 checks only the declared field) and the file's size its
//! `content-length-range`, counted as it streams. The fields reach the storage unchanged; it
//! checks the policy and signature again. Pure.

use crate::rejection::Rejection;
use base64::Engine;

/// A `Content-Type` condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeCondition {
    Eq(String),
    StartsWith(String),
}

/// What a presigned POST form says, as read (the signature is verified by src/s3/sigv4.rs when
/// the gateway has the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub access_key: String,
    /// `yyyymmdd/region/service/aws4_request`.
    pub scope: String,
    pub date: String,
    pub signature: String,
    /// The `policy` field as sent (base64): what the signature covers.
    pub policy: String,
    /// The policy's `expiration`, Unix seconds.
    pub expires: u64,
    pub types: Vec<TypeCondition>,
    /// `content-length-range`: the file's least and greatest size.
    pub length: Option<(u64, u64)>,
    /// The `Content-Type` field: the type S3 stores the object with.
    pub content_type: Option<String>,
}

fn denied(m: impl Into<String>) -> Rejection {
    Rejection::Forbidden {
        message: m.into(),
        missing_scopes: Vec::new(),
    }
}

fn bad(m: &str) -> Rejection {
    Rejection::BadRequest(format!("a presigned POST form: {m}"))
}

/// Reads the form's fields (names compared without case, as S3 does); each needed field
/// exactly once.
pub fn read_form(fields: &[(String, Vec<u8>)]) -> Result<Form, Rejection> {
    let one = |name: &str| -> Result<Option<String>, Rejection> {
        let mut found = fields.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
        let first = found.next();
        if found.next().is_some() {
            return Err(bad(&format!("{name} is sent more than once")));
        }
        first
            .map(|(_, v)| String::from_utf8(v.clone()).map_err(|_| bad("a field is not UTF-8")))
            .transpose()
    };
    let need = |name: &str| one(name)?.ok_or_else(|| denied(format!("the form has no {name}")));
    if need("x-amz-algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(denied(
            "only AWS4-HMAC-SHA256 (SigV4) POST policies are accepted",
        ));
    }
    let (access_key, scope) = super::access_key(&need("x-amz-credential")?)?;
    let policy = need("policy")?;
    let (expires, types, length) = read_policy(&policy)?;
    Ok(Form {
        access_key,
        scope,
        date: need("x-amz-date")?,
        signature: need("x-amz-signature")?,
        policy,
        expires,
        types,
        length,
        content_type: one("content-type")?,
    })
}

type Policy = (u64, Vec<TypeCondition>, Option<(u64, u64)>);

/// The policy document's expiration, `Content-Type` conditions and `content-length-range`
/// (other conditions are the storage's to check).
fn read_policy(b64: &str) -> Result<Policy, Rejection> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad("the policy is not base64"))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&json).map_err(|_| bad("the policy is not JSON"))?;
    let expiration = doc["expiration"]
        .as_str()
        .and_then(|e| {
            // `2026-12-07T05:51:30Z`, or with fractional seconds.
            let whole = match e.split_once('.') {
                Some((s, frac)) if frac.ends_with('Z') => format!("{s}Z"),
                _ => e.to_string(),
            };
            crate::clock::parse_rfc3339(&whole)
        })
        .ok_or_else(|| bad("the policy has no valid expiration"))?;
    let conditions = doc["conditions"]
        .as_array()
        .ok_or_else(|| bad("the policy has no conditions"))?;
    let mut types = Vec::new();
    let mut length = None;
    let is_type = |f: &str| f.eq_ignore_ascii_case("$content-type");
    for c in conditions {
        match c {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k.eq_ignore_ascii_case("content-type") {
                        let v = v.as_str().ok_or_else(|| bad("a Content-Type condition"))?;
                        types.push(TypeCondition::Eq(v.to_ascii_lowercase()));
                    }
                }
            }
            serde_json::Value::Array(a) => match a.as_slice() {
                [op, field, value] if op == "eq" && field.as_str().is_some_and(is_type) => {
                    let v = value
                        .as_str()
                        .ok_or_else(|| bad("a Content-Type condition"))?;
                    types.push(TypeCondition::Eq(v.to_ascii_lowercase()));
                }
                [op, field, value]
                    if op == "starts-with" && field.as_str().is_some_and(is_type) =>
                {
                    let v = value
                        .as_str()
                        .ok_or_else(|| bad("a Content-Type condition"))?;
                    types.push(TypeCondition::StartsWith(v.to_ascii_lowercase()));
                }
                [op, min, max] if op == "content-length-range" => {
                    let n = |v: &serde_json::Value| {
                        v.as_u64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    };
                    let (Some(min), Some(max)) = (n(min), n(max)) else {
                        return Err(bad("a malformed content-length-range"));
                    };
                    if length.replace((min, max)).is_some() {
                        return Err(bad("two content-length-range conditions"));
                    }
                }
                _ => {}
            },
            _ => return Err(bad("a malformed policy condition")),
        }
    }
    Ok((expiration, types, length))
}

impl Form {
    /// The credential scope's date (`yyyymmdd`) and region.
    pub fn day_and_region(&self) -> (&str, &str) {
        let mut parts = self.scope.split('/');
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    }

    /// The detected type against the policy's `Content-Type` conditions and the declared
    /// `Content-Type` field (the type S3 will serve the object as).
    pub fn check_type(&self, detected: &str) -> Result<(), Rejection> {
        if let Some(declared) = &self.content_type {
            let declared = crate::media::canonical(declared.split(';').next().unwrap_or(""));
            if !crate::media::satisfies(detected, &declared) {
                return Err(Rejection::ContentMismatch {
                    declared,
                    detected: detected.to_string(),
                });
            }
        }
        for c in &self.types {
            let ok = match c {
                TypeCondition::Eq(v) => crate::media::canonical(v) == detected,
                TypeCondition::StartsWith(p) => detected.starts_with(p.as_str()),
            };
            if !ok {
                return Err(denied(format!(
                    "Invalid according to Policy: the file is {detected}, which the policy's \
                     Content-Type condition does not allow"
                )));
            }
        }
        Ok(())
    }

    /// The file's size so far (`done`: all of it) against `content-length-range`.
    pub fn check_size(&self, size: u64, done: bool) -> Result<(), Rejection> {
        let Some((min, max)) = self.length else {
            return Ok(());
        };
        if size > max {
            return Err(Rejection::TooLarge(format!(
                "Your proposed upload exceeds the maximum allowed size: the policy allows at \
                 most {max} bytes"
            )));
        }
        if done && size < min {
            return Err(Rejection::BadRequest(format!(
                "EntityTooSmall: the policy requires at least {min} bytes"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "post_tests.rs"]
mod tests;
