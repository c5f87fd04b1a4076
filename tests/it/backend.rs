//! The reference backend behind the real gateway: upload, list with filters and paging, get,
//! download, delete; and a client killed halfway through a large upload leaves nothing.

use crate::common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use upload_gateway::backend::Backend;
use upload_gateway::multipart::Form;

struct Env {
    gw: TestGateway,
    dir: PathBuf,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env() -> Env {
    let dir = std::env::temp_dir().join(format!("ugw-backend-{}", free_port()));
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut server = pingora::server::Server::new_with_opt_and_conf(None, Default::default());
    server.bootstrap();
    server.add_service(Backend::open(&dir).unwrap().service(&addr.to_string()));
    let (stop, _t) = upload_gateway::server::spawn(server);
    wait_until_listening(addr);
    Env {
        gw: TestGateway::start(addr),
        dir,
        _stop: stop,
    }
}

fn count(dir: &Path, sub: &str) -> usize {
    std::fs::read_dir(dir.join(sub)).map_or(0, |d| d.count())
}

fn upload(e: &Env, file: &str, mime: &str, tags: &str, folder: &str) -> serde_json::Value {
    let data = fixture(&format!("media/{file}"));
    let form = Form::new("be")
        .field("tags", tags)
        .field("folder", folder)
        .file("file", file, mime, &data);
    let resp = e.gw.request().form(form);
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let v = resp.json();
    assert_eq!(v["sha256"], sha256_hex(&data), "backend and file agree");
    assert_eq!(
        resp.header("x-upload-sha256"),
        v["sha256"].as_str(),
        "gateway and backend agree"
    );
    v
}

#[test]
fn upload_list_get_download_delete() {
    let e = env();
    let png = upload(&e, "photo.png", "image/png", "cats,summer", "albums/2026");
    upload(&e, "photo.jpg", "image/jpeg", "dogs", "albums");
    upload(&e, "report.pdf", "application/pdf", "work", "docs");
    assert_eq!(png["content_type"], "image/png");
    assert_eq!(
        png["key"],
        format!("albums/2026/{}", png["id"].as_str().unwrap())
    );
    assert_eq!(png["tags"], serde_json::json!(["cats", "summer"]));
    let get = |path: &str| e.gw.request().method("GET").path(path).body(b"");
    let list = get("/media?type=image&page_size=1").json();
    assert_eq!(list["meta"]["total"], 2);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let page2 = get("/media?type=image&page_size=1&page=2").json();
    assert_ne!(page2["data"][0]["id"], list["data"][0]["id"]);
    let found = get("/media?search=summer").json();
    assert_eq!(found["meta"]["total"], 1);
    assert_eq!(found["data"][0]["id"], png["id"]);
    assert_eq!(
        get("/media?type=application/pdf").json()["meta"]["total"],
        1
    );
    let id = png["id"].as_str().unwrap();
    assert_eq!(
        get(&format!("/media/{id}")).json()["original_name"],
        "photo.png"
    );
    let content = get(&format!("/media/{id}/content"));
    assert_eq!(content.status, 200);
    assert_eq!(content.header("content-type"), Some("image/png"));
    assert_eq!(content.header("x-content-type-options"), Some("nosniff"));
    let head =
        e.gw.request()
            .method("HEAD")
            .path(&format!("/media/{id}/content"))
            .body(b"");
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("14405"))
    );
    assert_eq!(content.body, fixture("media/photo.png"));
    let del =
        e.gw.request()
            .method("DELETE")
            .path(&format!("/media/{id}"))
            .body(b"");
    assert_eq!(del.status, 204);
    assert_eq!(get(&format!("/media/{id}")).status, 404);
    assert_eq!(get("/media").json()["meta"]["total"], 2);
    assert_eq!(
        get("/media/../etc/passwd").status,
        400,
        "traversal refused by the gateway"
    );
    assert_eq!(get("/media/not-an-id/content").status, 404);
    let png_bytes = fixture("media/photo.png");
    for folder in ["../escape", "/abs", "a/../../b"] {
        let form =
            Form::new("be")
                .field("folder", folder)
                .file("file", "p.png", "image/png", &png_bytes);
        assert_eq!(e.gw.request().form(form).status, 400, "folder {folder:?}");
    }
    assert_eq!(count(&e.dir, "files"), 2);
}

#[test]
fn killed_client_leaves_no_file_and_no_record() {
    let e = env();
    let mp4 = fixture("media/clip.mp4");
    let form = Form::new("kill");
    let mut head = form.open_file("file", "big.mp4", "video/mp4");
    head.extend_from_slice(&mp4);
    let total = 200 * 1024 * 1024;
    let mut s = TcpStream::connect(e.gw.addr).unwrap();
    write!(
        s,
        "POST /media HTTP/1.1\r\nHost: t\r\nContent-Type: {}\r\nContent-Length: {total}\r\n\r\n",
        form.content_type()
    )
    .unwrap();
    s.write_all(&head).unwrap();
    let chunk = vec![7u8; 1024 * 1024];
    for _ in 0..100 {
        s.write_all(&chunk).unwrap();
    }
    // Halfway: the backend is receiving into tmp/.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&e.dir, "tmp") == 0 {
        assert!(Instant::now() < deadline, "backend never started writing");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&e.dir, "tmp") > 0 {
        assert!(
            Instant::now() < deadline,
            "the partial upload was not cleaned up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!((count(&e.dir, "files"), count(&e.dir, "meta")), (0, 0));
    assert_eq!(
        e.gw.request().method("GET").path("/media").body(b"").json()["meta"]["total"],
        0
    );
}

#[test]
fn concurrent_uploads_are_stored_separately_and_intact() {
    let e = env();
    let files = [
        "photo.png",
        "photo.jpg",
        "photo.gif",
        "report.pdf",
        "tone.mp3",
        "clip.webm",
    ];
    let types = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "application/pdf",
        "audio/mpeg",
        "video/webm",
    ];
    let results: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let e = &e;
                s.spawn(move || {
                    let (file, mime) = (files[i % files.len()], types[i % files.len()]);
                    let v = upload(e, file, mime, &format!("batch,n{i}"), "batch");
                    (
                        v["id"].as_str().unwrap().to_string(),
                        v["sha256"].as_str().unwrap().to_string(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: std::collections::HashSet<_> = results.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 24);
    assert_eq!(
        (
            count(&e.dir, "files"),
            count(&e.dir, "meta"),
            count(&e.dir, "tmp")
        ),
        (24, 24, 0)
    );
    for (i, (id, sha)) in results.iter().enumerate() {
        let bytes = std::fs::read(e.dir.join("files").join(id)).unwrap();
        assert_eq!(&sha256_hex(&bytes), sha);
        assert_eq!(bytes, fixture(&format!("media/{}", files[i % files.len()])));
    }
    let listed =
        e.gw.request()
            .method("GET")
            .path("/media?search=batch&page_size=100")
            .body(b"")
            .json();
    assert_eq!(listed["meta"]["total"], 24);
}
