//! The one rejection type: every refusal the gateway can answer with, its fixed status, its
//! stable `code` and its message. Rendered into a response body in exactly one place
//! (`ErrorProfile::render` in src/errors.rs, written by src/proxy/respond.rs), whatever phase
//! produced it; this module imports nothing of the crate.

/// The form field a validation refusal is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// The form field's name.
    pub name: String,
    /// Whether it is a file field (error profiles may locate those differently, `file.file`).
    pub file: bool,
    /// What is wrong: `missing`, `too_long`, `invalid`, `unknown`, `empty`.
    pub kind: &'static str,
}

/// Why a request was refused. Each variant has a fixed HTTP status and a stable `code` that
/// clients program against (docs/ARCHITECTURE.md, "Refusals"); the message is for humans and may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 400 `bad_request`: the HTTP request itself is malformed or uses a framing we refuse.
    BadRequest(String),
    /// 400 `invalid_multipart`: the multipart body (or its Content-Type) is malformed or ambiguous.
    InvalidMultipart(String),
    /// 401 `unauthorized`: missing, malformed, expired or badly signed credential.
    Unauthorized(String),
    /// 403 `forbidden`: the credential lacks scopes (listed) or may not act for the organisation.
    /// A SigV4 signature the gateway verified and found wrong (`[routes.s3] secrets`).
    SignatureMismatch(String),
    Forbidden {
        message: String,
        missing_scopes: Vec<String>,
    },
    /// 404 `not_found`: no route matches the method and path.
    NotFound,
    /// 422 `invalid_file`: the file's structure is broken: truncated, data after its end
    /// marker, malformed (routes with structure checks).
    InvalidFile(String),
    /// 400 `bad_digest`: the checksum the client sent does not match the bytes received.
    BadDigest(String),
    /// 422 `malware_detected`: the malware scanner found a signature (named in the log only).
    Malware,
    /// 503 `scan_unavailable`: the malware scanner gave no verdict and the route fails closed.
    ScanUnavailable,
    /// 409 `idempotency_conflict`: a request with the same idempotency key is in flight.
    IdempotencyConflict,
    /// 422 `idempotency_mismatch`: the idempotency key was used with another payload.
    IdempotencyMismatch,
    /// 413 `too_large`: a size limit (body, part or per-category) is exceeded.
    TooLarge(String),
    /// 415 `unsupported_media_type`: the type is not allowed on this route.
    UnsupportedMediaType(String),
    /// 415 `content_mismatch`: the declared part type disagrees with the detected bytes.
    ContentMismatch { declared: String, detected: String },
    /// 422 `validation_error`: a form-field or filename rule failed (`field`: which one, when
    /// known, so error profiles can fill `validation_errors` / `violations`).
    Validation {
        message: String,
        field: Option<FieldIssue>,
    },
    /// 429 `quota_exceeded`: a cumulative quota (`storage_bytes`, `file_count`) would be
    /// crossed; `used` is the committed usage, `metric` the quota metric's name.
    QuotaExceeded {
        metric: &'static str,
        used: u64,
        limit: u64,
    },
    /// 429 `rate_limited`: a windowed limit (`metric`: `requests`, `upload_bytes`) is reached
    /// until `retry_after_secs`.
    RateLimited {
        metric: &'static str,
        retry_after_secs: u64,
    },
    /// 503 `quota_unavailable`: the quota store cannot be reached and the metric fails closed,
    /// or an idempotency key cannot be checked.
    QuotaUnavailable,
    /// 503 `overloaded`: `[server] max_requests` are in flight.
    Overloaded,
    /// 502 `storage_error`: the upstream is unreachable or failed.
    StorageError(String),
    /// 504 `timeout`: the upstream did not answer in time.
    UpstreamTimeout,
    /// 408 `timeout`: the client was too slow sending its request.
    ClientTimeout,
    /// 500 `internal`: a failure of the gateway itself.
    Internal(String),
    /// 404 `upload_not_found`: no resumable upload at this address for this caller (unknown,
    /// expired, or another tenant's or credential's).
    UploadNotFound,
    /// 409 `offset_mismatch`: a resumable upload's request does not start where the upload
    /// stands (`Upload-Offset`); the client asks for the offset (HEAD) and resumes from there.
    OffsetMismatch(String),
    /// 410 `upload_gone`: the resumable upload was refused and terminated; it cannot go on.
    UploadGone(String),
    /// 423 `upload_locked`: another request of the resumable upload is still running (tus
    /// clients retry).
    UploadLocked,
    /// 412 `unsupported_version`: the request speaks a tus version the gateway does not.
    UnsupportedVersion,
}

impl Rejection {
    /// Every code [`Rejection::code`] can answer (error profiles map them).
    pub const CODES: [&'static str; 27] = [
        "bad_request",
        "invalid_multipart",
        "unauthorized",
        "forbidden",
        "not_found",
        "too_large",
        "unsupported_media_type",
        "content_mismatch",
        "validation_error",
        "invalid_file",
        "bad_digest",
        "malware_detected",
        "scan_unavailable",
        "idempotency_conflict",
        "idempotency_mismatch",
        "rate_limited",
        "quota_exceeded",
        "quota_unavailable",
        "overloaded",
        "storage_error",
        "timeout",
        "internal",
        "upload_not_found",
        "offset_mismatch",
        "upload_gone",
        "upload_locked",
        "unsupported_version",
    ];

