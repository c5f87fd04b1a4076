//! The `s3` error format: the XML error document S3 and every S3-compatible server answer with
//! (`<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`), with S3's own
//! codes and statuses, so an SDK surfaces a gateway refusal as it surfaces the storage's own
//! (and retries exactly the ones S3 asks it to retry: `SlowDown`, `ServiceUnavailable`,
//! `InternalError`).

use crate::rejection::Rejection;

/// The S3 code and status a refusal is answered with.
pub fn code_and_status(r: &Rejection) -> (&'static str, u16) {
    match r {
        Rejection::BadRequest(_) => ("InvalidRequest", 400),
        Rejection::BadDigest(_) => ("BadDigest", 400),
        Rejection::InvalidMultipart(_) => ("MalformedPOSTRequest", 400),
        Rejection::Unauthorized(_) | Rejection::Forbidden { .. } | Rejection::NotFound => {
            ("AccessDenied", 403)
        }
        Rejection::Malware => ("AccessDenied", 403),
        Rejection::SignatureMismatch(_) => ("SignatureDoesNotMatch", 403),
        Rejection::TooLarge(_) => ("EntityTooLarge", 400),
        Rejection::UnsupportedMediaType(_)
        | Rejection::ContentMismatch { .. }
        | Rejection::Validation { .. }
        | Rejection::InvalidFile(_) => ("InvalidArgument", 400),
        Rejection::IdempotencyConflict | Rejection::IdempotencyMismatch => {
            ("OperationAborted", 409)
        }
        Rejection::RateLimited { .. } | Rejection::Overloaded => ("SlowDown", 503),
        // Ceph RGW's code for a user or bucket over its quota.
        Rejection::QuotaExceeded { .. } => ("QuotaExceeded", 403),
        Rejection::ScanUnavailable
        | Rejection::QuotaUnavailable
        | Rejection::StorageError(_)
        | Rejection::UpstreamTimeout => ("ServiceUnavailable", 503),
        Rejection::ClientTimeout => ("RequestTimeout", 400),
        Rejection::Internal(_) => ("InternalError", 500),
        // Resumable uploads are not S3 requests; named as S3 would name the nearest thing.
        Rejection::UploadNotFound => ("NoSuchUpload", 404),
        Rejection::UploadLocked => ("OperationAborted", 409),
        Rejection::OffsetMismatch(_) | Rejection::UploadGone(_) => ("InvalidRequest", 400),
        Rejection::UnsupportedVersion => ("PreconditionFailed", 412),
    }
}

/// The XML error document.
pub fn document(code: &str, message: &str, request_id: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>{}</RequestId></Error>",
        escape(code),
        escape(message),
        escape(request_id)
    )
    .into_bytes()
}

/// XML character data: the five predefined entities, and no control character XML 1.0 forbids.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
