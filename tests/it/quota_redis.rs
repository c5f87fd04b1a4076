//! Quotas on a real redis-server (started on a free port): the Lua scripts follow the same
//! rules as the memory store, two gateway instances share one limit, Redis going away fails
//! open or closed as configured and recovers, and a killed instance's holds expire.

use crate::common::quota_support as support;

use crate::common::*;
use std::io::Write;
use std::time::{Duration, Instant};
use support::*;
use upload_gateway::quota::{
    Ask, Limits, MemoryStore, Metric, QuotaStore, RedisStore, Tier, Verdict, Window,
};

fn redis_store(redis: &Redis, prefix: &str) -> String {
    format!(
        "store = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"{prefix}\"\ntimeout_ms = 300\n",
        redis.url()
    )
}

fn tier() -> Tier {
    Tier::new(
        "t",
        Some(1000),
        Some(2),
        vec![
            Window {
                metric: Metric::Requests,
                scope: "*".into(),
                limit: 2,
                seconds: 60,
            },
            Window {
                metric: Metric::UploadBytes,
                scope: "*".into(),
                limit: 5000,
                seconds: 3600,
            },
        ],
    )
}

/// The rules every store follows; run against both.
async fn follows_the_rules(store: &dyn QuotaStore, tenant: &str) {
    let limits = Limits::new(&tier(), "r");
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;
    let ask = |hold: &str, storage, files, request| Ask {
        hold: hold.into(),
        storage,
        files,
        request,
    };
    let Verdict::Granted(w) = store
        .reserve(tenant, &limits, &ask("a", 600, 1, true), t0, 1000)
        .await
        .unwrap()
    else {
        panic!("first reservation refused")
    };
    assert_eq!((w[0].remaining, w[1].remaining), (1, 4400));
    assert_eq!(
        store
            .reserve(tenant, &limits, &ask("b", 500, 1, false), t0, 1000)
            .await
            .unwrap(),
        Verdict::Exceeded {
            metric: Metric::StorageBytes,
            used: 0,
            limit: 1000
        }
    );
    // Growing a hold counts against the same limit.
    assert!(matches!(
        store
            .reserve(tenant, &limits, &ask("a", 400, 0, false), t0, 1000)
            .await
            .unwrap(),
        Verdict::Granted(_)
    ));
    store.release(tenant, "a", 0).await.unwrap();
    let u = store.usage(tenant, &limits.windows, t0).await.unwrap();
    assert_eq!((u.held_storage, u.windows.clone()), (0, vec![1, 0]));
    store
        .reserve(tenant, &limits, &ask("c", 700, 1, true), t0, 1000)
        .await
        .unwrap();
    store.commit(tenant, "c", 650, 1, "t").await.unwrap();
    let u = store.usage(tenant, &limits.windows, t0).await.unwrap();
    assert_eq!(
        (u.storage_bytes, u.file_count, u.windows.clone()),
        (650, 1, vec![2, 650])
    );
    assert_eq!(u.tier.as_deref(), Some("t"));
    // The request window is full until its end.
    let Verdict::RateLimited {
        retry_after_secs, ..
    } = store
        .reserve(tenant, &limits, &ask("d", 0, 0, true), t0 + 1500, 1000)
        .await
        .unwrap()
    else {
        panic!("third request in the window granted")
    };
    assert_eq!(retry_after_secs, 59);
    // A hold nobody releases expires.
    store
        .reserve(tenant, &limits, &ask("lost", 300, 1, false), t0, 1000)
        .await
        .unwrap();
    assert!(matches!(
        store
            .reserve(tenant, &limits, &ask("e", 10, 1, false), t0 + 500, 1000)
            .await
            .unwrap(),
        Verdict::Exceeded {
            metric: Metric::FileCount,
            ..
        }
    ));
    let u = store
        .usage(tenant, &limits.windows, t0 + 1001)
        .await
        .unwrap();
    assert_eq!((u.held_storage, u.held_files, u.windows[1]), (0, 0, 650));
    // The ledger, deletes and reconciliation.
    store.record_object(tenant, "obj-1", 650).await.unwrap();
    assert_eq!(store.free_object(tenant, "obj-1", None).await.unwrap(), 650);
    let files = store.usage(tenant, &[], t0).await.unwrap().file_count;
    assert_eq!(store.free_object(tenant, "obj-1", None).await.unwrap(), 0);
    assert_eq!(
        store.free_object(tenant, "never", Some(9)).await.unwrap(),
        0
    );
    let u = store.usage(tenant, &[], t0).await.unwrap();
    assert_eq!(u.file_count, files, "only ledger entries are freed");
    store
        .set_usage(tenant, Some(12_345_678_901_234), Some(3))
        .await
        .unwrap();
    let u = store.usage(tenant, &[], t0).await.unwrap();
    assert_eq!((u.storage_bytes, u.file_count), (12_345_678_901_234, 3));
    // A released hold can leave its transferred bytes counted (count_transferred), never more
    // than it held.
    let other = format!("{tenant}-transfers");
    for (hold, keep) in [("t1", 120), ("t2", 9_999)] {
        store
            .reserve(&other, &limits, &ask(hold, 300, 1, false), t0, 1000)
            .await
            .unwrap();
        store.release(&other, hold, keep).await.unwrap();
    }
    let u = store.usage(&other, &limits.windows, t0).await.unwrap();
    assert_eq!((u.held_storage, u.windows[1]), (0, 120 + 300));
    assert!(store.tenants().await.unwrap().contains(&tenant.to_string()));
}

