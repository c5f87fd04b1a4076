//! Idempotency keys end to end against the recording upstream: the first response to a key is
//! replayed byte-identical with `Idempotent-Replayed: true` while the upstream sees one request;
//! another payload under the key is 422, a repeat while the first is in flight 409; keys are
//! per caller; derived keys; 5xx answers are not kept; uploads are fingerprinted by their content
//! (a retry with another multipart boundary is the same payload); and two gateway instances on
//! one real redis-server agree.

use crate::common::quota_support as support;

use crate::common::*;
use std::time::Duration;
use support::{Redis, TempDir};
use upload_gateway::multipart::Form;

const CONFIG: &str = r#"
[[listeners]]
address = "{LISTEN}"

[upstreams.media]
address = "{UPSTREAM}"
read_timeout_ms = 10000

[auth]
api_keys_file = "keys.toml"
api_key_prefixes = { so_live_ = "live" }

{QUOTAS}

[[routes]]
name = "ingest"
path = "/v1/media"
methods = ["POST"]
upstream = "media"
[routes.json]
max_bytes = 4096
required = { url = "string" }
[routes.json.urls.url]
[routes.idempotency]
derive = true

[[routes]]
name = "strict"
path = "/v1/strict"
methods = ["POST"]
upstream = "media"
[routes.json]
max_bytes = 4096
[routes.idempotency]
required = true

[[routes]]
name = "capped"
path = "/v1/capped"
methods = ["POST"]
upstream = "media"
[routes.json]
max_bytes = 4096
[routes.idempotency]
max_response_bytes = 16

[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "media"
[routes.upload]
allowed_types = ["image/*", "application/pdf"]
[routes.idempotency]
ttl_seconds = 3600
"#;

struct Setup {
    gw: TestGateway,
    keys: [String; 2],
    _dir: TempDir,
}

fn start(upstream: &RecordingUpstream, quotas: &str, keys: Option<(&[String; 2], &str)>) -> Setup {
    let dir = TempDir::new("idem");
    let (keys, entries) = match keys {
        Some((k, e)) => (k.clone(), e.to_string()),
        None => {
            let (a, ea) = upload_gateway::auth::keys::generate("so_live_", "a", None, &[]);
            let (b, eb) = upload_gateway::auth::keys::generate("so_live_", "b", None, &[]);
            ([a, b], format!("{ea}\n{eb}"))
        }
    };
    std::fs::write(dir.0.join("keys.toml"), &entries).unwrap();
    let text = CONFIG.replace("{QUOTAS}", quotas);
    let gw = TestGateway::start_in(&text, upstream.addr, &dir.0);
    let entries_file = dir.0.join("entries");
    std::fs::write(entries_file, entries).unwrap();
    Setup {
        gw,
        keys,
        _dir: dir,
    }
}

fn entries(s: &Setup) -> String {
    std::fs::read_to_string(s._dir.0.join("entries")).unwrap()
}

fn post(gw: &TestGateway, path: &str, cred: &str, key: Option<&str>, body: &str) -> Response {
    post_to(gw.addr, path, cred, key, body)
}

fn post_to(
    gw: std::net::SocketAddr,
    path: &str,
    cred: &str,
    key: Option<&str>,
    body: &str,
) -> Response {
    let mut r = Request::new(gw)
        .path(path)
        .header("Authorization", &format!("Bearer {cred}"))
        .header("Content-Type", "application/json");
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    r.body(body.as_bytes())
}

/// [`post`] from another thread (a request still in flight while the test sends a repeat).
fn post_in_background(
    gw: &TestGateway,
    path: &'static str,
    cred: &str,
    key: &'static str,
    body: &'static str,
) -> std::thread::JoinHandle<Response> {
    let (addr, cred) = (gw.addr, cred.to_string());
    std::thread::spawn(move || post_to(addr, path, &cred, Some(key), body))
}

fn upload(gw: &TestGateway, cred: &str, key: &str, form: Form) -> Response {
    gw.request()
        .path("/media")
        .header("Authorization", &format!("Bearer {cred}"))
        .header("Idempotency-Key", key)
        .form(form)
}

fn replayed(first: &Response, again: &Response) {
    assert_eq!(again.status, first.status);
    assert_eq!(again.body, first.body, "the identical body");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("content-type"), first.header("content-type"));
    assert_eq!(first.header("idempotent-replayed"), None);
}

