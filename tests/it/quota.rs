//! Quotas end to end with the memory store: concurrency never passes a limit, every failure
//! gives its hold back, deletes give quota back, windows count down and reset, usage endpoints.
//! (The same with Redis and two instances: tests/it/quota_redis.rs.)

use crate::common::quota_support as support;

use crate::common::*;
use std::io::Write;
use support::*;
use upload_gateway::multipart::Form;

fn memory(upstream: &RecordingUpstream, storage: u64) -> QuotaGateway {
    QuotaGateway::start(upstream.addr, "", storage)
}

#[test]
fn concurrent_uploads_never_pass_the_storage_limit() {
    let upstream = RecordingUpstream::start();
    let limit = 10 * PNG_LEN + 5000;
    let gw = memory(&upstream, limit);
    race(&[&gw], "racer", limit);
}

/// An upload declaring 500 000 bytes that sends its head, a PNG and `padding` more bytes, then
/// waits: dropping the returned stream hangs up mid-body.
fn start_aborting_upload(gw: &QuotaGateway, token: &str, padding: usize) -> std::net::TcpStream {
    let form = Form::new("abort");
    let mut s = std::net::TcpStream::connect(gw.gw.addr).unwrap();
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {}\r\nContent-Length: 500000\r\n\r\n",
        form.content_type()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&form.open_file("file", "p.png", "image/png"))
        .unwrap();
    s.write_all(&fixture("media/photo.png")).unwrap();
    s.write_all(&vec![0u8; padding]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    s
}

#[test]
fn every_failure_gives_the_hold_back() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 10_000_000);
    let t = token("unlucky", "media:write", None);
    // Upstream 500, upstream timeout (read_timeout 1 s), upstream unreachable.
    assert_eq!(gw.upload(&t, "?status=500").status, 500);
    gw.upload(&t, "?delay_ms=3000").assert_error(504, "timeout");
    let png = fixture("media/photo.png");
    gw.gw
        .request()
        .path("/dead")
        .header("Authorization", &format!("Bearer {t}"))
        .form(Form::new("d").file("file", "p.png", "image/png", &png))
        .assert_error(502, "storage_error");
    // A rejection after the hold was taken.
    gw.gw
        .request()
        .header("Authorization", &format!("Bearer {t}"))
        .form(Form::new("m").file("file", "p.gif", "image/gif", &png))
        .assert_error(415, "content_mismatch");
    // A client that hangs up mid-body.
    let s = start_aborting_upload(&gw, &t, 0);
    assert!(
        gw.used("unlucky", "storage_bytes").1 > 0,
        "the abort's hold is in place"
    );
    drop(s);
    assert_eq!(gw.wait_released("unlucky"), (0, 0));
    assert_eq!(gw.used("unlucky", "file_count"), (0, 0));
}

#[test]
fn upload_then_delete_gives_storage_and_the_file_back() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 10_000_000);
    let w = token("deleter", "media:write media:delete", None);
    let r = gw.upload(&w, "");
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    // The ledger entry is written as the response ends.
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(gw.used("deleter", "storage_bytes"), (PNG_LEN, 0));
    assert_eq!(gw.used("deleter", "file_count"), (1, 0));
    // Another tenant deleting the same id gives nothing of deleter's back.
    let other = token("someone-else", "media:delete", None);
    let d = gw
        .gw
        .request()
        .method("DELETE")
        .path(&format!("/media/{id}"))
        .header("Authorization", &format!("Bearer {other}"))
        .body(b"");
    assert_eq!(d.status, 201);
    assert_eq!(gw.used("deleter", "storage_bytes"), (PNG_LEN, 0));
    // Ids the ledger never recorded give nothing back (backends answer 2xx to those too).
    for _ in 0..3 {
        let d = gw
            .gw
            .request()
            .method("DELETE")
            .path("/media/does-not-exist")
            .header("Authorization", &format!("Bearer {w}"))
            .body(b"");
        assert_eq!(d.status, 201);
    }
    assert_eq!(gw.used("deleter", "file_count"), (1, 0));
    assert_eq!(gw.used("deleter", "storage_bytes"), (PNG_LEN, 0));
    let d = gw
        .gw
        .request()
        .method("DELETE")
        .path(&format!("/media/{id}"))
        .header("Authorization", &format!("Bearer {w}"))
        .body(b"");
    assert_eq!(d.status, 201);
    assert_eq!(gw.used("deleter", "storage_bytes"), (0, 0));
    assert_eq!(gw.used("deleter", "file_count"), (0, 0));
}

