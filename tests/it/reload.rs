//! Reloads: a new configuration applies to requests that start after it, an upload in flight
//! finishes under the one it started with, an invalid file keeps the running configuration, and
//! the binary reloads on SIGHUP instead of dying.

use crate::common::*;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use upload_gateway::config::Config;
use upload_gateway::multipart::Form;
use upload_gateway::reload::{Live, Reloader};

fn config_text(listen: SocketAddr, upstream: SocketAddr, allowed: &str) -> String {
    format!(
        "[[listeners]]\naddress = \"{listen}\"\n[upstreams.media]\naddress = \"{upstream}\"\n\
         [[routes]]\nname = \"upload\"\npath = \"/media\"\nmethods = [\"POST\"]\nupstream = \"media\"\n\
         [routes.upload]\nallowed_types = [\"{allowed}\"]\n"
    )
}

fn load(path: &Path) -> Result<Config, String> {
    let mut c = Config::load(path).map_err(|e| e.to_string())?;
    // As in tests/it/common: in-process servers steal work (docs/ARCHITECTURE.md).
    c.server.work_stealing = true;
    Ok(c)
}

fn png_upload(addr: SocketAddr) -> Response {
    Request::new(addr).form(Form::new("r").file(
        "file",
        "p.png",
        "image/png",
        &fixture("media/photo.png"),
    ))
}

fn temp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ugw-reload-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_reload_applies_to_new_requests_only_and_an_invalid_one_changes_nothing() {
    let upstream = RecordingUpstream::start();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let path = temp("gw.toml");
    std::fs::write(&path, config_text(listen, upstream.addr, "image/*")).unwrap();
    let live = Live::start(Arc::new(load(&path).unwrap())).unwrap();
    let p = path.clone();
    let reloader = Reloader::new(live.clone(), move || load(&p));
    let (_stop, _t) = upload_gateway::server::spawn(
        upload_gateway::server::build_live(live, None, false).unwrap(),
    );
    wait_until_listening(listen);
    assert_eq!(png_upload(listen).status, 201);

    // An upload in flight across the reload keeps the policy it started with.
    let png = fixture("media/photo.png");
    let form = Form::new("fly");
    let mut body = form.open_file("file", "p.png", "image/png");
    body.extend_from_slice(&png);
    body.extend_from_slice(&form.tail_after_content());
    let mut s = TcpStream::connect(listen).unwrap();
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: t\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        form.content_type(),
        body.len()
    );
    // Only the head: the route and its policy are chosen, the type is decided after the reload.
    s.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    std::fs::write(&path, config_text(listen, upstream.addr, "video/*")).unwrap();
    assert_eq!(reloader.reload().unwrap(), Vec::<&str>::new());
    s.write_all(&body).unwrap();
    let in_flight = client::read_response(&mut BufReader::new(s), false);
    assert_eq!(
        in_flight.status,
        201,
        "{}",
        String::from_utf8_lossy(&in_flight.body)
    );

    png_upload(listen).assert_error(415, "unsupported_media_type");
    std::fs::write(&path, "[[listeners]]\naddress = \"nope\"\n").unwrap();
    assert!(reloader.reload().is_err());
    png_upload(listen).assert_error(415, "unsupported_media_type");
}

#[test]
fn the_binary_reloads_on_sighup_instead_of_dying() {
    let upstream = RecordingUpstream::start();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let path = temp("bin.toml");
    std::fs::write(&path, config_text(listen, upstream.addr, "image/*")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_upload-gateway"))
        .args(["run", "-c", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_listening(listen);
    assert_eq!(png_upload(listen).status, 201);
    std::fs::write(&path, config_text(listen, upstream.addr, "video/*")).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "SIGHUP killed the gateway"
        );
        if png_upload(listen).status == 415 {
            break;
        }
        assert!(Instant::now() < deadline, "the reload never took effect");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A broken file sent by SIGHUP is refused: the running policy (video only) stays.
    std::fs::write(&path, "[[listeners]]\naddress = \"nope\"\n").unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "a broken reload killed the gateway"
    );
    png_upload(listen).assert_error(415, "unsupported_media_type");
    let _ = child.kill();
    let _ = child.wait();
}

/// The W3C specification's example parent.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Runs the binary on `config`, makes one upload (in a trace) and returns everything it logged.
fn logs_of_one_upload(config: &str, listen: SocketAddr) -> String {
    let path = temp("log.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_upload-gateway"))
        .args(["run", "-c", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_listening(listen);
    let traced = Request::new(listen)
        .header("traceparent", TRACEPARENT)
        .form(Form::new("r").file(
            "file",
            "a:b,c.png",
            "image/png",
            &fixture("media/photo.png"),
        ));
    assert_eq!(traced.status, 201);
    // A client that hangs up mid-body: pingora logs that itself (through the `log` crate).
    let mut abort = TcpStream::connect(listen).unwrap();
    let form = Form::new("gone");
    let mut partial = form.open_file("file", "p.png", "image/png");
    partial.extend_from_slice(&fixture("media/photo.png"));
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: t\r\nContent-Type: {}\r\nContent-Length: 99999999\r\n\r\n",
        form.content_type()
    );
    abort.write_all(head.as_bytes()).unwrap();
    abort.write_all(&partial).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(abort);
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn access_logs_are_json_lines_or_plain_text_without_escape_codes() {
    let upstream = RecordingUpstream::start();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let base = config_text(listen, upstream.addr, "image/*");
    let json = logs_of_one_upload(&format!("[log]\nformat = \"json\"\n{base}"), listen);
    let line = json
        .lines()
        .find(|l| l.contains("request finished"))
        .unwrap_or_else(|| panic!("no access line in\n{json}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let f = &v["fields"];
    assert_eq!(
        (f["status"].as_u64(), f["code"].as_str()),
        (Some(201), Some("ok"))
    );
    assert_eq!(f["upstream_status"], 201);
    let png = fixture("media/photo.png");
    // An array of objects: a filename holding `:` or `,` cannot make the line ambiguous.
    assert_eq!(
        f["files"],
        serde_json::json!([{
            "field": "file", "filename": "a:b,c.png", "detected_type": "image/png",
            "size": png.len(), "sha256": sha256_hex(&png),
        }])
    );
    assert_eq!(v["span"]["route"], "upload");
    assert_eq!(v["span"]["request_id"].as_str().unwrap().len(), 32);
    // The client's trace is joined: logged, and the upstream's parent is the gateway's span.
    assert_eq!(v["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    // Every line is JSON, pingora's own included.
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("pingora"))),
        "no pingora line in\n{json}"
    );
    assert!(json.contains("\"code\":\"client_abort\""), "{json}");
    let sent = upstream.wait_for(1)[0]
        .header("traceparent")
        .unwrap()
        .to_string();
    let (prefix, rest) = sent.split_at(36);
    assert_eq!(prefix, "00-4bf92f3577b34da6a3ce929d0e0e4736-");
    assert!(
        rest.ends_with("-01") && !rest.starts_with("00f067aa0ba902b7"),
        "{sent}"
    );

    let listen2: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let human = logs_of_one_upload(&config_text(listen2, upstream.addr, "image/*"), listen2);
    assert!(human.contains("request finished"), "{human}");
    assert!(
        !human.contains('\u{1b}'),
        "escape codes in a log file:\n{human}"
    );
}