#[test]
fn json_keys_replay_conflict_and_mismatch() {
    let up = RecordingUpstream::start();
    let s = start(&up, "", None);
    let [a, b] = &s.keys;
    let body = r#"{"url":"http://192.0.2.7/a.mp4"}"#;

    let first = post(&s.gw, "/v1/media", a, Some("k-1"), body);
    assert_eq!(first.status, 201);
    let again = post(&s.gw, "/v1/media", a, Some("\"k-1\""), body);
    replayed(&first, &again);
    assert_eq!(up.received().len(), 1, "the upstream saw one request");

    let other = post(
        &s.gw,
        "/v1/media",
        a,
        Some("k-1"),
        r#"{"url":"http://192.0.2.8/b.mp4"}"#,
    );
    other.assert_error(422, "idempotency_mismatch");
    let elsewhere = post(&s.gw, "/v1/strict", a, Some("k-1"), body);
    assert_eq!(elsewhere.status, 201, "keys are per route");
    let theirs = post(&s.gw, "/v1/media", b, Some("k-1"), body);
    assert_eq!(theirs.status, 201, "keys are per caller");
    assert_ne!(theirs.body, first.body);
    assert_eq!(up.received().len(), 3);

    // Derived from the caller and the payload when the header is absent.
    let derived = post(
        &s.gw,
        "/v1/media",
        a,
        None,
        r#"{"url":"http://192.0.2.9/c.mp4"}"#,
    );
    let again = post(
        &s.gw,
        "/v1/media",
        a,
        None,
        r#"{"url":"http://192.0.2.9/c.mp4"}"#,
    );
    replayed(&derived, &again);
    assert_eq!(up.received().len(), 4);

    // In flight: the upstream takes 1.5 s to answer the first.
    let slow = "/v1/media?delay_ms=1500";
    let t = post_in_background(&s.gw, slow, a, "k-slow", body);
    up.wait_for(5);
    post(&s.gw, slow, a, Some("k-slow"), body).assert_error(409, "idempotency_conflict");
    let first = t.join().unwrap();
    assert_eq!(first.status, 201);
    replayed(&first, &post(&s.gw, slow, a, Some("k-slow"), body));
    assert_eq!(up.received().len(), 5);

    // 5xx answers are not kept: the client may retry.
    let failing = "/v1/media?status=503";
    assert_eq!(post(&s.gw, failing, a, Some("k-503"), body).status, 503);
    assert_eq!(post(&s.gw, failing, a, Some("k-503"), body).status, 503);
    assert_eq!(up.received().len(), 7, "both reached the upstream");

    // Refusals release the key too: a fixed request goes through.
    post(
        &s.gw,
        "/v1/media",
        a,
        Some("k-bad"),
        r#"{"url":"http://127.0.0.1/"}"#,
    )
    .assert_error(422, "validation_error");
    assert_eq!(post(&s.gw, "/v1/media", a, Some("k-bad"), body).status, 201);

    post(&s.gw, "/v1/strict", a, None, body).assert_error(400, "bad_request");
    let long = "x".repeat(256);
    post(&s.gw, "/v1/media", a, Some(&long), body).assert_error(400, "bad_request");
    assert_eq!(
        up.received().len(),
        8,
        "no refused request reached the upstream"
    );

    // An answer over max_response_bytes is not kept: the repeat reaches the upstream again.
    for _ in 0..2 {
        let r = post(&s.gw, "/v1/capped", a, Some("k-big"), body);
        assert_eq!((r.status, r.header("idempotent-replayed")), (201, None));
    }
    assert_eq!(up.received().len(), 10);
}