#[test]
fn a_declared_length_over_what_is_left_is_refused_before_any_body_byte() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 100_000);
    let t = token("full", "media:write", None);
    let form = Form::new("big");
    let (r, sent) = gw
        .gw
        .request()
        .header("Authorization", &format!("Bearer {t}"))
        .header("Content-Type", &form.content_type())
        .expect_continue_declared(150_000, b"never sent");
    assert!(!sent, "no 100 Continue before a quota refusal");
    r.assert_error(429, "quota_exceeded");
    assert_eq!(r.json()["error"]["metric"], "storage_bytes");
    upstream.assert_untouched();
    // Counted as a header-phase refusal (the request is counted as it finishes).
    let line = "upload_gateway_rejections_total{code=\"quota_exceeded\",phase=\"header\",route=\"upload\"}";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !String::from_utf8(upload_gateway::admin::encode_metrics())
        .unwrap()
        .contains(line)
    {
        assert!(std::time::Instant::now() < deadline, "{line} missing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_chunked_body_is_refused_the_moment_it_would_cross_the_quota() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 3_000_000);
    let t = token("chunky", "media:write", None);
    let form = Form::new("ch");
    let mut head = form.open_file("file", "p.png", "image/png");
    head.extend_from_slice(&fixture("media/photo.png"));
    let r = gw
        .gw
        .request()
        .header("Authorization", &format!("Bearer {t}"))
        .header("Content-Type", &form.content_type())
        .header("Transfer-Encoding", "chunked")
        .stream(chunked(80, move |i| {
            if i == 0 {
                head.clone()
            } else {
                vec![0u8; 64 * 1024]
            }
        }));
    r.assert_error(429, "quota_exceeded");
    upstream.assert_no_complete_body();
    assert_eq!(gw.wait_released("chunky"), (0, 0));
}

#[test]
fn request_windows_count_down_refuse_with_retry_after_and_reset() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 1_000_000);
    let t = token("chatty", "media:read", Some("limited"));
    // Start early in a 2 s window so the three requests share it.
    while upload_gateway::quota::now_ms() % 2000 > 300 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let get = || {
        gw.gw
            .request()
            .path("/media/x")
            .method("GET")
            .header("Authorization", &format!("Bearer {t}"))
            .body(b"")
    };
    for left in [2, 1, 0] {
        let r = get();
        assert_eq!(r.status, 201);
        let state = r.header("ratelimit").unwrap();
        assert!(
            state.starts_with(&format!("\"requests\";r={left};t=")),
            "{state}"
        );
        assert_eq!(
            r.header("ratelimit-policy").unwrap(),
            "\"requests\";q=3;w=2, \"requests:read\";q=100;w=60"
        );
    }
    let r = get();
    r.assert_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(r.header("ratelimit").unwrap().contains(";r=0;"));
    std::thread::sleep(std::time::Duration::from_secs(retry));
    assert_eq!(get().status, 201, "the window reset");
}

#[test]
fn the_usage_endpoint_answers_the_tenants_own_figures_only() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 1_000_000);
    assert_eq!(
        gw.upload(&token("acme", "media:write", None), "").status,
        201
    );
    let ask = |t: &str, org: Option<&str>| {
        let mut r = gw
            .gw
            .request()
            .method("GET")
            .path("/usage")
            .header("Authorization", &format!("Bearer {t}"));
        if let Some(o) = org {
            r = r.header("X-Organization-Id", o);
        }
        r.body(b"")
    };
    let r = ask(&token("acme", "usage:read", None), None);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        (v["tenant"].as_str(), v["tier"].as_str()),
        (Some("acme"), Some("free"))
    );
    assert_eq!(v["quotas"][0]["metric"], "storage_bytes");
    assert_eq!(v["quotas"][0]["used"], PNG_LEN);
    assert_eq!(v["quotas"][0]["limit"], 1_000_000);
    ask(&token("acme", "usage:read", None), Some("other-org")).assert_error(403, "forbidden");
    ask(&token("acme", "media:read", None), None).assert_error(403, "forbidden");
    upstream.wait_for(1);
}

