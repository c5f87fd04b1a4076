//! The binary as operators run it: `POST /reload` during a 100 MB upload, API keys re-read on
//! a timer, a graceful upgrade (`--upgrade` + SIGQUIT) under a stream of uploads, and a
//! graceful shutdown (SIGTERM) that lets the upload in flight finish.

use crate::common::*;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use upload_gateway::multipart::Form;

const ADMIN_TOKEN: &str = "admin-token-for-upgrade-tests";
const MIB: usize = 1 << 20;

struct Files {
    dir: PathBuf,
    config: PathBuf,
    keys: PathBuf,
}

fn files(name: &str) -> Files {
    let dir = std::env::temp_dir().join(format!("ugw-ops-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("admin.token"), ADMIN_TOKEN).unwrap();
    Files {
        config: dir.join("gw.toml"),
        keys: dir.join("keys.toml"),
        dir,
    }
}

/// A live API key with media:write and its keys-file entry.
fn key(label: &str) -> (String, String) {
    upload_gateway::auth::keys::generate("so_live_", label, Some("t1"), &["media:write".into()])
}

struct Ports {
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
}

/// Uploads of images up to 10 MB and videos up to `video_mb`, with API keys from keys.toml.
fn config(p: &Ports, f: &Files, video_mb: u64, extra_server: &str) -> String {
    format!(
        r#"[server]
grace_period_seconds = 1
upgrade_sock = "{sock}"
{extra_server}
[[listeners]]
address = "{listen}"
[admin]
address = "{admin}"
token_file = "admin.token"
[auth]
api_keys_file = "keys.toml"
[upstreams.media]
address = "{upstream}"
[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "media"
scopes = ["media:write"]
[routes.upload]
allowed_types = ["image/*", "video/*"]
[routes.upload.max_bytes]
image = 10485760
video = {video}
"#,
        sock = f.dir.join("upgrade.sock").display(),
        listen = p.listen,
        admin = p.admin,
        upstream = p.upstream,
        video = video_mb * MIB as u64,
    )
}

fn ports(upstream: &RecordingUpstream) -> Ports {
    let addr = |_| format!("127.0.0.1:{}", free_port()).parse().unwrap();
    Ports {
        listen: addr(()),
        admin: addr(()),
        upstream: upstream.addr,
    }
}

fn spawn(config: &Path, upgrade: bool) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upload-gateway"));
    cmd.args(["run", "-c", config.to_str().unwrap()]);
    if upgrade {
        cmd.arg("--upgrade");
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.spawn().unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn png_upload(addr: SocketAddr, key: &str) -> Response {
    Request::new(addr)
        .header("Authorization", &format!("Bearer {key}"))
        .form(Form::new("p").file("file", "p.png", "image/png", &fixture("media/photo.png")))
}

fn reload(admin: SocketAddr, token: &str) -> Response {
    Request::new(admin)
        .method("POST")
        .path("/reload")
        .header("Authorization", &format!("Bearer {token}"))
        .body(b"")
}

/// Starts a `size`-byte MP4 upload written in 1 MiB steps `pause` apart; returns the thread
/// that reads its response, and the multipart body's SHA-256.
fn slow_video(
    addr: SocketAddr,
    key: &str,
    size: usize,
    pause: Duration,
) -> (std::thread::JoinHandle<Response>, String) {
    let mut video = fixture("media/clip.mp4");
    video.resize(size, 0);
    let form = Form::new("slow");
    let mut body = form.open_file("file", "v.mp4", "video/mp4");
    body.extend_from_slice(&video);
    body.extend_from_slice(&form.tail_after_content());
    let sha = sha256_hex(&body);
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\n\r\n",
        form.content_type(),
        body.len()
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let reader = s.try_clone().unwrap();
    let handle = std::thread::spawn(move || {
        for chunk in body.chunks(MIB) {
            // A refusal may close the connection before the body is sent: read the answer.
            if s.write_all(chunk).is_err() {
                break;
            }
            std::thread::sleep(pause);
        }
        client::read_response(&mut BufReader::new(reader), false)
    });
    (handle, sha)
}

#[test]
fn admin_reload_during_a_100_mb_upload_keeps_it_and_switches_limits_and_keys() {
    let upstream = RecordingUpstream::start();
    let (p, f) = (ports(&upstream), files("reload"));
    let (old_key, old_entry) = key("old");
    let (new_key, new_entry) = key("new");
    std::fs::write(&f.keys, &old_entry).unwrap();
    std::fs::write(&f.config, config(&p, &f, 200, "")).unwrap();
    let mut gw = spawn(&f.config, false);
    wait_until_listening(p.listen);
    wait_until_listening(p.admin);

    // 100 MiB over about 2.5 s; the reload lands in the middle.
    let (upload, sha) = slow_video(p.listen, &old_key, 100 * MIB, Duration::from_millis(25));
    std::thread::sleep(Duration::from_millis(800));
    std::fs::write(&f.config, config(&p, &f, 50, "")).unwrap();
    std::fs::write(&f.keys, &new_entry).unwrap();
    assert_eq!(reload(p.admin, "wrong-token-wrong-token").status, 401);
    let r = reload(p.admin, ADMIN_TOKEN);
    assert_eq!(
        (r.status, &r.json()["reloaded"]),
        (200, &serde_json::json!(true))
    );

    let done = upload.join().unwrap();
    assert_eq!(done.status, 201, "{:?}", done.json());
    let got = upstream.wait_for(1);
    assert!(got[0].complete);
    assert_eq!(got[0].sha256, sha);

    // After the reload: the old key is gone, the new one works, the video limit is 50 MiB.
    png_upload(p.listen, &old_key).assert_error(401, "unauthorized");
    assert_eq!(png_upload(p.listen, &new_key).status, 201);
    let (big, _) = slow_video(p.listen, &new_key, 60 * MIB, Duration::ZERO);
    big.join().unwrap().assert_error(413, "too_large");

    // A broken config is refused with its errors; the running one keeps serving.
    let broken = config(&p, &f, 50, "").replace(&p.listen.to_string(), "nope");
    std::fs::write(&f.config, broken).unwrap();
    let r = reload(p.admin, ADMIN_TOKEN);
    assert_eq!(r.status, 422);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("listeners[0].address"), "{message}");
    assert_eq!(png_upload(p.listen, &new_key).status, 201);
    let _ = gw.kill();
    let _ = gw.wait();
}

#[test]
fn api_keys_are_re_read_on_a_timer() {
    let upstream = RecordingUpstream::start();
    let (p, f) = (ports(&upstream), files("timer"));
    let (first, first_entry) = key("first");
    let (second, second_entry) = key("second");
    std::fs::write(&f.keys, &first_entry).unwrap();
    let text = config(&p, &f, 200, "reload_interval_seconds = 1");
    std::fs::write(&f.config, text).unwrap();
    let mut gw = spawn(&f.config, false);
    wait_until_listening(p.listen);
    png_upload(p.listen, &second).assert_error(401, "unauthorized");
    std::fs::write(&f.keys, format!("{first_entry}\n{second_entry}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while png_upload(p.listen, &second).status != 201 {
        assert!(Instant::now() < deadline, "the new key was never read");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(png_upload(p.listen, &first).status, 201);
    let _ = gw.kill();
    let _ = gw.wait();
}

#[test]
fn a_graceful_upgrade_under_a_stream_of_uploads_loses_none_and_sigterm_drains() {
    let upstream = RecordingUpstream::start();
    let (p, f) = (ports(&upstream), files("upgrade"));
    let (k, entry) = key("up");
    std::fs::write(&f.keys, &entry).unwrap();
    std::fs::write(&f.config, config(&p, &f, 200, "")).unwrap();
    let mut old = spawn(&f.config, false);
    wait_until_listening(p.listen);

    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (stop, k) = (stop.clone(), k.clone());
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = std::panic::catch_unwind(|| png_upload(p.listen, &k).status);
                statuses.push(r.unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            statuses
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let mut new = spawn(&f.config, true);
    // The new process waits on the upgrade socket; SIGQUIT makes the old one hand over.
    std::thread::sleep(Duration::from_millis(500));
    signal(&old, "-QUIT");
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the old gateway never exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(new.try_wait().unwrap().is_none(), "the new gateway died");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let statuses = client.join().unwrap();
    let failed = statuses.iter().filter(|s| **s != 201).count();
    assert!(statuses.len() > 50, "too few uploads: {}", statuses.len());
    assert_eq!(failed, 0, "{failed} of {} uploads failed", statuses.len());
    let received = upstream.received();
    assert_eq!(received.len(), statuses.len());
    assert!(received.iter().all(|r| r.complete));

    // SIGTERM: the upload in flight finishes inside the grace period, then the process exits.
    let (upload, sha) = slow_video(p.listen, &k, 20 * MIB, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(100));
    signal(&new, "-TERM");
    let done = upload.join().unwrap();
    assert_eq!(done.status, 201);
    assert_eq!(
        upstream.wait_for(statuses.len() + 1).last().unwrap().sha256,
        sha
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = new.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "SIGTERM never ended the gateway");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = old.wait();
}
