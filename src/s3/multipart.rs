//! S3 multipart uploads on an inspected route (`[routes.s3] multipart = true`): which operation
//! a request is, the records kept between its requests (in the quota store, so parts may go
//! through any instance, in any order), and the gate on `CompleteMultipartUpload`. Only part 1
//! carries the file's magic bytes: it is inspected against the type declared at creation; the
//! other parts are counted. Complete passes only when part 1 was inspected and accepted, every
//! listed part went through the gateway (its recorded ETag), and the total is within the type's
//! limit. Pure: the proxy glue is src/proxy/s3.rs.

use crate::rejection::Rejection;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

/// How long the records of an upload live after its last request (S3 keeps an incomplete
/// upload until it is completed, aborted or a lifecycle rule removes it).
pub const RECORD_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// The largest `CompleteMultipartUpload` body read (pingora replays at most 64 KiB; ~500 parts).
pub const MAX_COMPLETE_BODY: usize = 60 * 1024;
/// S3's part numbers.
const MAX_PART: u32 = 10_000;

/// What an S3 request on an inspected route does with bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `PUT /bucket/key`: the body is the object.
    PutObject,
    /// `POST /bucket/key?uploads`.
    Create,
    /// `PUT /bucket/key?partNumber=N&uploadId=X`.
    Part { number: u32, upload_id: String },
    /// `POST /bucket/key?uploadId=X`.
    Complete { upload_id: String },
    /// `POST /bucket` with a form (a presigned POST, src/s3/post.rs).
    PostObject,
}

/// The operation of `method` with the (raw) query's sub-resources; `None` when it is not one
/// of the four.
pub fn op(method: &http::Method, query: &str) -> Option<Op> {
    let mut subs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("x-amz-") && *k != "x-id")
        .collect();
    subs.sort();
    let text = |v: &str| crate::query::decode(v).filter(|v| !v.is_empty());
    match (method.as_str(), subs.as_slice()) {
        ("PUT", []) => Some(Op::PutObject),
        ("POST", []) => Some(Op::PostObject),
        ("POST", [("uploads", "")]) => Some(Op::Create),
        ("PUT", [("partNumber", n), ("uploadId", id)]) => Some(Op::Part {
            number: n
                .parse()
                .ok()
                .filter(|n| (1..=MAX_PART).contains(n))
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?,
            upload_id: text(id)?,
        }),
        ("POST", [("uploadId", id)]) => Some(Op::Complete {
            upload_id: text(id)?,
        }),
        _ => None,
    }
}

/// An upload, as created through the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The object's path (`/bucket/key`, or `/key` virtual-hosted), as requested.
    pub path: String,
    /// The type declared at creation (the `Content-Type` the object will have).
    pub declared: String,
}

/// A part that passed the gateway and the storage took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Payload bytes.
    pub size: u64,
    /// The storage's ETag for it, unquoted.
    pub etag: String,
    /// Part 1: the type its bytes were detected as.
    pub detected: Option<String>,
}

/// The store key of an upload's record: scoped to the tenant and the credential that created
/// it, so another caller's lookup finds nothing (`NoSuchUpload`).
pub fn record_key(tenant: &str, principal: &str, upload_id: &str) -> String {
    let key = crate::idempotency::Fingerprint::of(&[tenant, principal, upload_id]);
    format!("s3mpu:{key}")
}

/// The store key of part `n` of the upload at `record`.
pub fn part_key(record: &str, n: u32) -> String {
    format!("{record}:{n}")
}

fn malformed(m: &str) -> Rejection {
    Rejection::BadRequest(format!("MalformedXML: {m}"))
}

/// An ETag without its quotes.
pub fn unquote(etag: &str) -> &str {
    let t = etag.trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

/// The `UploadId` of a `CreateMultipartUpload` answer.
pub fn created_upload_id(xml: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut in_id = false;
    let mut id = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => in_id = e.local_name().as_ref() == b"UploadId",
            Event::Text(t) if in_id => id.push_str(&t.decode().ok()?),
            Event::End(_) if in_id => return (!id.is_empty()).then_some(id),
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The largest `CompleteMultipartUpload` answer read to tell a result from an error (S3's
/// are a few hundred bytes, after the spaces it sends to keep a long Complete alive).
pub const MAX_COMPLETE_ANSWER: usize = 16 * 1024;

/// What a storage's 2xx answer to `CompleteMultipartUpload` says: S3 may answer `200 OK` and
/// then report an error in the body (the SDKs retry the Complete then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `<CompleteMultipartUploadResult>`: the object exists.
    Completed,
    /// `<Error>`: the upload is still open, its parts unassembled.
    Failed,
    /// Anything else (cut short, not XML): treated as the object existing where that is the
    /// safe side (its size is counted), as open where that is (its records stay).
    Unknown,
}

/// The completion a Complete answer's body (leading spaces allowed) reports, by its root.
pub fn completion(xml: &[u8]) -> Completion {
    let mut reader = quick_xml::Reader::from_reader(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return match e.local_name().as_ref() {
                    b"CompleteMultipartUploadResult" => Completion::Completed,
                    b"Error" => Completion::Failed,
                    _ => Completion::Unknown,
                };
            }
            Ok(Event::Decl(_) | Event::Comment(_)) => {}
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return Completion::Unknown,
        }
    }
}

