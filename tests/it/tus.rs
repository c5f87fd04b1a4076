//! Resumable uploads (tus 1.0) through the gateway, with real parts: @tus/server and its
//! FileStore (node) as the upstream, tus-js-client and tuspy as clients (scripts/prereqs.sh
//! installs them). Every outcome is checked in the tus server's store directory too: accepted
//! uploads arrive byte for byte, refused ones never complete there (they are terminated).

mod creation;
use crate::common::quota_support;
mod support;

use crate::common::{Response, TestGateway, fixture, sha256_hex};
use serde_json::json;
use support::*;

const PATCH_TYPE: &str = "application/offset+octet-stream";

fn endpoint(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/files")
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `POST /files` declaring `len` bytes of `filetype`; returns the answer and the upload's path.
fn create(gw: &TestGateway, token: &str, len: u64, filetype: &str) -> (Response, String) {
    let meta = format!("filename {},filetype {}", b64("f"), b64(filetype));
    let r = gw
        .request()
        .path("/files")
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", &len.to_string())
        .header("Upload-Metadata", &meta)
        .body(b"");
    let path = r
        .header("location")
        .map(|l| format!("/files/{}", l.rsplit('/').next().unwrap()))
        .unwrap_or_default();
    (r, path)
}

fn patch(gw: &TestGateway, token: &str, path: &str, offset: u64, bytes: &[u8]) -> Response {
    gw.request()
        .method("PATCH")
        .path(path)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", PATCH_TYPE)
        .header("Upload-Offset", &offset.to_string())
        .body(bytes)
}

fn call(gw: &TestGateway, token: &str, method: &str, path: &str) -> Response {
    gw.request()
        .method(method)
        .path(path)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .body(b"")
}

#[test]
fn tus_js_client_uploads_arrive_whole_with_the_files_hash() {
    let tus = TusServer::start();
    let gw = gateway(&tus, &[], "");
    let token = token("user-1", "org-a");
    // 50 MiB of MP4 in 1 MiB PATCHes.
    let video = mp4(50 << 20);
    let file = temp_file("clip.mp4", &video);
    let r = tus_js(
        &endpoint(gw.addr),
        &file,
        &token,
        "video/mp4",
        1 << 20,
        json!({}),
    );
    assert_arrived(&tus, &r, &video);
    // A PNG in 1000-byte PATCHes: its structure check follows it across requests.
    let png = fixture("media/photo.png");
    let file = temp_file("photo.png", &png);
    let r = tus_js(
        &endpoint(gw.addr),
        &file,
        &token,
        "image/png",
        1000,
        json!({}),
    );
    assert_arrived(&tus, &r, &png);
    assert!(r["requests"].as_array().unwrap().len() > 14, "{r}");
    // With the length declared only by the last PATCH (creation-defer-length).
    let r = tus_js(
        &endpoint(gw.addr),
        &file,
        &token,
        "image/png",
        4096,
        json!({"deferred": true}),
    );
    assert_arrived(&tus, &r, &png);
}

#[test]
fn refused_uploads_are_terminated_and_never_complete_upstream() {
    let tus = TusServer::start();
    let gw = gateway(&tus, &[], "");
    let token = token("user-1", "org-a");
    // An ELF declared video/mp4: refused at its first PATCH, before the upstream sees a byte
    // of it; the client does not retry; the upload is gone upstream.
    let elf = temp_file("clip.mp4", &fixture("hostile/elf-binary.bin"));
    let r = tus_js(
        &endpoint(gw.addr),
        &elf,
        &token,
        "video/mp4",
        1 << 20,
        json!({}),
    );
    assert_eq!(
        (r["ok"].as_bool(), r["status"].as_u64()),
        (Some(false), Some(415)),
        "{r}"
    );
    assert!(
        r["body"].as_str().unwrap().contains("content_mismatch"),
        "{r}"
    );
    assert_eq!(r["requests"], json!(["POST", "PATCH"]), "retried: {r}");
    let url = r["url"].as_str().unwrap().to_string();
    let path = format!("/files/{}", url.rsplit('/').next().unwrap());
    wait_for(|| tus.files().is_empty());
    let head = call(&gw, &token, "HEAD", &path);
    assert_eq!(head.status, 410);
    assert_eq!(head.header("tus-resumable"), Some("1.0.0"));
    // An SVG whose <script> starts 300 KB in, in 64 KiB PATCHes: the PATCH carrying it is
    // refused and the upload terminated before its last byte reached the store.
    let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\">".to_vec();
    while svg.len() < 300_000 {
        svg.extend_from_slice(b"<rect width=\"1\" height=\"1\"/>\n");
    }
    svg.extend_from_slice(b"<script>alert(1)</script></svg>");
    let file = temp_file("late.svg", &svg);
    let r = tus_js(
        &endpoint(gw.addr),
        &file,
        &token,
        "image/svg+xml",
        65536,
        json!({}),
    );
    assert_eq!(
        (r["ok"].as_bool(), r["status"].as_u64()),
        (Some(false), Some(415)),
        "{r}"
    );
    assert!(
        r["requests"].as_array().unwrap().len() >= 5,
        "refused only late: {r}"
    );
    wait_for(|| tus.files().is_empty());
}

#[test]
fn creation_is_refused_over_the_category_limit_or_the_quota() {
    let tus = TusServer::start();
    let gw = gateway(
        &tus,
        &[(
            "storage_bytes = 10737418240   # 10 GiB",
            "storage_bytes = 100000",
        )],
        "",
    );
    let token = token("user-1", "org-a");
    // Over the image limit (50 MiB): refused at creation, nothing created upstream.
    let (r, _) = create(&gw, &token, (50 << 20) + 1, "image/png");
    r.assert_error(413, "too_large");
    // Over what the tenant's quota has left, counting an upload in progress.
    let (r, first) = create(&gw, &token, 60_000, "image/png");
    assert_eq!(r.status, 201);
    let (r, _) = create(&gw, &token, 60_000, "image/png");
    r.assert_error(429, "quota_exceeded");
    // Another tenant's quota is its own.
    let (r, _) = create(&gw, &token_of("user-2", "org-b"), 60_000, "image/png");
    assert_eq!(r.status, 201);
    // Terminating the first upload gives its hold back.
    assert_eq!(call(&gw, &token, "DELETE", &first).status, 204);
    let (r, _) = create(&gw, &token, 60_000, "image/png");
    assert_eq!(r.status, 201);
    // A type the route does not take, and a missing filetype.
    let (r, _) = create(&gw, &token, 100, "application/x-msdownload");
    r.assert_error(415, "unsupported_media_type");
    let no_type = gw
        .request()
        .path("/files")
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "100")
        .body(b"");
    no_type.assert_error(415, "unsupported_media_type");
    // Concatenation is refused; so is another protocol version.
    let concat = gw
        .request()
        .path("/files")
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Concat", "partial")
        .header("Upload-Length", "100")
        .body(b"");
    concat.assert_error(403, "forbidden");
    let old = call(&gw, &token, "POST", "/files");
    assert_eq!(old.status, 400, "no length");
    let version = gw
        .request()
        .path("/files")
        .header("Authorization", &format!("Bearer {token}"))
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "100")
        .body(b"");
    version.assert_error(412, "unsupported_version");
    assert_eq!(version.header("tus-version"), Some("1.0.0"));
    // Two uploads exist upstream (the terminated one is gone; refusals created nothing).
    assert_eq!(tus.files().len(), 2);
}

