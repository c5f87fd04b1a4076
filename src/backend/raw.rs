//! `PUT /media/raw/{name}` on the reference backend: the body is the file (a raw-body route of
//! the gateway, `[routes.upload] body = "raw"`). Streamed to a temporary file while hashed;
//! recorded only when the whole body arrived.

use super::store::{Record, Store};
use super::upload::{Failure, Received, commit, header};
use pingora::protocols::http::ServerSession;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Receives the body as the file `name`; on any failure the temporary file is removed. A
/// backend that requires the gateway's signed verdict refuses raw bodies: they carry none.
pub async fn receive(
    s: &mut ServerSession,
    store: &Store,
    name: &str,
    verdict_key: Option<&[u8]>,
) -> Result<Record, Failure> {
    if verdict_key.is_some() {
        return Err((
            400,
            "unverified upload: a raw body carries no verdict".into(),
        ));
    }
    if name.is_empty() || name.len() > 255 || name.bytes().any(|c| c.is_ascii_control()) {
        return Err((
            400,
            "a file name of 1 to 255 printable bytes is required".into(),
        ));
    }
    let id = crate::request_id::generate();
    let result = receive_into(s, store, &id, name).await;
    super::upload::discard_failed(store, &id, result).await
}

async fn receive_into(
    s: &mut ServerSession,
    store: &Store,
    id: &str,
    name: &str,
) -> Result<Record, Failure> {
    let io = |e: std::io::Error| (500, e.to_string());
    let mut file = tokio::fs::File::create(store.temp_path(id))
        .await
        .map_err(io)?;
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = s
        .read_request_body()
        .await
        .map_err(|e| (400, format!("body read failed: {e}")))?
    {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(io)?;
    }
    if size == 0 {
        return Err((400, "the body is empty".into()));
    }
    file.sync_all().await.map_err(io)?;
    let declared = header(s, "content-type").map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let received = Received {
        size,
        sha256: hex::encode(hasher.finalize()),
        name: Some(name.to_string()),
        declared,
        tags: Vec::new(),
        folder: None,
        checked: None,
    };
    commit(s, store, id, received)
}