    /// A 422 about form field `name`.
    pub fn field(name: &str, file: bool, kind: &'static str, message: String) -> Self {
        Self::Validation {
            message,
            field: Some(FieldIssue {
                name: name.to_string(),
                file,
                kind,
            }),
        }
    }

    /// The HTTP status this rejection is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::InvalidMultipart(_) | Self::BadDigest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden { .. } | Self::SignatureMismatch(_) => 403,
            Self::NotFound | Self::UploadNotFound => 404,
            Self::OffsetMismatch(_) => 409,
            Self::UploadGone(_) => 410,
            Self::UploadLocked => 423,
            Self::UnsupportedVersion => 412,
            Self::ClientTimeout => 408,
            Self::IdempotencyConflict => 409,
            Self::IdempotencyMismatch | Self::InvalidFile(_) | Self::Malware => 422,
            Self::ScanUnavailable => 503,
            Self::TooLarge(_) => 413,
            Self::UnsupportedMediaType(_) | Self::ContentMismatch { .. } => 415,
            Self::Validation { .. } => 422,
            Self::RateLimited { .. } | Self::QuotaExceeded { .. } => 429,
            Self::QuotaUnavailable | Self::Overloaded => 503,
            Self::Internal(_) => 500,
            Self::StorageError(_) => 502,
            Self::UpstreamTimeout => 504,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidMultipart(_) => "invalid_multipart",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::SignatureMismatch(_) => "signature_mismatch",
            Self::NotFound => "not_found",
            Self::TooLarge(_) => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::ContentMismatch { .. } => "content_mismatch",
            Self::Validation { .. } => "validation_error",
            Self::InvalidFile(_) => "invalid_file",
            Self::BadDigest(_) => "bad_digest",
            Self::Malware => "malware_detected",
            Self::ScanUnavailable => "scan_unavailable",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::IdempotencyMismatch => "idempotency_mismatch",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::QuotaUnavailable => "quota_unavailable",
            Self::Overloaded => "overloaded",
            Self::StorageError(_) => "storage_error",
            Self::UpstreamTimeout | Self::ClientTimeout => "timeout",
            Self::Internal(_) => "internal",
            Self::UploadNotFound => "upload_not_found",
            Self::OffsetMismatch(_) => "offset_mismatch",
            Self::UploadGone(_) => "upload_gone",
            Self::UploadLocked => "upload_locked",
            Self::UnsupportedVersion => "unsupported_version",
        }
    }

    /// A human-readable message; never contains key material.
    pub fn message(&self) -> String {
        match self {
            Self::BadRequest(m)
            | Self::InvalidMultipart(m)
            | Self::Unauthorized(m)
            | Self::TooLarge(m)
            | Self::InvalidFile(m)
            | Self::BadDigest(m)
            | Self::SignatureMismatch(m)
            | Self::UnsupportedMediaType(m)
            | Self::Validation { message: m, .. }
            | Self::StorageError(m)
            | Self::OffsetMismatch(m)
            | Self::UploadGone(m)
            | Self::Internal(m) => m.clone(),
            Self::UploadNotFound => "no upload at this address for this caller".into(),
            Self::UploadLocked => {
                "another request of this upload is still running; retry shortly".into()
            }
            Self::UnsupportedVersion => "only Tus-Resumable: 1.0.0 is supported".into(),
            Self::Forbidden { message, .. } => message.clone(),
            Self::NotFound => "no route matches this method and path".into(),
            Self::Malware => "the file was refused by the malware scanner".into(),
            Self::ScanUnavailable => {
                "the file could not be scanned for malware right now; retry later".into()
            }
            Self::IdempotencyConflict => {
                "a request with this idempotency key is still being processed; retry later".into()
            }
            Self::IdempotencyMismatch => {
                "this idempotency key was already used with a different request payload".into()
            }
            Self::ContentMismatch { declared, detected } => {
                format!(
                    "declared content type {declared} does not match the detected type {detected}"
                )
            }
            Self::RateLimited {
                metric,
                retry_after_secs,
            } => format!(
                "rate limit exceeded for {}, retry after {retry_after_secs}s",
                metric
            ),
            Self::QuotaExceeded { metric, .. } => {
                format!("tier quota exceeded for {}", metric)
            }
            Self::QuotaUnavailable => {
                "the quota store (quotas, idempotency keys) cannot be reached; retry later".into()
            }
            Self::Overloaded => "the gateway has too many requests in flight; retry later".into(),
            Self::UpstreamTimeout => "the storage backend did not answer in time".into(),
            Self::ClientTimeout => "the client was too slow sending the request".into(),
        }
    }

    /// Extra response headers this rejection carries (`WWW-Authenticate`, `Retry-After`).
    pub fn extra_headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Unauthorized(_) => vec![(
                "WWW-Authenticate",
                "Bearer error=\"invalid_token\"".to_string(),
            )],
            Self::RateLimited {
                retry_after_secs, ..
            } => vec![("Retry-After", retry_after_secs.to_string())],
            // The store did not answer in time: a client may try again in a second.
            Self::QuotaUnavailable | Self::Overloaded => vec![("Retry-After", "1".to_string())],
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code(), self.status(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_quota_store_asks_the_client_to_retry_in_a_second() {
        let h = Rejection::QuotaUnavailable.extra_headers();
        assert_eq!(h, vec![("Retry-After", "1".to_string())]);
    }

    #[test]
    fn unauthorized_sets_rfc6750_header() {
        let h = Rejection::Unauthorized("expired".into()).extra_headers();
        assert_eq!(h[0].1, "Bearer error=\"invalid_token\"");
    }
}