#[test]
fn operators_read_set_and_list_usage_with_the_admin_token() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 100_000);
    let admin = |method: &str, path: &str, token: &str, body: &[u8]| {
        Request::new(gw.admin)
            .method(method)
            .path(path)
            .header("Authorization", &format!("Bearer {token}"))
            .body(body)
    };
    assert_eq!(
        admin("GET", "/usage/acme", "wrong-token-wrong-token", b"").status,
        401
    );
    let r = admin(
        "PUT",
        "/usage/acme",
        ADMIN_TOKEN,
        br#"{"storage_bytes":90000,"file_count":7}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(gw.used("acme", "storage_bytes"), (90_000, 0));
    assert_eq!(gw.used("acme", "file_count"), (7, 0));
    assert_eq!(
        admin(
            "PUT",
            "/usage/acme",
            ADMIN_TOKEN,
            br#"{"storage_bytes":-1}"#
        )
        .status,
        400
    );
    // The reconciled figure is enforced: 90 000 + a photo > 100 000.
    gw.upload(&token("acme", "media:write", None), "")
        .assert_error(429, "quota_exceeded");
    admin(
        "PUT",
        "/usage/small",
        ADMIN_TOKEN,
        br#"{"storage_bytes":10}"#,
    );
    let list = admin("GET", "/usage?over=80", ADMIN_TOKEN, b"").json();
    let names: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme"]);
}

/// Tenant names with spaces, non-ASCII letters or `/` are read and reconciled through the
/// percent-encoded path, and the figure is the one the tenant's own uploads spend.
#[test]
fn the_admin_usage_path_is_percent_decoded() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 100_000);
    let tenant = "Café Noir/Paris";
    assert_eq!(
        gw.upload(&token(tenant, "media:write", None), "").status,
        201
    );
    let path = "/usage/Caf%C3%A9%20Noir%2FParis";
    let r = Request::new(gw.admin)
        .method("PUT")
        .path(path)
        .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .body(br#"{"file_count":5}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let u = gw.usage("Caf%C3%A9%20Noir%2FParis");
    assert_eq!(u["tenant"], tenant);
    let files = u["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "file_count");
    assert_eq!(files.unwrap()["used"], 5);
    let storage = u["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "storage_bytes");
    assert_eq!(storage.unwrap()["used"], PNG_LEN);
}

/// Every answer of a limited route carries the RateLimit headers: a `quota_exceeded` refusal
/// (which counts no window) too.
#[test]
fn quota_refusals_carry_the_rate_limit_headers() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 1_000_000);
    let t = token("metered-org", "media:write", Some("metered"));
    let r = gw.upload(&t, "");
    r.assert_error(429, "quota_exceeded");
    assert_eq!(
        r.header("ratelimit-policy"),
        Some("\"requests\";q=50;w=60"),
        "{:?}",
        r.headers
    );
    let state = r.header("ratelimit").unwrap();
    assert!(state.starts_with("\"requests\";r="), "{state}");
    upstream.assert_untouched();
}

