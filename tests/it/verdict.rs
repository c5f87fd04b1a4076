//! The signed verdict end to end: the gateway appends it to an accepted upload (the body goes
//! upstream chunked); it verifies with `upload_gateway::verdict::check_body`, with
//! `upload-gateway verify` and with the README's Python snippet, exactly as written there; a
//! tampered file or verdict fails all of them; clients cannot send the verdict's fields; and the
//! reference backend with `--verdict-key-file` verifies it and stores dimensions and scan status.

use crate::common::clamd::{Mode, fake_clamd};
use crate::common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use upload_gateway::multipart::{Event, Form, Parser, boundary_from_content_type};
use upload_gateway::verdict::{Expect, check_body};

const FIELD: &str = "upload_gateway_verdict";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key_dir() -> (Dir, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("ugw-verdict-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = b"verdict-key-for-tests-0123456789abcdef".to_vec();
    std::fs::write(dir.join("verdict.key"), [&key[..], b"\n"].concat()).unwrap();
    (Dir(dir), key)
}

/// The test config with structure checks (dimensions), a scan and a verdict on `/media`.
fn config(dir: &Path, clamd: &str) -> String {
    let text = TEST_CONFIG.replace(
        "[routes.upload.fields.notes]\nmax_bytes = 200000\n",
        &format!(
            "[routes.upload.fields.notes]\nmax_bytes = 200000\n\
             [routes.upload.structure]\nmax_pixels = 100000000\n\
             [routes.upload.scan]\nclamd = \"{clamd}\"\n\
             [routes.verdict]\nkey_file = \"{}\"\n",
            dir.join("verdict.key").display()
        ),
    );
    assert!(text.contains("[routes.verdict]"), "the template changed");
    text
}

fn now() -> u64 {
    upload_gateway::backend::time::now_unix()
}

/// The parts of a multipart body: (name, bytes).
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = boundary_from_content_type(content_type.as_bytes())
        .unwrap()
        .unwrap();
    let mut p = Parser::new(&boundary, 8192);
    p.push(bytes::Bytes::copy_from_slice(body));
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(ev) = p.poll().unwrap() {
        match ev {
            Event::PartStart(h) => out.push((h.name, Vec::new())),
            Event::Data(d) => out.last_mut().unwrap().1.extend_from_slice(&d),
            _ => {}
        }
    }
    out
}

/// The README's Python verification snippet, as the README writes it.
fn readme_python() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```python\n")
        .expect("a python snippet in the README")
        + 10;
    readme[start..start + readme[start..].find("```").unwrap()].to_string()
}

fn flip(body: &[u8], at: usize) -> Vec<u8> {
    let mut b = body.to_vec();
    b[at] ^= 0x20;
    b
}