#[tokio::test]
async fn the_redis_scripts_follow_the_memory_stores_rules() {
    let redis = Redis::start();
    follows_the_rules(&MemoryStore::default(), "a}b{c").await;
    let store = RedisStore::new(&redis.url(), "rules", Duration::from_millis(500)).unwrap();
    follows_the_rules(&store, "a}b{c").await;
}

#[test]
fn two_instances_sharing_redis_never_pass_the_storage_limit() {
    let redis = Redis::start();
    let upstream = RecordingUpstream::start();
    let limit = 10 * 14405 + 5000;
    let a = QuotaGateway::start(upstream.addr, &redis_store(&redis, "race"), limit);
    let b = QuotaGateway::start(upstream.addr, &redis_store(&redis, "race"), limit);
    race(&[&a, &b], "shared-racer", limit);
    assert_eq!(
        b.used("shared-racer", "storage_bytes"),
        a.used("shared-racer", "storage_bytes")
    );
}

#[test]
fn redis_down_fails_closed_or_open_as_configured_and_recovers() {
    let mut redis = Redis::start();
    let upstream = RecordingUpstream::start();
    let closed = QuotaGateway::start(upstream.addr, &redis_store(&redis, "down"), 1_000_000);
    let open_store = format!(
        "{}fail_open = [\"storage_bytes\", \"file_count\", \"upload_bytes\", \"requests\"]\n",
        redis_store(&redis, "down-open")
    );
    let open = QuotaGateway::start(upstream.addr, &open_store, 1_000_000);
    let t = token("weather", "media:write", None);
    assert_eq!(closed.upload(&t, "").status, 201);
    let ready = || {
        let r = Request::new(closed.admin)
            .method("GET")
            .path("/readyz")
            .body(b"");
        assert_eq!(r.status, 503, "the dead upstream is never ready");
        r.json()["not_ready"].clone()
    };
    assert_eq!(ready(), serde_json::json!(["upstream:dead"]));
    redis.kill();
    assert_eq!(ready(), serde_json::json!(["upstream:dead", "quota_store"]));
    let started = Instant::now();
    let r = closed.upload(&t, "");
    r.assert_error(503, "quota_unavailable");
    assert_eq!(
        r.header("retry-after"),
        Some("1"),
        "an overload answer says when to retry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no hang: {:?}",
        started.elapsed()
    );
    assert_eq!(
        open.upload(&t, "").status,
        201,
        "fail-open lets uploads through"
    );
    let admin = Request::new(closed.admin)
        .method("GET")
        .path("/metrics")
        .body(b"");
    let metrics = String::from_utf8_lossy(&admin.body).to_string();
    assert!(metrics.contains("upload_gateway_quota_store_errors_total{op=\"reserve\"}"));
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = closed.upload(&t, "");
        if r.status == 201 {
            break;
        }
        r.assert_error(503, "quota_unavailable");
        assert!(
            Instant::now() < deadline,
            "no recovery after Redis came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_killed_instances_holds_expire() {
    let redis = Redis::start();
    let upstream = RecordingUpstream::start();
    let store = format!(
        "{}reservation_ttl_seconds = 2\n",
        redis_store(&redis, "crash")
    );
    let doomed = QuotaGateway::start(upstream.addr, &store, 1_000_000);
    let survivor = QuotaGateway::start(upstream.addr, &store, 1_000_000);
    let t = token("crashy", "media:write", None);
    let form = upload_gateway::multipart::Form::new("c");
    let mut s = std::net::TcpStream::connect(doomed.gw.addr).unwrap();
    let head = format!(
        "POST /media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: {}\r\nContent-Length: 400000\r\n\r\n",
        form.content_type()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&form.open_file("file", "p.png", "image/png"))
        .unwrap();
    s.write_all(&fixture("media/photo.png")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(survivor.used("crashy", "storage_bytes"), (0, 400_000));
    let killed = Instant::now();
    drop(doomed);
    // Fast shutdown drops the request without the logging hook: the hold stays until it expires.
    let (used, held) = survivor.wait_released("crashy");
    assert_eq!((used, held), (0, 0));
    assert!(killed.elapsed() < Duration::from_secs(5));
    drop(s);
}

#[tokio::test]
async fn a_call_that_only_counts_a_request_writes_no_hold() {
    let redis = Redis::start();
    let store = RedisStore::new(&redis.url(), "reqonly", Duration::from_millis(500)).unwrap();
    let limits = Limits::new(&tier(), "r");
    let ask = |hold: &str, storage| Ask {
        hold: hold.into(),
        storage,
        files: 0,
        request: true,
    };
    let now = 1_700_000_000_000;
    store
        .reserve("t1", &limits, &ask("read", 0), now, 1000)
        .await
        .unwrap();
    store
        .reserve("t1", &limits, &ask("upload", 10), now, 1000)
        .await
        .unwrap();
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let holds: Vec<String> = redis::cmd("HKEYS")
        .arg("reqonly:{t:t1}:holds")
        .query(&mut con)
        .unwrap();
    assert_eq!(holds, ["upload"], "a read must not leave a hold to release");
    let u = store.usage("t1", &limits.windows, now).await.unwrap();
    assert_eq!(u.windows[0], 2, "both requests are counted");
}

/// Redis answering late (a Lua script keeps the server busy for 600 ms): a decision gives up at
/// `timeout_ms` (and fails as configured), but the commit of an upload the upstream already
/// stored waits it out and is charged — with the decision's timeout it was dropped, and the
/// stored file never counted (src/quota/redis_store.rs, `settle_timeout`).
#[tokio::test]
async fn a_commit_outwaits_a_slow_redis_that_a_decision_does_not() {
    let redis = Redis::start();
    let store = RedisStore::new(&redis.url(), "slow", Duration::from_millis(100)).unwrap();
    let limits = Limits::new(&tier(), "r");
    let ask = |hold: &str| Ask {
        hold: hold.into(),
        storage: 600,
        files: 1,
        request: false,
    };
    let now = 1_700_000_000_000;
    let granted = store
        .reserve("t1", &limits, &ask("up"), now, 60_000)
        .await
        .unwrap();
    assert!(matches!(granted, Verdict::Granted(_)));
    let url = redis.url();
    let busy = std::thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let script = "local t0 = redis.call('TIME') repeat local t = redis.call('TIME') \
                      until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 600000 return 1";
        let _: i64 = redis::cmd("EVAL")
            .arg(script)
            .arg(0)
            .query(&mut con)
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let decision = store
        .reserve("t2", &limits, &ask("other"), now, 60_000)
        .await;
    assert!(
        decision.is_err(),
        "a decision waits only timeout_ms: {decision:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(400));
    store.commit("t1", "up", 600, 1, "t").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the commit waited for Redis"
    );
    busy.join().unwrap();
    let u = store.usage("t1", &limits.windows, now).await.unwrap();
    assert_eq!((u.storage_bytes, u.file_count, u.held_storage), (600, 1, 0));
}
