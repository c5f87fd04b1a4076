use super::*;
use crate::config::file::UploadFile;
use crate::inspect::tests::png;
use crate::multipart::Form;
use sha2::{Digest, Sha256};

fn policy() -> Arc<UploadPolicy> {
    let f: UploadFile = toml::from_str("allowed_types = [\"image/*\"]").unwrap();
    Arc::new(UploadPolicy::from_config(&f, "t").unwrap())
}

fn multipart() -> Framing {
    Framing::Multipart {
        boundary: "b0undary".into(),
    }
}

fn raw(declared: &str) -> Framing {
    Framing::Raw {
        declared: Some(declared.into()),
        filename: Some("f".into()),
        aws_chunked: None,
    }
}

/// A body whose file part is large enough to be hashed on the helper thread.
fn body(file_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut data = png();
    data.extend((0..file_len).map(|i| (i % 251) as u8));
    let body = Form::new("b0undary")
        .field("title", "x")
        .file("file", "p.png", "image/png", &data)
        .finish();
    (body, data)
}

async fn push_all(s: &mut UploadStream, bytes: &[u8], chunk: usize, end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut parts = bytes.chunks(chunk).peekable();
    while let Some(c) = parts.next() {
        let last = end && parts.peek().is_none();
        out.extend_from_slice(&s.push(Some(Bytes::copy_from_slice(c)), last).await.unwrap());
    }
    out
}

fn assert_counted_once(s: &UploadStream, body: &[u8], data: &[u8]) {
    assert_eq!(s.total(), body.len() as u64, "every byte counted once");
    let files = s.inspector().files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, data.len() as u64, "file bytes counted once");
    assert_eq!(files[0].sha256, hex::encode(Sha256::digest(data)));
}

#[tokio::test]
async fn window_replayed_by_pingora_is_inspected_once() {
    let (body, data) = body(3 << 20);
    let mut s = UploadStream::new(policy(), &multipart());
    let window = 40_000;
    s.window(Bytes::copy_from_slice(&body[..window]))
        .await
        .unwrap();
    assert!(s.inspector().first_file_decided());
    s.begin_attempt(true);
    assert_eq!(s.held(), 0, "pingora's replay replaces the held window");
    let mut out = push_all(&mut s, &body[..window], window, false).await;
    out.extend(push_all(&mut s, &body[window..], 65_536, true).await);
    assert_eq!(out, body, "forwarded byte for byte");
    assert_counted_once(&s, &body, &data);
}

#[tokio::test]
async fn a_retried_attempt_forwards_again_without_inspecting_again() {
    let (body, data) = body(100);
    let mut s = UploadStream::new(policy(), &multipart());
    s.window(Bytes::copy_from_slice(&body)).await.unwrap();
    s.end().unwrap();
    for _attempt in 0..3 {
        s.begin_attempt(true);
        let out = push_all(&mut s, &body, body.len(), true).await;
        assert_eq!(out, body);
        assert_counted_once(&s, &body, &data);
    }
}

#[tokio::test]
async fn window_pingora_cannot_replay_is_released_from_the_stream() {
    let (body, data) = body(200_000);
    let mut s = UploadStream::new(policy(), &multipart());
    s.window(Bytes::copy_from_slice(&body[..70_000]))
        .await
        .unwrap();
    s.begin_attempt(false);
    let out = push_all(&mut s, &body[70_000..], 8192, true).await;
    assert_eq!(out, body);
    assert_counted_once(&s, &body, &data);
}

#[tokio::test]
async fn a_refused_body_is_never_released_whole() {
    let data = png();
    let body = Form::new("b0undary")
        .file("file", "p.jpg", "image/jpeg", &data)
        .finish();
    let mut s = UploadStream::new(policy(), &multipart());
    let mut out = Vec::new();
    let mut refused = None;
    for c in body.chunks(100) {
        match s.push(Some(Bytes::copy_from_slice(c)), false).await {
            Ok(b) => out.extend_from_slice(&b),
            Err(r) => {
                refused = Some(r);
                break;
            }
        }
    }
    assert!(matches!(refused, Some(Rejection::ContentMismatch { .. })));
    assert!(out.len() < body.len());
}

