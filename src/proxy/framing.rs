//! Upload framing, decided before any body byte is read: `multipart/form-data` with one
//! boundary, or a raw body (the file) with its declared type — on S3 routes possibly in the
//! SDKs' `aws-chunked` encoding; Content-Length against the route's limits.

use super::read::{count, header};
use crate::inspect::Framing;
use crate::inspect::aws_chunked::{Algorithm, Spec};
use crate::multipart::boundary_from_content_type;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use pingora::http::RequestHeader;

/// Checks an upload request's framing before any body byte is read: a multipart body's
/// boundary, or a raw body's declared type (allowed, and its length within its category).
/// `s3`: the route fronts S3 (`[routes.s3]`), whose SDKs send `aws-chunked` bodies.
/// `recorded`: the type declared earlier for this raw body (an S3 multipart upload's part,
/// src/proxy/s3.rs), instead of the request's `Content-Type`.
pub fn upload_framing(
    req: &RequestHeader,
    policy: &UploadPolicy,
    s3: bool,
    recorded: Option<&str>,
) -> Result<Framing, Rejection> {
    if count(req, "content-type") > 1 {
        return Err(Rejection::InvalidMultipart(
            "more than one Content-Type header".into(),
        ));
    }
    let aws_chunked = encoding(req, policy.raw_body && s3)?;
    let te = header(req, "transfer-encoding");
    if let Some(te) = te
        && !te.eq_ignore_ascii_case(b"chunked")
    {
        return Err(Rejection::BadRequest(
            "only chunked Transfer-Encoding is accepted".into(),
        ));
    }
    let framing = if policy.raw_body {
        raw_framing(req, aws_chunked.clone(), recorded)?
    } else {
        multipart_framing(req)?
    };
    let declared = match &framing {
        Framing::Raw { declared, .. } => declared.as_deref(),
        Framing::Multipart { .. } => None,
    };
    if policy.raw_body {
        policy.check_raw_declared(declared)?;
    }
    if let Some(spec) = &aws_chunked {
        policy.check_raw_length(declared, spec.decoded_length)?;
    }
    // Conflicting framing never gets here: pingora answers duplicate Content-Length with its own
    // 400 and drops Content-Length when Transfer-Encoding is present (tests/it/reject.rs).
    match super::read::content_length(req)? {
        Some(len) => {
            policy.check_content_length(len)?;
            if policy.raw_body && aws_chunked.is_none() {
                policy.check_raw_length(declared, len)?;
            }
            Ok(framing)
        }
        // HTTP/2 frames the body itself: no length is needed (and it is checked as it streams).
        None if te.is_none() && req.version != pingora::http::Version::HTTP_2 => {
            Err(Rejection::InvalidMultipart(
                "upload without a body (no Content-Length or Transfer-Encoding)".into(),
            ))
        }
        None => Ok(framing),
    }
}

fn multipart_framing(req: &RequestHeader) -> Result<Framing, Rejection> {
    let content_type = header(req, "content-type").ok_or_else(|| {
        Rejection::UnsupportedMediaType("uploads must be multipart/form-data".into())
    })?;
    match boundary_from_content_type(content_type) {
        Ok(Some(boundary)) => Ok(Framing::Multipart { boundary }),
        Ok(None) => Err(Rejection::UnsupportedMediaType(
            "uploads must be multipart/form-data".into(),
        )),
        Err(e) => Err(Rejection::InvalidMultipart(e)),
    }
}

/// A raw body: the declared type is the `Content-Type` essence (none: the detected type
/// decides, unless the route requires one); the file name is the path's last segment.
fn raw_framing(
    req: &RequestHeader,
    aws_chunked: Option<Spec>,
    recorded: Option<&str>,
) -> Result<Framing, Rejection> {
    let declared = match recorded {
        Some(t) => Some(t.to_string()),
        None => declared_type(req)?,
    };
    let filename = req.uri.path().rsplit('/').next().filter(|s| !s.is_empty());
    Ok(Framing::Raw {
        declared,
        filename: filename.map(str::to_string),
        aws_chunked,
    })
}

/// The canonical essence of the request's `Content-Type`, if it has one.
pub fn declared_type(req: &RequestHeader) -> Result<Option<String>, Rejection> {
    let Some(v) = header(req, "content-type") else {
        return Ok(None);
    };
    let v = std::str::from_utf8(v)
        .map_err(|_| Rejection::BadRequest("Content-Type is not valid UTF-8".into()))?;
    let essence = v.split(';').next().unwrap_or("").trim();
    if essence.is_empty() {
        return Err(Rejection::BadRequest("empty Content-Type".into()));
    }
    Ok(Some(crate::media::canonical(essence)))
}

/// `Content-Encoding`: none (or `identity`), or on S3 raw routes `aws-chunked` with what its
/// `x-amz-*` headers declare. Anything else cannot be inspected.
fn encoding(req: &RequestHeader, aws_chunked_ok: bool) -> Result<Option<Spec>, Rejection> {
    let Some(enc) = header(req, "content-encoding") else {
        return Ok(None);
    };
    if count(req, "content-encoding") == 1 && enc.eq_ignore_ascii_case(b"identity") {
        return Ok(None);
    }
    if !(aws_chunked_ok
        && count(req, "content-encoding") == 1
        && enc.eq_ignore_ascii_case(b"aws-chunked"))
    {
        return Err(Rejection::UnsupportedMediaType(
            "compressed request bodies cannot be inspected; send them uncompressed".into(),
        ));
    }
    let one = |name: &str| -> Result<Option<&str>, Rejection> {
        match (count(req, name), header(req, name)) {
            (0, _) => Ok(None),
            (1, Some(v)) => std::str::from_utf8(v)
                .map(|v| Some(v.trim()))
                .map_err(|_| Rejection::BadRequest(format!("a malformed {name} header"))),
            _ => Err(Rejection::BadRequest(format!(
                "more than one {name} header"
            ))),
        }
    };
    let decoded_length = one("x-amz-decoded-content-length")?
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Rejection::BadRequest("aws-chunked needs a valid x-amz-decoded-content-length".into())
        })?;
    let (signed, trailed) = match one("x-amz-content-sha256")? {
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => (false, true),
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") => (true, false),
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") => (true, true),
        other => {
            return Err(Rejection::BadRequest(format!(
                "aws-chunked with x-amz-content-sha256 {:?} is not supported",
                other.unwrap_or("")
            )));
        }
    };
    let trailer = match (one("x-amz-trailer")?, trailed) {
        (None, false) => None,
        (Some(t), true) => Some(Algorithm::from_trailer(t).ok_or_else(|| {
            Rejection::BadRequest(format!(
                "the trailer {t:?} is not one the gateway verifies (crc32, crc32c, crc64nvme, sha256)"
            ))
        })?),
        _ => {
            return Err(Rejection::BadRequest(
                "x-amz-trailer disagrees with x-amz-content-sha256".into(),
            ));
        }
    };
    Ok(Some(Spec {
        decoded_length,
        signed,
        trailer,
    }))
}