fn token_of(sub: &str, org: &str) -> String {
    token(sub, org)
}

#[test]
fn an_upload_belongs_to_the_credential_and_tenant_that_created_it() {
    let tus = TusServer::start();
    // With GET (@tus/server serves an upload's bytes): the owner's only, like HEAD.
    let methods = "methods = [\"POST\", \"PATCH\", \"HEAD\", \"DELETE\", \"OPTIONS\"]";
    let with_get = "methods = [\"POST\", \"PATCH\", \"HEAD\", \"DELETE\", \"OPTIONS\", \"GET\"]";
    let gw = gateway(&tus, &[(methods, with_get)], "");
    let owner = token("user-1", "org-a");
    let png = fixture("media/photo.png");
    let (r, path) = create(&gw, &owner, png.len() as u64, "image/png");
    assert_eq!(r.status, 201);
    assert_eq!(patch(&gw, &owner, &path, 0, &png[..5000]).status, 204);
    for other in [
        token("user-2", "org-b"),
        token("user-2", "org-a"),
        token("user-1", "org-b"),
    ] {
        patch(&gw, &other, &path, 5000, &png[5000..]).assert_error(404, "upload_not_found");
        assert_eq!(call(&gw, &other, "HEAD", &path).status, 404);
        call(&gw, &other, "DELETE", &path).assert_error(404, "upload_not_found");
        call(&gw, &other, "GET", &path).assert_error(404, "upload_not_found");
    }
    // A wrong offset is refused by the gateway, the upstream untouched.
    patch(&gw, &owner, &path, 4000, &png[4000..]).assert_error(409, "offset_mismatch");
    let head = call(&gw, &owner, "HEAD", &path);
    assert_eq!(head.header("upload-offset"), Some("5000"));
    let done = patch(&gw, &owner, &path, 5000, &png[5000..]);
    assert_eq!(done.status, 204);
    assert_eq!(
        done.header("x-upload-sha256"),
        Some(sha256_hex(&png).as_str())
    );
    assert_eq!(done.header("x-upload-content-type"), Some("image/png"));
    let get = call(&gw, &owner, "GET", &path);
    assert_eq!((get.status, &get.body), (200, &png));
    assert_eq!(tus.files(), vec![(path[7..].to_string(), png)]);
}