/// Identities no store may key: a token without a usable subject, or with an empty or
/// control-character organisation, is 401 before anything is counted; a subject named like an
/// organisation spends from its own bucket, never that organisation's.
#[test]
fn unusable_identities_are_refused_and_subjects_never_spend_a_tenants_quota() {
    let upstream = RecordingUpstream::start();
    let gw = memory(&upstream, 1_000_000);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let base = serde_json::json!({
        "iss": "https://issuer.test", "aud": "media-api", "exp": now + 600,
        "scope": "media:write",
    });
    let with = |extra: serde_json::Value| {
        let mut c = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign(&c)
    };
    for bad in [
        serde_json::json!({"org_id": "acme"}),
        serde_json::json!({"sub": "", "org_id": "acme"}),
        serde_json::json!({"sub": "u", "org_id": ""}),
        serde_json::json!({"sub": "u", "org_id": "acme\nx"}),
        serde_json::json!({"sub": "u", "org_id": "~jwt:x"}),
    ] {
        gw.upload(&with(bad.clone()), "")
            .assert_error(401, "unauthorized");
    }
    upstream.assert_untouched();
    // A subject called like a tenant, without a tenant of its own.
    assert_eq!(
        gw.upload(&with(serde_json::json!({"sub": "acme"})), "")
            .status,
        201
    );
    assert_eq!(
        gw.used("acme", "file_count"),
        (0, 0),
        "acme's bucket untouched"
    );
    let own = "~jwt:%22https:%2F%2Fissuer.test%22:%22acme%22";
    let u = gw.usage(own);
    let files = u["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["metric"] == "file_count");
    assert_eq!(files.unwrap()["used"], 1, "{u}");
}

/// A hold cannot expire under a live upload: with a 1 s reservation TTL, an upload that stalls
/// 3 s before its last bytes still holds its size, so another upload that would pass the limit
/// with it is refused, and usage never exceeds the limit.
#[test]
fn a_stalled_upload_keeps_its_hold_past_the_reservation_ttl() {
    let upstream = RecordingUpstream::start();
    let limit = PNG_LEN * 3 / 2;
    let gw = QuotaGateway::start_edited(upstream.addr, "reservation_ttl_seconds = 1", limit, |t| {
        t.replace("read_timeout_ms = 1000", "read_timeout_ms = 10000")
    });
    let t = token("staller", "media:write", None);
    let png = fixture("media/photo.png");
    let form = Form::new("st").file("file", "p.png", "image/png", &png);
    let ct = form.content_type();
    let body = form.finish();
    let len = body.len();
    let (addr, auth) = (gw.gw.addr, format!("Bearer {t}"));
    let a = std::thread::spawn(move || {
        Request::new(addr)
            .header("Authorization", &auth)
            .header("Content-Type", &ct)
            .header("Content-Length", &len.to_string())
            .stream(Box::new(move |s| {
                s.write_all(&body[..len - 10])?;
                s.flush()?;
                std::thread::sleep(std::time::Duration::from_secs(3));
                s.write_all(&body[len - 10..])
            }))
    });
    std::thread::sleep(std::time::Duration::from_millis(2500));
    gw.upload(&t, "").assert_error(429, "quota_exceeded");
    let a = a.join().unwrap();
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let (used, _) = gw.wait_released("staller");
    assert!(used <= limit, "used {used} of {limit}");
    assert_eq!(used, PNG_LEN);
}

/// `count_transferred`: an upload cut off mid-body spends the `upload_bytes` window with the
/// bytes it sent; by default only stored bytes count.
#[test]
fn aborted_uploads_spend_upload_bytes_when_transfers_count() {
    let upstream = RecordingUpstream::start();
    let window = |gw: &QuotaGateway, tenant: &str| -> u64 {
        let u = gw.usage(tenant);
        let w = u["quotas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["metric"] == "upload_bytes");
        w.unwrap()["used"].as_u64().unwrap()
    };
    for (store, counted) in [("", false), ("count_transferred = true", true)] {
        // The admin report reads the tier the operator set (nothing was committed).
        let gw = QuotaGateway::start_edited(upstream.addr, store, 10_000_000, |t| {
            t.replace(
                "[quotas.tenants]\n",
                "[quotas.tenants]\ntransfers = \"windowed\"\nstores = \"windowed\"\n",
            )
        });
        let tenant = if counted { "transfers" } else { "stores" };
        let t = token(tenant, "media:write", Some("windowed"));
        drop(start_aborting_upload(&gw, &t, 200_000));
        assert_eq!(gw.wait_released(tenant), (0, 0));
        let spent = window(&gw, tenant);
        if counted {
            assert!((200_000..500_000).contains(&spent), "spent {spent}");
        } else {
            assert_eq!(spent, 0);
        }
    }
}