#[test]
fn the_backend_gets_a_verdict_it_can_verify() {
    let (dir, key) = key_dir();
    let (clamd, _) = fake_clamd(Mode::Answer);
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(&dir.0, &clamd), up.addr);
    let png = fixture("media/photo.png");
    let form =
        Form::new("v")
            .field("title", "holiday")
            .file("file", "photo.png", "image/png", &png);
    let r = gw.request().path("/media").form(form);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    let got = &up.wait_for(1)[0];
    assert!(got.complete);
    assert_eq!(got.header("transfer-encoding"), Some("chunked"));
    assert_eq!(got.header("content-length"), None);
    let ct = got.header("content-type").unwrap().to_string();
    let rid = got.header("x-request-id").unwrap().to_string();
    let names: Vec<String> = parts(&ct, &got.body).into_iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        ["title", "file", FIELD, "upload_gateway_verdict_signature"]
    );

    let expect = Expect {
        request_id: Some(&rid),
        max_age_secs: 300,
        now: now(),
    };
    let v = check_body(&key, FIELD, &ct, &got.body, &expect).unwrap();
    let f = &v["files"][0];
    assert_eq!(f["sha256"], sha256_hex(&png));
    assert_eq!(
        (f["width"].as_u64(), f["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(
        (f["scan"].as_str(), f["content_type"].as_str()),
        (Some("clean"), Some("image/png"))
    );
    assert_eq!(v["request_id"], rid);

    let in_file = got
        .body
        .windows(png.len())
        .position(|w| w == png.as_slice())
        .unwrap()
        + 100;
    let in_verdict = got
        .body
        .windows(9)
        .position(|w| w == b"\"version\"")
        .unwrap()
        + 2;
    for tampered in [flip(&got.body, in_file), flip(&got.body, in_verdict)] {
        assert!(check_body(&key, FIELD, &ct, &tampered, &expect).is_err());
    }

    // upload-gateway verify, on the body as received and tampered.
    let bin = env!("CARGO_BIN_EXE_upload-gateway");
    let verify = |body: &[u8]| {
        let path = dir.0.join("body.bin");
        std::fs::write(&path, body).unwrap();
        std::process::Command::new(bin)
            .args(["verify", "--key-file"])
            .arg(dir.0.join("verdict.key"))
            .args(["--content-type", &ct, "--request-id", &rid])
            .arg(&path)
            .output()
            .unwrap()
    };
    let ok = verify(&got.body);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&sha256_hex(&png)));
    let bad = verify(&flip(&got.body, in_file));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("verdict refused"));

    // The README's Python snippet, exactly as written there.
    let split = parts(&ct, &got.body);
    let value = |name: &str| split.iter().find(|p| p.0 == name).unwrap().1.clone();
    let py = dir.0.join("verify.py");
    let driver = "\nimport sys\nargs = [open(p, 'rb').read() for p in sys.argv[1:5]]\n\
                  v = verify_upload(args[0].strip(), args[1], args[2].decode(), sys.argv[5], {'file': args[3]})\n\
                  print(v['files'][0]['sha256'])\n";
    std::fs::write(&py, readme_python() + driver).unwrap();
    let python = |file: &[u8], verdict: &[u8]| {
        for (name, data) in [
            ("v.json", verdict),
            ("sig", &value("upload_gateway_verdict_signature")[..]),
            ("file", file),
        ] {
            std::fs::write(dir.0.join(name), data).unwrap();
        }
        crate::common::tool("python3")
            .arg(&py)
            .arg(dir.0.join("verdict.key"))
            .args([dir.0.join("v.json"), dir.0.join("sig"), dir.0.join("file")])
            .arg(&rid)
            .output()
            .unwrap()
    };
    let ok = python(&value("file"), &value(FIELD));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), sha256_hex(&png));
    assert!(!python(&flip(&png, 100), &value(FIELD)).status.success());
    assert!(!python(&png, &flip(&value(FIELD), 3)).status.success());
}

#[test]
fn clients_cannot_send_the_verdict_fields() {
    let (dir, _) = key_dir();
    let (clamd, _) = fake_clamd(Mode::Answer);
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(&dir.0, &clamd), up.addr);
    let png = fixture("media/photo.png");
    for name in [FIELD, "upload_gateway_verdict_signature"] {
        let form = Form::new("v")
            .file("file", "photo.png", "image/png", &png)
            .field(name, "{}");
        let r = gw.request().path("/media").form(form);
        r.assert_error(422, "validation_error");
    }
    up.assert_no_complete_body();
}

#[test]
fn the_reference_backend_verifies_and_stores_what_the_verdict_says() {
    let (dir, key) = key_dir();
    let (clamd, _) = fake_clamd(Mode::Answer);
    let data = dir.0.join("data");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut server = pingora::server::Server::new_with_opt_and_conf(None, Default::default());
    server.bootstrap();
    let backend = upload_gateway::backend::Backend::open(&data)
        .unwrap()
        .with_verdict_key(Some(key));
    server.add_service(backend.service(&addr.to_string()));
    let (_stop, _t) = upload_gateway::server::spawn(server);
    wait_until_listening(addr);
    let gw = TestGateway::start_with(&config(&dir.0, &clamd), addr);

    let png = fixture("media/photo.png");
    let form = Form::new("b").file("file", "photo.png", "image/png", &png);
    let r = gw.request().path("/media").form(form);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(v["abuse_status"], "clean");
    assert_eq!(v["sha256"], sha256_hex(&png));

    // Straight to the backend, without the gateway: no verdict, no upload.
    let form = Form::new("b").file("file", "photo.png", "image/png", &png);
    let direct = Request::new(addr).path("/media").form(form);
    assert_eq!(
        direct.status,
        400,
        "{}",
        String::from_utf8_lossy(&direct.body)
    );
}
