//! tus creation requests that carry more than a declaration: creation-with-upload, and the
//! browser's preflight and exposed headers.

use super::*;

/// creation-with-upload: the first bytes ride on the POST. An ELF is refused in the sniff
/// window — the tus server is never contacted and the hold is released.
#[test]
fn creation_with_upload_is_inspected_like_a_first_patch() {
    let tus = TusServer::start();
    let gw = gateway(
        &tus,
        &[(
            "storage_bytes = 10737418240   # 10 GiB",
            "storage_bytes = 20000",
        )],
        "",
    );
    let token = token("user-1", "org-a");
    let png = fixture("media/photo.png");
    let post = |data: &[u8], len: usize, filetype: &str| {
        gw.request()
            .path("/files")
            .header("Authorization", &format!("Bearer {token}"))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", &len.to_string())
            .header("Upload-Metadata", &format!("filetype {}", b64(filetype)))
            .header("Content-Type", PATCH_TYPE)
            .body(data)
    };
    let elf = fixture("hostile/elf-binary.bin");
    post(&elf, elf.len(), "image/png").assert_error(415, "content_mismatch");
    assert!(tus.files().is_empty(), "the tus server was contacted");
    // The hold was released: a whole PNG (14 KB of 20 KB) still fits, in one request.
    let r = post(&png, png.len(), "image/png");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("upload-offset"), Some(&*png.len().to_string()));
    assert_eq!(r.header("x-upload-sha256"), Some(sha256_hex(&png).as_str()));
    assert_eq!(tus.files().len(), 1);
    assert_eq!(tus.files()[0].1, png);
    // Its size is committed: another one does not fit.
    let (r, _) = create(&gw, &token, png.len() as u64, "image/png");
    r.assert_error(429, "quota_exceeded");
    // Part of a file at creation, the rest by PATCH.
    let gw2 = gateway(&tus, &[], "");
    let r = gw2
        .request()
        .path("/files")
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", &png.len().to_string())
        .header("Upload-Metadata", &format!("filetype {}", b64("image/png")))
        .header("Content-Type", PATCH_TYPE)
        .body(&png[..3000]);
    assert_eq!(r.status, 201);
    let path = format!(
        "/files/{}",
        r.header("location").unwrap().rsplit('/').next().unwrap()
    );
    let done = patch(&gw2, &token, &path, 3000, &png[3000..]);
    assert_eq!(done.status, 204);
    assert_eq!(
        done.header("x-upload-sha256"),
        Some(sha256_hex(&png).as_str())
    );
    assert_eq!(tus.file(&path), Some(png));
}

/// Browsers: the preflight allows tus's request headers, answers expose its response headers.
#[test]
fn browser_clients_may_send_and_read_tus_headers() {
    let tus = TusServer::start();
    let gw = gateway(&tus, &[], "");
    let origin = "https://app.example.com";
    let pre = gw
        .request()
        .method("OPTIONS")
        .path("/files")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,tus-resumable,upload-length,upload-metadata,upload-offset",
        )
        .body(b"");
    assert_eq!(pre.status, 204, "{}", String::from_utf8_lossy(&pre.body));
    let allowed = pre
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "tus-resumable",
        "upload-length",
        "upload-metadata",
        "upload-offset",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    let token = token("user-1", "org-a");
    let r = gw
        .request()
        .path("/files")
        .header("Origin", origin)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .header("Upload-Metadata", &format!("filetype {}", b64("image/png")))
        .body(b"");
    assert_eq!(r.status, 201);
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "location",
        "upload-offset",
        "tus-resumable",
        "x-upload-sha256",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
}
