//! The demo as a newcomer uses it: backend + gateway + metrics from `demo::build`, driven with
//! the printed credentials (token and API key) the way the printed curl lines do.

#[path = "it/common/mod.rs"]
mod common;

use common::*;
use std::net::SocketAddr;
use upload_gateway::demo::{self, Addresses, DEMO_API_KEY};
use upload_gateway::multipart::Form;

fn addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

#[test]
fn printed_credentials_drive_the_whole_api_and_metrics_show_it() {
    let dir = std::env::temp_dir().join(format!("ugw-demo-it-{}", free_port()));
    let at = Addresses {
        gateway: addr(),
        backend: addr(),
        admin: addr(),
    };
    let (_stop, _t) = upload_gateway::server::spawn(demo::build(&dir, &at).unwrap());
    let gw: SocketAddr = at.gateway.parse().unwrap();
    wait_until_listening(gw);
    wait_until_listening(at.admin.parse().unwrap());
    let token = format!("Bearer {}", demo::token().unwrap());
    let key = format!("Bearer {DEMO_API_KEY}");
    let req = |auth: &str| Request::new(gw).header("Authorization", auth);

    // Line 1: an accepted upload.
    let png = fixture("media/photo.png");
    let resp = req(&token).form(Form::new("demo").field("tags", "demo,png").file(
        "file",
        "photo.png",
        "image/png",
        &png,
    ));
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(
        resp.header("x-upload-sha256"),
        Some(sha256_hex(&png).as_str())
    );
    let id = resp.json()["id"].as_str().unwrap().to_string();
    // Line 2: a spoofed file refused before the backend sees it.
    let elf = fixture("hostile/elf-binary.bin");
    req(&key)
        .form(Form::new("demo").file("file", "cat.png", "image/png", &elf))
        .assert_error(415, "content_mismatch");
    // The rest of the API with the API key.
    let pdf = fixture("media/report.pdf");
    assert_eq!(
        req(&key)
            .form(Form::new("demo").file("file", "r.pdf", "application/pdf", &pdf))
            .status,
        201
    );
    let list = req(&key)
        .method("GET")
        .path("/media?type=image&page=1&page_size=10")
        .body(b"")
        .json();
    assert_eq!(
        (
            list["meta"]["total"].as_u64(),
            list["data"][0]["id"].as_str()
        ),
        (Some(1), Some(id.as_str()))
    );
    assert_eq!(list["data"][0]["tenant"], "demo-org");
    let all = req(&key)
        .method("GET")
        .path("/media?page_size=1&page=2")
        .body(b"")
        .json();
    assert_eq!(
        (
            all["meta"]["total"].as_u64(),
            all["data"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    let content = req(&token)
        .method("GET")
        .path(&format!("/media/{id}/content"))
        .body(b"");
    assert_eq!(content.body, png);
    // The printed usage line: the organisation's quotas, given back by the DELETE below.
    let usage = |auth: &str| {
        let u = req(auth).method("GET").path("/usage").body(b"").json();
        (
            u["quotas"][0]["used"].as_u64(),
            u["quotas"][1]["used"].as_u64(),
        )
    };
    let both = (png.len() + pdf.len()) as u64;
    assert_eq!(usage(&token), (Some(both), Some(2)));
    assert_eq!(
        req(&token)
            .method("DELETE")
            .path(&format!("/media/{id}"))
            .body(b"")
            .status,
        204
    );
    assert_eq!(
        req(&token)
            .method("GET")
            .path(&format!("/media/{id}"))
            .body(b"")
            .status,
        404
    );
    assert_eq!(usage(&key), (Some(pdf.len() as u64), Some(1)));
    // Ready: the backend accepts connections and the quota store answers.
    let ready = Request::new(at.admin.parse().unwrap())
        .method("GET")
        .path("/readyz")
        .body(b"");
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    assert_eq!(ready.json()["checks"]["quota_store"], true);
    // Line 3: the metrics URL shows the traffic.
    let metrics = Request::new(at.admin.parse().unwrap())
        .method("GET")
        .path("/metrics")
        .body(b"");
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "upload_gateway_requests_total{code=\"ok\",method=\"POST\",route=\"media-upload\",status=\"201\"} 2",
        "upload_gateway_requests_total{code=\"content_mismatch\",method=\"POST\",route=\"media-upload\",status=\"415\"} 1",
        "upload_gateway_requests_total{code=\"ok\",method=\"DELETE\",route=\"media-delete\",status=\"204\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    every_printed_curl_line_works_as_printed(&at, &dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// Every curl line the demo prints, run by a shell exactly as printed (with `TOKEN` and
/// `API_KEY` exported as the demo says). Run after the exact metric counts above were checked
/// (the metrics are the process's own).
fn every_printed_curl_line_works_as_printed(at: &Addresses, dir: &std::path::Path) {
    let token = demo::token().unwrap();
    let printed = demo::instructions(at, &token, dir);
    let lines: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("curl "))
        .collect();
    let expected: [&[&str]; 5] = [
        &["http/1.1 201", "x-upload-sha256:"],
        &["http/1.1 415", "content_mismatch"],
        &[
            "http/1.1 201",
            "x-upload-content-type: image/jpeg",
            "\"original_name\":\"photo.jpg\"",
        ],
        &["\"quotas\"", "\"used\":"],
        &[
            "upload_gateway_requests_total{code=\"ok\",method=\"put\",route=\"media-raw-upload\",status=\"201\"} 1",
        ],
    ];
    assert_eq!(lines.len(), expected.len(), "{printed}");
    for (line, wants) in lines.iter().zip(expected) {
        let out = std::process::Command::new("sh")
            .args(["-c", line])
            .env("TOKEN", &token)
            .env("API_KEY", DEMO_API_KEY)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        for want in wants {
            assert!(
                text.contains(want),
                "{line}\nprinted:\n{text}\nmissing {want}"
            );
        }
    }
}
