//! `POST /media` on the reference backend: stream the multipart body to a temporary file while
//! hashing it; the record is committed only when the closing boundary was read.

use super::store::{Record, Store};
use super::time;
use crate::multipart::{Event, Parser, boundary_from_content_type};
use pingora::protocols::http::ServerSession;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Why an upload failed: an HTTP status and a message.
pub type Failure = (u16, String);

const MAX_FIELD_BYTES: usize = 4096;

fn bad(m: impl Into<String>) -> Failure {
    (400, m.into())
}

pub(super) fn header(s: &ServerSession, name: &str) -> Option<String> {
    s.get_header(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn valid_folder(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 200
        && !f.starts_with('/')
        && f.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && f.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_/".contains(&c))
}

struct FileWrite {
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
    name: Option<String>,
    declared: Option<String>,
}

/// The gateway's verdict fields (src/verdict.rs, default field name).
const VERDICT: &str = "upload_gateway_verdict";
const SIGNATURE: &str = "upload_gateway_verdict_signature";

/// Receives the upload; on any failure the temporary file is removed. With `verdict_key`, the
/// gateway's signed verdict must match the stored file.
pub async fn receive(
    s: &mut ServerSession,
    store: &Store,
    verdict_key: Option<&[u8]>,
) -> Result<Record, Failure> {
    let id = crate::request_id::generate();
    let result = receive_into(s, store, &id, verdict_key).await;
    discard_failed(store, &id, result).await
}

/// A failed upload leaves nothing: its temporary file is removed.
pub(super) async fn discard_failed(
    store: &Store,
    id: &str,
    result: Result<Record, Failure>,
) -> Result<Record, Failure> {
    if result.is_err() {
        let _ = tokio::fs::remove_file(store.temp_path(id)).await;
    }
    result
}

async fn receive_into(
    s: &mut ServerSession,
    store: &Store,
    id: &str,
    verdict_key: Option<&[u8]>,
) -> Result<Record, Failure> {
    let ct = header(s, "content-type").ok_or_else(|| bad("multipart/form-data required"))?;
    let boundary = boundary_from_content_type(ct.as_bytes())
        .map_err(bad)?
        .ok_or_else(|| (415, "multipart/form-data required".to_string()))?;
    let mut parser = Parser::new(&boundary, 16 * 1024);
    let mut file: Option<FileWrite> = None;
    let mut done_file: Option<FileWrite> = None;
    let (mut field, mut tags, mut folder) = (None::<(String, Vec<u8>)>, Vec::new(), None);
    let (mut verdict, mut signature) = (None::<Vec<u8>>, None::<String>);
    loop {
        let chunk = s
            .read_request_body()
            .await
            .map_err(|e| bad(format!("body read failed: {e}")))?;
        let Some(chunk) = chunk else { break };
        parser.push(chunk);
        while let Some(ev) = parser.poll().map_err(bad)? {
            match ev {
                Event::PartStart(h) if h.name == "file" => {
                    if done_file.is_some() || file.is_some() {
                        return Err(bad("only one file part is accepted"));
                    }
                    let f = tokio::fs::File::create(store.temp_path(id))
                        .await
                        .map_err(|e| (500, e.to_string()))?;
                    file = Some(FileWrite {
                        file: f,
                        hasher: Sha256::new(),
                        size: 0,
                        name: h.filename,
                        declared: h.content_type,
                    });
                }
                Event::PartStart(h) => field = Some((h.name, Vec::new())),
                Event::Data(d) => {
                    if let Some(f) = file.as_mut() {
                        f.hasher.update(&d);
                        f.size += d.len() as u64;
                        f.file
                            .write_all(&d)
                            .await
                            .map_err(|e| (500, e.to_string()))?;
                    } else if let Some((name, v)) = field.as_mut() {
                        let cap = if name == VERDICT {
                            64 * 1024
                        } else {
                            MAX_FIELD_BYTES
                        };
                        if v.len() + d.len() > cap {
                            return Err(bad("form field too long"));
                        }
                        v.extend_from_slice(&d);
                    }
                }
                Event::PartEnd => {
                    if let Some(mut f) = file.take() {
                        f.file.flush().await.map_err(|e| (500, e.to_string()))?;
                        done_file = Some(f);
                    }
                    if let Some((name, v)) = field.take() {
                        if name == VERDICT {
                            verdict = Some(v);
                            continue;
                        }
                        let v = String::from_utf8(v).map_err(|_| bad("form field is not UTF-8"))?;
                        match name.as_str() {
                            "tags" => {
                                tags = v
                                    .split(',')
                                    .map(|t| t.trim().to_string())
                                    .filter(|t| !t.is_empty())
                                    .collect()
                            }
                            SIGNATURE => signature = Some(v),
                            "folder" if valid_folder(&v) => folder = Some(v),
                            "folder" => {
                                return Err(bad(
                                    "folder must be relative path segments of [A-Za-z0-9_-]",
                                ));
                            }
                            _ => {}
                        }
                    }
                }
                Event::Finished => {}
            }
        }
    }
    parser.finish().map_err(bad)?;
    let f = done_file.ok_or_else(|| (422, "the file part is missing".to_string()))?;
    f.file.sync_all().await.map_err(|e| (500, e.to_string()))?;
    let sha256 = hex::encode(f.hasher.finalize());
    let checked = match verdict_key {
        None => None,
        Some(key) => Some(check_verdict(
            s,
            key,
            verdict,
            signature,
            &sha256,
            f.size,
            time::now_unix(),
        )?),
    };
    let file = Received {
        size: f.size,
        sha256,
        name: f.name,
        declared: f.declared,
        tags,
        folder,
        checked,
    };
    commit(s, store, id, file)
}

/// One received file, ready to be recorded.
pub(super) struct Received {
    pub size: u64,
    pub sha256: String,
    pub name: Option<String>,
    pub declared: Option<String>,
    pub tags: Vec<String>,
    pub folder: Option<String>,
    /// The file's entry in the gateway's verified verdict.
    pub checked: Option<serde_json::Value>,
}

/// Records a received file (its bytes are in the store's temporary file for `id`): the type the
/// gateway detected, else the declared one; the identity the gateway verified.
pub(super) fn commit(
    s: &ServerSession,
    store: &Store,
    id: &str,
    f: Received,
) -> Result<Record, Failure> {
    let detected = header(s, "x-upload-detected-type");
    let content_type = detected
        .clone()
        .or(f.declared)
        .unwrap_or_else(|| crate::media::OCTET_STREAM.to_string());
    let now = time::now_unix();
    let key = match &f.folder {
        Some(dir) => format!("{dir}/{id}"),
        None => id.to_string(),
    };
    let checked = f.checked;
    let record = Record {
        id: id.to_string(),
        url: format!("/media/{id}/content"),
        key,
        size: f.size,
        content_type,
        sha256: f.sha256,
        original_name: f.name,
        tags: f.tags,
        folder: f.folder,
        created_at: time::rfc3339(now),
        updated_at: time::rfc3339(now),
        tenant: header(s, "x-auth-tenant"),
        subject: header(s, "x-auth-subject"),
        mode: header(s, "x-auth-mode"),
        key_label: header(s, "x-auth-key-label"),
        detected_type: detected,
        created_unix: now,
        width: checked.as_ref().and_then(|v| v["width"].as_u64()),
        height: checked.as_ref().and_then(|v| v["height"].as_u64()),
        abuse_status: checked.map(|v| v["scan"].as_str().unwrap_or("unscanned").to_string()),
    };
    store
        .commit(record)
        .map_err(|e| (500, format!("could not store the file: {e}")))
}

/// The gateway's signed verdict for the stored file (its one `file` part): the signature, the
/// request id the gateway sent, the age, and the file's SHA-256 and size. Returns the file's
/// entry.
fn check_verdict(
    s: &ServerSession,
    key: &[u8],
    verdict: Option<Vec<u8>>,
    signature: Option<String>,
    sha256: &str,
    size: u64,
    now: u64,
) -> Result<serde_json::Value, Failure> {
    let unverified = |m: String| (400, format!("unverified upload: {m}"));
    let verdict = verdict.ok_or_else(|| unverified("no gateway verdict".into()))?;
    let signature = signature.ok_or_else(|| unverified("no verdict signature".into()))?;
    let request_id = header(s, crate::request_id::HEADER);
    let expect = crate::verdict::Expect {
        request_id: Some(request_id.as_deref().unwrap_or("")),
        max_age_secs: 300,
        now,
    };
    let received = [("file".to_string(), sha256.to_string(), size)];
    let v =
        crate::verdict::check(key, &verdict, &signature, &received, &expect).map_err(unverified)?;
    Ok(v["files"][0].clone())
}
