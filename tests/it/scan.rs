//! Malware scanning through the gateway. A scripted fake clamd speaking the INSTREAM protocol
//! covers the verdicts and the faults (down, slow, garbage, over the size cap) quickly; a real
//! clamd (Debian's clamav-daemon, started on its own tiny signature database — no download)
//! refuses the EICAR test string and passes the corpus. Both sides are asserted: the client's
//! answer, and that the upstream never holds a complete body of a refused file.

use crate::common::clamd::{EICAR, Mode, fake_clamd, fake_clamd_unix};
use crate::common::*;
use std::time::Duration;
use upload_gateway::multipart::Form;

fn config(clamd: &str, extra: &str) -> String {
    config_with(clamd, 1000, extra)
}

fn config_with(clamd: &str, timeout_ms: u64, extra: &str) -> String {
    crate::common::with_scan(clamd, timeout_ms, extra)
}

fn png_with_eicar(pad: usize) -> Vec<u8> {
    let mut bytes = fixture("media/photo.png");
    bytes.extend(std::iter::repeat_n(0u8, pad));
    bytes.extend_from_slice(EICAR);
    bytes
}

fn send(gw: &TestGateway, bytes: &[u8]) -> Response {
    let form = Form::new("scan-boundary").file("file", "photo.png", "image/png", bytes);
    gw.request().path("/media").form(form)
}

#[test]
fn verdicts_from_a_scripted_clamd() {
    let (clamd, streams) = fake_clamd(Mode::Answer);
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(&clamd, ""), up.addr);

    let png = fixture("media/photo.png");
    let r = send(&gw, &png);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        streams.lock().unwrap().as_slice(),
        [sha256_hex(&png)],
        "clamd got the file"
    );
    assert!(up.wait_for(1)[0].complete);

    // Infected, small (decided in the window) and large (streamed: the upstream got most of it).
    for pad in [0, 3 * 1024 * 1024] {
        up.requests.lock().unwrap().clear();
        let r = send(&gw, &png_with_eicar(pad));
        r.assert_error(422, "malware_detected");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("Eicar"),
            "signature not shown"
        );
        up.assert_no_complete_body();
        if pad > 0 {
            let got = up.wait_for(1);
            assert!(
                got[0].body_len > 1024 * 1024,
                "the file streamed while scanned"
            );
            assert!(
                got[0].body_len < (png.len() + pad) as u64,
                "its last bytes were held back: {}",
                got[0].body_len
            );
        }
    }
    let count = |result: &str| {
        prometheus::gather()
            .iter()
            .filter(|f| f.name() == "upload_gateway_scans_total")
            .flat_map(|f| f.get_metric().iter())
            .filter(|m| m.get_label().iter().any(|l| l.value() == result))
            .map(|m| m.get_counter().get_value())
            .sum::<f64>()
    };
    assert!(
        count("infected") >= 2.0 && count("clean") >= 1.0,
        "scans are counted"
    );
}

#[test]
fn clamd_on_a_unix_socket() {
    let (clamd, streams) = fake_clamd_unix(Mode::Answer);
    assert!(clamd.starts_with("unix:/"));
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config(&clamd, ""), up.addr);
    let png = fixture("media/photo.png");
    assert_eq!(send(&gw, &png).status, 201);
    send(&gw, &png_with_eicar(0)).assert_error(422, "malware_detected");
    assert_eq!(streams.lock().unwrap().len(), 2);
}

#[test]
fn clamd_faults_fail_closed_or_open_as_configured() {
    let up = RecordingUpstream::start();
    let png = fixture("media/photo.png");
    let down = format!("127.0.0.1:{}", free_port());
    let (slow, _) = fake_clamd(Mode::Slow);
    let (garbage, _) = fake_clamd(Mode::Garbage);
    for clamd in [&down, &slow, &garbage] {
        let closed = TestGateway::start_with(&config(clamd, ""), up.addr);
        send(&closed, &png).assert_error(503, "scan_unavailable");
        let open = TestGateway::start_with(&config(clamd, "on_error = \"allow\"\n"), up.addr);
        assert_eq!(send(&open, &png).status, 201, "fail-open with {clamd}");
    }
    // Over the per-scan cap: the route decides.
    let (clamd, _) = fake_clamd(Mode::Answer);
    let capped = TestGateway::start_with(&config(&clamd, "max_bytes = 4096\n"), up.addr);
    send(&capped, &png).assert_error(413, "too_large");
    let lenient = "max_bytes = 4096\nover_limit = \"allow\"\n";
    let gw = TestGateway::start_with(&config(&clamd, lenient), up.addr);
    assert_eq!(send(&gw, &png).status, 201);
}

/// A real clamd on its own database: an `.ndb` body signature of the EICAR string.
struct Clamd {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn real_clamd() -> (Clamd, String) {
    let dir = std::env::temp_dir().join(format!("ugw-clamd-{}", free_port()));
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("test.ndb"),
        format!("Eicar-Body-Test:0:*:{}\n", hex::encode(EICAR)),
    )
    .unwrap();
    let port = free_port();
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {}\n\
             LogFile {}\nStreamMaxLength 50M\n",
            db.display(),
            dir.join("clamd.log").display()
        ),
    )
    .unwrap();
    let clamd = ["/usr/sbin/clamd", "clamd"]
        .into_iter()
        .find(|p| {
            std::process::Command::new(p)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("clamd must be installed (scripts/prereqs.sh installs clamav-daemon)");
    let child = std::process::Command::new(clamd)
        .arg(format!("--config-file={}", conf.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "clamd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Clamd { child, dir }, addr)
}

#[test]
fn a_real_clamd_refuses_eicar_and_passes_the_corpus() {
    let (_clamd, addr) = real_clamd();
    let up = RecordingUpstream::start();
    let gw = TestGateway::start_with(&config_with(&addr, 10_000, ""), up.addr);
    send(&gw, &png_with_eicar(0)).assert_error(422, "malware_detected");
    up.assert_no_complete_body();
    for (name, ty) in [
        ("photo.jpg", "image/jpeg"),
        ("report.pdf", "application/pdf"),
        ("clip.mp4", "video/mp4"),
    ] {
        let bytes = fixture(&format!("media/{name}"));
        let form = Form::new("b").file("file", name, ty, &bytes);
        let r = gw.request().path("/media").form(form);
        assert_eq!(
            r.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