/// The parts a `CompleteMultipartUpload` body lists (number, unquoted ETag), read strictly so
/// that the gateway checks exactly the parts the storage assembles: no DTD, processing
/// instruction or CDATA; parts in ascending order, each with one number and one ETag.
pub fn complete_parts(xml: &[u8]) -> Result<Vec<(u32, String)>, Rejection> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut parts: Vec<(u32, String)> = Vec::new();
    let mut current: (Option<u32>, Option<String>) = (None, None);
    let mut text = String::new();
    let mut rooted = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&format!("{e}")))?;
        match event {
            Event::Decl(_) if path.is_empty() && parts.is_empty() => {}
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                let allowed = match path.len() {
                    0 => {
                        name == b"CompleteMultipartUpload" && !std::mem::replace(&mut rooted, true)
                    }
                    1 => name == b"Part",
                    2 => name == b"PartNumber" || name == b"ETag" || name.starts_with(b"Checksum"),
                    _ => false,
                };
                if !allowed {
                    return Err(malformed("an unexpected element"));
                }
                if path.len() == 1 {
                    current = (None, None);
                }
                text.clear();
                path.push(name);
            }
            Event::Empty(e)
                if path.len() == 2 && e.local_name().as_ref().starts_with(b"Checksum") => {}
            Event::Text(t) => text.push_str(&t.decode().map_err(|_| malformed("not UTF-8"))?),
            Event::GeneralRef(r) => match r.decode().map_err(|_| malformed("not UTF-8"))? {
                n if n == "quot" => text.push('"'),
                n if n == "amp" => text.push('&'),
                n if n == "lt" => text.push('<'),
                n if n == "gt" => text.push('>'),
                n if n == "apos" => text.push('\''),
                _ => return Err(malformed("an unknown entity")),
            },
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                match (path.len(), name.as_slice()) {
                    (2, b"PartNumber") => {
                        let t = text.trim();
                        let n = t
                            .parse::<u32>()
                            .ok()
                            .filter(|n| {
                                (1..=MAX_PART).contains(n) && t.bytes().all(|b| b.is_ascii_digit())
                            })
                            .ok_or_else(|| malformed("a part number must be 1 to 10000"))?;
                        if current.0.replace(n).is_some() {
                            return Err(malformed("a Part with two numbers"));
                        }
                    }
                    (2, b"ETag") if current.1.replace(unquote(&text).to_string()).is_some() => {
                        return Err(malformed("a Part with two ETags"));
                    }
                    (1, b"Part") => {
                        let (Some(n), Some(etag)) = current.clone() else {
                            return Err(malformed("a Part needs a PartNumber and an ETag"));
                        };
                        if parts.last().is_some_and(|(last, _)| *last >= n) {
                            return Err(Rejection::BadRequest(
                                "InvalidPartOrder: parts must be listed in ascending order".into(),
                            ));
                        }
                        parts.push((n, etag));
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof if path.is_empty() => break,
            // Comments, CDATA, DTDs and processing instructions: parsers differ on them.
            _ => return Err(malformed("unexpected content")),
        }
        if !path.is_empty() && path.len() < 3 && !text.trim().is_empty() {
            return Err(malformed("text outside a part's fields"));
        }
    }
    if parts.is_empty() {
        return Err(malformed("no parts"));
    }
    Ok(parts)
}

/// Why a Complete may not pass, or the object's total size and type. `records[i]` is the
/// record of `listed[i]` (`None`: no part with that number went through the gateway).
pub fn check_complete(
    listed: &[(u32, String)],
    records: &[Option<PartRecord>],
) -> Result<(u64, String), Rejection> {
    let refuse = |m: String| Rejection::Forbidden {
        message: m,
        missing_scopes: Vec::new(),
    };
    let mut total: u64 = 0;
    let mut detected = None;
    for ((n, etag), record) in listed.iter().zip(records) {
        let record = record.as_ref().filter(|r| r.etag == *etag).ok_or_else(|| {
            refuse(format!(
                "part {n} with this ETag was not uploaded and inspected through this gateway"
            ))
        })?;
        if *n == 1 {
            detected = record.detected.clone();
        }
        total = total.saturating_add(record.size);
    }
    let detected = detected.ok_or_else(|| {
        refuse("part 1 (the file's start) was not inspected: the upload cannot be completed".into())
    })?;
    Ok((total, detected))
}

#[cfg(test)]
#[path = "multipart_tests.rs"]
mod tests;