/// A raw body is released up to its last byte until it ends, in any chunking; a check that
/// fails only at the end (an SVG never closed) leaves the upstream without that byte.
#[tokio::test]
async fn a_raw_body_keeps_its_last_byte_until_every_check_passed() {
    let mut data = png();
    data.extend((0..200_000).map(|i| (i % 251) as u8));
    for chunk in [1, 4096, 65_536, data.len()] {
        let mut s = UploadStream::new(policy(), &raw("image/png"));
        let out = push_all(&mut s, &data, chunk, false).await;
        assert_eq!(
            out,
            data[..data.len() - 1],
            "chunk {chunk}: all but the last byte"
        );
        let end = s.push(None, true).await.unwrap();
        assert_eq!(
            end,
            data[data.len() - 1..],
            "chunk {chunk}: the last byte at the end"
        );
        assert_counted_once(&s, &data, &data);
        assert_eq!(s.inspector().files()[0].field, crate::inspect::RAW_FIELD);
    }
    let open_svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\">{}",
        "<g/>".repeat(30_000)
    );
    let mut s = UploadStream::new(policy(), &raw("image/svg+xml"));
    let out = push_all(&mut s, open_svg.as_bytes(), 8192, false).await;
    assert_eq!(out.len(), open_svg.len() - 1);
    assert!(
        s.push(None, true).await.is_err(),
        "an unclosed SVG is refused"
    );
}

#[tokio::test]
async fn a_raw_body_is_judged_by_its_declared_type() {
    let mut s = UploadStream::new(policy(), &raw("image/gif"));
    let err = s.push(Some(Bytes::from(png())), true).await.unwrap_err();
    assert_eq!(err.code(), "content_mismatch");
    let mut s = UploadStream::new(policy(), &raw("image/png"));
    let err = s.push(None, true).await.unwrap_err();
    assert_eq!(err.code(), "validation_error", "an empty body: {err:?}");
}

#[tokio::test]
async fn a_resumable_file_continues_across_requests_and_checks_bytes_sent_again() {
    let data = png();
    let len = data.len() as u64;
    let mut s = UploadStream::resumable(policy(), &raw("image/png"), Ending::Length(len));
    // The first request ends mid-file: everything it carried goes.
    let first = push_all(&mut s, &data[..300], 100, true).await;
    assert_eq!(first, &data[..300]);
    // A cut: the upstream kept 200 bytes; the client sends again from there.
    assert!(s.resume(200));
    let mut changed = data[200..].to_vec();
    changed[50] ^= 1;
    let mut again = UploadStream::resumable(policy(), &raw("image/png"), Ending::Length(len));
    push_all(&mut again, &data[..300], 300, true).await;
    assert!(again.resume(200));
    let refused = again
        .push(Some(Bytes::copy_from_slice(&changed)), true)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "upload_gone", "different bytes sent again");
    // The same bytes: forwarded, not inspected twice; the final byte waits for the end.
    let mut out = s
        .push(Some(Bytes::copy_from_slice(&data[200..])), false)
        .await
        .unwrap()
        .to_vec();
    assert_eq!(out.len() as u64, len - 200 - 1, "the final byte is held");
    out.extend_from_slice(&s.push(None, true).await.unwrap());
    assert_eq!(out, &data[200..]);
    assert_eq!(s.total(), len, "every byte inspected once");
    assert!(!s.resume(len + 1), "not past what was inspected");
}

#[tokio::test]
async fn a_resumable_file_refused_late_never_releases_its_final_byte() {
    let mut data = png();
    data.extend_from_slice(b"trailing bytes after IEND");
    let len = data.len() as u64;
    let strict: UploadFile = toml::from_str(
        "body = \"raw\"\nallowed_types = [\"image/*\"]\n[structure]\nend_marker = true",
    )
    .unwrap();
    let strict = Arc::new(UploadPolicy::from_config(&strict, "t").unwrap());
    let mut s = UploadStream::resumable(strict, &raw("image/png"), Ending::Length(len));
    let mut out = push_all(&mut s, &data[..100], 100, true).await;
    assert!(s.resume(100));
    let r = s
        .push(Some(Bytes::copy_from_slice(&data[100..])), true)
        .await;
    if let Ok(b) = &r {
        out.extend_from_slice(b);
    }
    assert_eq!(r.unwrap_err().code(), "invalid_file");
    assert!((out.len() as u64) < len);
}