#[test]
fn tuspy_uploads_a_png() {
    let tus = TusServer::start();
    let gw = gateway(&tus, &[], "");
    let png = fixture("media/photo.png");
    let file = temp_file("photo.png", &png);
    let r = tuspy(
        &endpoint(gw.addr),
        &file,
        &token("user-1", "org-a"),
        "image/png",
        4000,
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(tus.file(r["url"].as_str().unwrap()), Some(png));
    let elf = temp_file("x.png", &fixture("hostile/elf-binary.bin"));
    let r = tuspy(
        &endpoint(gw.addr),
        &elf,
        &token("user-1", "org-a"),
        "image/png",
        4000,
    );
    assert_eq!(
        (r["ok"].as_bool(), r["status"].as_u64()),
        (Some(false), Some(415)),
        "{r}"
    );
}

#[test]
fn connections_cut_mid_patch_resume_and_complete_byte_identical() {
    let tus = TusServer::start();
    let gw = gateway(&tus, &[], "");
    let relay = Relay::start(gw.addr, 3, 1_500_000);
    let video = mp4(8 << 20);
    let file = temp_file("clip.mp4", &video);
    let token = token("user-1", "org-a");
    let r = tus_js(
        &endpoint(relay.addr),
        &file,
        &token,
        "video/mp4",
        1 << 20,
        json!({}),
    );
    assert_eq!(relay.cut.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_arrived(&tus, &r, &video);
    // A PNG (structure-checked, so its inspection must continue exactly where it stopped).
    let relay = Relay::start(gw.addr, 3, 9_000);
    let png = fixture("media/photo.png");
    let file = temp_file("photo.png", &png);
    let r = tus_js(
        &endpoint(relay.addr),
        &file,
        &token,
        "image/png",
        2000,
        json!({}),
    );
    assert_arrived(&tus, &r, &png);
}

/// Two instances on one Redis, PATCHes alternating between them; then a restart mid-upload.
#[test]
fn uploads_continue_on_any_instance_and_across_a_restart_with_redis() {
    let redis = quota_support::Redis::start();
    let tus = TusServer::start();
    let store = format!("store = \"redis\"\nredis_url = \"{}\"\n", redis.url());
    let with_redis = [(
        "default_tier = \"standard\"",
        &*format!("{store}default_tier = \"standard\""),
    )];
    let a = gateway(&tus, &with_redis, "");
    let b = gateway(&tus, &with_redis, "");
    let token = token("user-1", "org-a");
    let video = mp4(3 << 20);
    let (r, path) = create(&a, &token, video.len() as u64, "video/mp4");
    assert_eq!(r.status, 201);
    let mut last = None;
    for (i, chunk) in video.chunks(256 << 10).enumerate() {
        let gw = if i % 2 == 0 { &a } else { &b };
        let r = patch(gw, &token, &path, (i * (256 << 10)) as u64, chunk);
        assert_eq!(
            r.status,
            204,
            "PATCH {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        last = Some(r);
    }
    assert_eq!(
        last.unwrap().header("x-upload-sha256"),
        Some(sha256_hex(&video).as_str())
    );
    assert_eq!(tus.file(&path), Some(video.clone()));
    // A PNG's structure check cannot follow it to an instance that did not read its start:
    // refused (lost_stream = "refuse") and terminated.
    let png = fixture("media/photo.png");
    let (_, path) = create(&a, &token, png.len() as u64, "image/png");
    assert_eq!(patch(&a, &token, &path, 0, &png[..6000]).status, 204);
    patch(&b, &token, &path, 6000, &png[6000..]).assert_error(410, "upload_gone");
    wait_for(|| tus.file(&path).is_none());
    // A restart: the first half through one gateway, the rest through a new one.
    let (_, path) = create(&a, &token, video.len() as u64, "video/mp4");
    let half = video.len() / 2;
    assert_eq!(patch(&a, &token, &path, 0, &video[..half]).status, 204);
    drop(a);
    drop(b);
    let c = gateway(&tus, &with_redis, "");
    assert_eq!(
        call(&c, &token, "HEAD", &path).header("upload-offset"),
        Some(&*half.to_string())
    );
    let done = patch(&c, &token, &path, half as u64, &video[half..]);
    assert_eq!(done.status, 204, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(
        done.header("x-upload-sha256"),
        Some(sha256_hex(&video).as_str())
    );
    assert_eq!(tus.file(&path), Some(video));
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
