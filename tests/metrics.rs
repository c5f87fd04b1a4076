//! A scripted mix of accepted uploads and refusals in each phase, then a real scrape of the
//! admin listener: the counts equal the mix exactly, header-phase refusals read 0 body bytes,
//! and `promtool check metrics` finds nothing to complain about. (Its own test binary: the
//! metric registry is process-wide.)

#[path = "it/common/mod.rs"]
mod common;

use common::{RecordingUpstream, Request, TEST_CONFIG, TestGateway, fixture, free_port};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use upload_gateway::multipart::Form;

/// promtool from PATH or where scripts/prereqs.sh puts it.
fn promtool() -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/promtool");
    if local.exists() {
        return local;
    }
    let on_path = Command::new("promtool").arg("--version").output();
    assert!(
        on_path.is_ok_and(|o| o.status.success()),
        "promtool not found: run scripts/prereqs.sh (it extracts it into target/tools/)"
    );
    PathBuf::from("promtool")
}

fn scrape(admin: SocketAddr) -> String {
    let r = Request::new(admin).method("GET").path("/metrics").body(b"");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} missing in\n{metrics}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_a_scripted_mix_exactly_and_pass_promtool() {
    let upstream = RecordingUpstream::start();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!("{TEST_CONFIG}\n[admin]\naddress = \"{admin}\"\n");
    let gw = TestGateway::start_with(&config, upstream.addr);
    common::wait_until_listening(admin);
    let post = |form: Form| gw.request().path("/media").form(form);

    // Accepted: two images and an audio file.
    for (name, ct) in [
        ("photo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("tone.mp3", "audio/mpeg"),
    ] {
        let form = Form::new("mix").file("file", name, ct, &fixture(&format!("media/{name}")));
        assert_eq!(post(form).status, 201);
    }
    // Header phase: not multipart; no route.
    gw.request()
        .path("/media")
        .header("Content-Type", "text/plain")
        .body(b"hello")
        .assert_error(415, "unsupported_media_type");
    gw.request()
        .method("GET")
        .path("/nowhere")
        .body(b"")
        .assert_error(404, "not_found");
    // Window phase: a PDF declared as a PNG.
    let pdf = fixture("media/report.pdf");
    post(Form::new("mix").file("file", "a.png", "image/png", &pdf))
        .assert_error(415, "content_mismatch");
    // Stream phase: the spoof starts after 100 KB of a text field.
    let form = Form::new("mix").field("notes", &"n".repeat(100_000)).file(
        "file",
        "b.png",
        "image/png",
        &pdf,
    );
    post(form).assert_error(415, "content_mismatch");

    // A request is counted as it finishes, just after its answer: wait for all seven.
    let counted = |m: &str| -> f64 {
        m.lines()
            .filter(|l| l.starts_with("upload_gateway_requests_total{"))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
            .sum()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while counted(&scrape(admin)) < 7.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let m = scrape(admin);
    let series = |s: &str| value(&m, s);
    let req = |code: &str, method: &str, route: &str, status: u16| {
        series(&format!(
            "upload_gateway_requests_total{{code=\"{code}\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(req("ok", "POST", "media-upload", 201), 3.0);
    assert_eq!(
        req("unsupported_media_type", "POST", "media-upload", 415),
        1.0
    );
    assert_eq!(req("content_mismatch", "POST", "media-upload", 415), 2.0);
    assert_eq!(req("not_found", "GET", "-", 404), 1.0);
    let total: f64 = m
        .lines()
        .filter(|l| l.starts_with("upload_gateway_requests_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 7.0, "exactly the mix:\n{m}");

    let rejected = |code: &str, phase: &str, route: &str| {
        series(&format!(
            "upload_gateway_rejections_total{{code=\"{code}\",phase=\"{phase}\",route=\"{route}\"}}"
        ))
    };
    assert_eq!(
        rejected("unsupported_media_type", "header", "media-upload"),
        1.0
    );
    assert_eq!(rejected("not_found", "header", "-"), 1.0);
    assert_eq!(rejected("content_mismatch", "window", "media-upload"), 1.0);
    assert_eq!(rejected("content_mismatch", "stream", "media-upload"), 1.0);

    // Header-phase refusals read nothing; the window refusal at most the window.
    let bytes = |phase: &str, le: &str| {
        series(&format!(
            "upload_gateway_rejected_body_bytes_bucket{{phase=\"{phase}\",route=\"media-upload\",le=\"{le}\"}}"
        ))
    };
    assert_eq!(bytes("header", "0"), 1.0);
    assert_eq!(
        series("upload_gateway_rejected_body_bytes_sum{phase=\"header\",route=\"media-upload\"}"),
        0.0
    );
    assert_eq!(bytes("window", "0"), 0.0);
    assert_eq!(bytes("window", "65536"), 1.0);
    assert_eq!(bytes("stream", "65536"), 0.0);
    assert_eq!(bytes("stream", "1048576"), 1.0);

    let files = |cat: &str| {
        series(&format!(
            "upload_gateway_file_size_bytes_count{{category=\"{cat}\",route=\"media-upload\"}}"
        ))
    };
    assert_eq!((files("image"), files("audio")), (2.0, 1.0));
    assert_eq!(
        series(
            "upload_gateway_content_mismatches_total{declared=\"image\",detected=\"document\",route=\"media-upload\"}"
        ),
        2.0
    );
    assert_eq!(
        series("upload_gateway_uploads_in_flight{route=\"media-upload\"}"),
        0.0
    );
    // Only the accepted uploads got an upstream answer; the stream refusal reached it unfinished.
    assert_eq!(
        series(
            "upload_gateway_upstream_response_seconds_count{route=\"media-upload\",upstream=\"media\"}"
        ),
        3.0
    );
    assert!(upstream.connection_count() >= 1);
    assert_eq!(
        series(
            "upload_gateway_request_duration_seconds_count{method=\"POST\",route=\"media-upload\"}"
        ),
        6.0
    );

    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

/// Every `upload_gateway_*` family the dashboard and the rules query is one the gateway
/// registers, and promtool accepts the rules and their unit tests.
#[test]
fn dashboard_and_rules_query_metrics_that_exist_and_pass_promtool() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/metrics.rs")).unwrap();
    let declared: Vec<&str> = source
        .split('"')
        .filter(|s| s.starts_with("upload_gateway_") && !s.contains(' '))
        .collect();
    assert!(declared.len() >= 12, "{declared:?}");
    let dir = root.join("conf/monitoring");
    let dashboard = std::fs::read_to_string(dir.join("grafana-dashboard.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(json["panels"].as_array().unwrap().len() >= 8);
    let rules = std::fs::read_to_string(dir.join("upload-gateway.rules.yml")).unwrap();
    for text in [&dashboard, &rules] {
        let used = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("upload_gateway_"));
        for name in used {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| declared.contains(f))
                .unwrap_or(name);
            assert!(declared.contains(&family), "{name} is not a gateway metric");
        }
    }
    for args in [
        ["check", "rules", "upload-gateway.rules.yml"],
        ["test", "rules", "rules.test.yml"],
    ] {
        let out = Command::new(promtool())
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