#[test]
fn uploads_are_fingerprinted_by_content() {
    let up = RecordingUpstream::start();
    let s = start(&up, "", None);
    let a = &s.keys[0];
    let png = fixture("media/photo.png");
    let pdf = fixture("media/report.pdf");
    let form = |boundary: &str, bytes: &[u8], ty: &str| {
        Form::new(boundary)
            .field("title", "holiday")
            .file("file", "photo.png", ty, bytes)
    };

    let first = upload(&s.gw, a, "u-1", form("first-boundary", &png, "image/png"));
    assert_eq!(first.status, 201);
    let got = up.wait_for(1);
    assert!(got[0].complete);
    // A retry builds its multipart body with another boundary: the same payload.
    let again = upload(&s.gw, a, "u-1", form("retry-boundary-2", &png, "image/png"));
    replayed(&first, &again);
    assert_eq!(up.received().len(), 1, "the upstream saw one upload");

    let other = Form::new("b")
        .field("title", "other")
        .file("file", "photo.png", "image/png", &png);
    upload(&s.gw, a, "u-1", other).assert_error(422, "idempotency_mismatch");
    upload(&s.gw, a, "u-1", form("c", &pdf, "application/pdf"))
        .assert_error(422, "idempotency_mismatch");
    // A repeat is inspected like any upload: a spoof is still refused as one.
    upload(&s.gw, a, "u-1", form("d", &pdf, "image/png")).assert_error(415, "content_mismatch");
    assert_eq!(up.received().len(), 1);

    // A refused upload does not keep its key.
    upload(&s.gw, a, "u-2", form("e", &pdf, "image/png")).assert_error(415, "content_mismatch");
    assert_eq!(
        upload(&s.gw, a, "u-2", form("f", &png, "image/png")).status,
        201
    );
    assert_eq!(up.received().len(), 2);
}

