//! The latency a quota check adds to one upload: reserve (the header phase) + commit (the
//! upstream's 2xx), for the memory store and for a real redis-server (started on a free port
//! when `redis-server` is installed). Reports p50/p99 per request; figures are for comparison
//! in one run, never assertions. `QUOTA_BENCH_N` sets the iterations (default 20 000).

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use upload_gateway::quota::{
    Ask, Limits, MemoryStore, Metric, QuotaStore, RedisStore, Tier, Window,
};

fn limits() -> Limits {
    let tier = Tier::new(
        "bench",
        Some(u64::MAX / 4),
        Some(u64::MAX / 4),
        vec![
            Window {
                metric: Metric::Requests,
                scope: "*".into(),
                limit: u64::MAX / 4,
                seconds: 60,
            },
            Window {
                metric: Metric::UploadBytes,
                scope: "*".into(),
                limit: u64::MAX / 4,
                seconds: 86_400,
            },
        ],
    );
    Limits::new(&tier, "upload")
}

async fn measure(name: &str, store: &dyn QuotaStore, n: usize) {
    let limits = limits();
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let tenant = format!("tenant-{}", i % 100);
        let ask = Ask {
            hold: format!("hold-{i}"),
            storage: 17_500,
            files: 1,
            request: true,
        };
        let start = Instant::now();
        let now = upload_gateway::quota::now_ms();
        store
            .reserve(&tenant, &limits, &ask, now, 900_000)
            .await
            .expect("reserve");
        store
            .commit(&tenant, &ask.hold, 17_000, 1, "bench")
            .await
            .expect("commit");
        took.push(start.elapsed());
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "quota check {name:<7} reserve+commit per request: p50 {:>8.1} µs  p99 {:>8.1} µs  ({n} requests)",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    let n: usize = std::env::var("QUOTA_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(measure("memory", &MemoryStore::default(), n));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        println!("quota check redis: redis-server not installed (scripts/prereqs.sh), skipped");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("redis://127.0.0.1:{port}/");
    let store = RedisStore::new(&url, "bench", Duration::from_secs(1)).unwrap();
    rt.block_on(measure("redis", &store, n));
    let _ = child.kill();
    let _ = child.wait();
}