#[test]
fn two_instances_on_one_redis_agree() {
    let mut redis = Redis::start();
    let quotas = format!(
        "[quotas]\nstore = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"idem-test\"\n\
         default_tier = \"free\"\n\
         fail_open = [\"storage_bytes\", \"file_count\", \"upload_bytes\", \"requests\"]\n\
         [quotas.tiers.free]\n",
        redis.url()
    );
    let up = RecordingUpstream::start();
    let one = start(&up, &quotas, None);
    let shared = (&one.keys, entries(&one));
    let two = start(&up, &quotas, Some((shared.0, &shared.1)));
    let a = &one.keys[0];
    let body = r#"{"url":"http://192.0.2.7/a.mp4"}"#;

    let first = post(&one.gw, "/v1/media", a, Some("r-1"), body);
    assert_eq!(first.status, 201);
    replayed(&first, &post(&two.gw, "/v1/media", a, Some("r-1"), body));
    post(
        &two.gw,
        "/v1/media",
        a,
        Some("r-1"),
        r#"{"url":"http://192.0.2.1/"}"#,
    )
    .assert_error(422, "idempotency_mismatch");
    assert_eq!(up.received().len(), 1);

    let t = post_in_background(&one.gw, "/v1/media?delay_ms=1500", a, "r-slow", body);
    up.wait_for(2);
    post(&two.gw, "/v1/media?delay_ms=1500", a, Some("r-slow"), body)
        .assert_error(409, "idempotency_conflict");
    let slow = t.join().unwrap();
    replayed(
        &slow,
        &post(&two.gw, "/v1/media?delay_ms=1500", a, Some("r-slow"), body),
    );
    assert_eq!(up.received().len(), 2);

    // The records live in Redis with the TTL, under the configured prefix.
    std::thread::sleep(Duration::from_millis(50));
    let out = crate::common::tool("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "--scan",
            "--pattern",
            "idem-test:idem:*",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    // Redis gone: quotas fail open here, so an upload without a key passes; a keyed one cannot
    // be checked for repeats and is refused (503) before the backend is contacted.
    redis.kill();
    let png = fixture("media/photo.png");
    let form = || Form::new("d").file("file", "photo.png", "image/png", &png);
    let unkeyed = one
        .gw
        .request()
        .path("/media")
        .header("Authorization", &format!("Bearer {a}"))
        .form(form());
    assert_eq!(
        unkeyed.status,
        201,
        "{}",
        String::from_utf8_lossy(&unkeyed.body)
    );
    upload(&one.gw, a, "r-down", form()).assert_error(503, "quota_unavailable");
    assert_eq!(
        up.received().len(),
        3,
        "only the unkeyed upload reached the backend"
    );
}

/// Two keys with one label in two tenants, and one key acting for its two organisations: the
/// same `Idempotency-Key` and payload is a record of each tenant and credential, never a replay
/// of another's answer (sent and derived keys; memory and Redis stores). With `instances` > 1
/// the gateways share the store and the requests go round them.
fn tenants_never_share_records(quotas: &str, instances: usize) {
    let make = upload_gateway::auth::keys::generate;
    let (a, ea) = make("so_live_", "shared", Some("orgA"), &[]);
    let (b, eb) = make("so_live_", "shared", Some("orgB"), &[]);
    let (c, ec) = make("so_live_", "multi", Some("orgC"), &[]);
    let entries = format!("{ea}\n{eb}\n{ec}orgs = [\"orgA\", \"orgB\"]\n");
    let up = RecordingUpstream::start();
    let keys = [a.clone(), b.clone()];
    let gws: Vec<Setup> = (0..instances)
        .map(|_| start(&up, quotas, Some((&keys, &entries))))
        .collect();
    let next = std::cell::Cell::new(0);
    let body = r#"{"url":"http://192.0.2.7/a.mp4"}"#;
    let as_org = |cred: &str, org: Option<&str>, key: Option<&str>| {
        next.set(next.get() + 1);
        let mut r = Request::new(gws[next.get() % gws.len()].gw.addr)
            .path("/v1/media")
            .header("Authorization", &format!("Bearer {cred}"))
            .header("Content-Type", "application/json");
        if let Some(o) = org {
            r = r.header("X-Organization-Id", o);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.body(body.as_bytes())
    };
    let mut seen = 0;
    for key in [Some("order-1001"), None] {
        let first = as_org(&a, None, key);
        assert_eq!(first.status, 201);
        let other_tenant = as_org(&b, None, key);
        assert_eq!(other_tenant.status, 201, "{key:?}");
        assert_eq!(other_tenant.header("idempotent-replayed"), None, "{key:?}");
        assert_ne!(other_tenant.body, first.body);
        // One key switching organisations, and the same organisation through another key.
        let c_for_a = as_org(&c, Some("orgA"), key);
        assert_eq!(c_for_a.header("idempotent-replayed"), None, "{key:?}");
        let c_for_b = as_org(&c, Some("orgB"), key);
        assert_eq!(c_for_b.header("idempotent-replayed"), None, "{key:?}");
        seen += 4;
        let got = up.wait_for(seen);
        let tenants: Vec<_> = got[seen - 4..]
            .iter()
            .map(|r| r.header("x-auth-tenant").unwrap_or("-").to_string())
            .collect();
        assert_eq!(tenants, ["orgA", "orgB", "orgA", "orgB"], "{key:?}");
        // Each still replays its own answer.
        replayed(&c_for_b, &as_org(&c, Some("orgB"), key));
        replayed(&first, &as_org(&a, None, key));
    }
    assert_eq!(up.received().len(), seen);
}

#[test]
fn tenants_never_share_records_in_memory() {
    tenants_never_share_records("", 1);
}

#[test]
fn tenants_never_share_records_in_redis_across_two_instances() {
    let redis = Redis::start();
    let quotas = format!(
        "[quotas]\nstore = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"idem-iso\"\n\
         default_tier = \"free\"\n[quotas.tiers.free]\n",
        redis.url()
    );
    tenants_never_share_records(&quotas, 1);
    tenants_never_share_records(&quotas.replace("idem-iso", "idem-iso2"), 2);
}

/// A key the client sent is claimed once the headers are in: a repeat sent while the first
/// request's JSON body is still arriving is 409 (draft-ietf-httpapi-idempotency-key-header
/// §2.7), and the first then completes normally and is replayed.
#[test]
fn a_repeat_while_the_first_body_still_arrives_is_a_conflict() {
    let up = RecordingUpstream::start();
    let s = start(&up, "", None);
    let a = s.keys[0].clone();
    let body = r#"{"url":"http://192.0.2.7/slow.mp4"}"#;
    let addr = s.gw.addr;
    let cred = a.clone();
    let slow = std::thread::spawn(move || {
        Request::new(addr)
            .path("/v1/media")
            .header("Authorization", &format!("Bearer {cred}"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "slow-body")
            .header("Transfer-Encoding", "chunked")
            .stream(chunked(2, move |i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_millis(1500));
                }
                let (head, tail) = body.split_at(10);
                [head, tail][i].as_bytes().to_vec()
            }))
    });
    std::thread::sleep(Duration::from_millis(500));
    post(&s.gw, "/v1/media", &a, Some("slow-body"), body).assert_error(409, "idempotency_conflict");
    let first = slow.join().unwrap();
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    replayed(
        &first,
        &post(&s.gw, "/v1/media", &a, Some("slow-body"), body),
    );
    // Another payload under the key, once stored: 422, read whole before the answer.
    post(
        &s.gw,
        "/v1/media",
        &a,
        Some("slow-body"),
        r#"{"url":"http://192.0.2.8/"}"#,
    )
    .assert_error(422, "idempotency_mismatch");
    assert_eq!(up.received().len(), 1);
}
