//! Every metric family the alerting rules and the dashboard (conf/monitoring/) use is in the
//! first scrape of a gateway whose config uses every feature they watch (a scan route, a quota
//! store, an idempotent route) — before any request was made, so `rate()` has series and an
//! alert on a misspelt name cannot hide. (Its own test binary: the registry is process-wide and
//! must have seen no request.)

#[path = "it/common/mod.rs"]
mod common;

use common::{RecordingUpstream, Request, TestGateway, free_port};
use std::net::SocketAddr;
use std::path::PathBuf;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");

#[test]
fn every_monitored_family_is_scraped_before_the_first_request() {
    let upstream = RecordingUpstream::start();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let clamd = format!("127.0.0.1:{}", free_port());
    let scan = common::with_scan(&clamd, 1000, "");
    let config = format!(
        "{scan}
[[routes]]
name = \"ingest\"
path = \"/v1/media\"
methods = [\"POST\"]
upstream = \"media\"
[routes.json]
max_bytes = 4096
[routes.idempotency]

[auth]
[[auth.jwt.keys]]
algorithms = [\"HS256\"]
secret_file = \"{FIX}/hs256.secret\"

[quotas]
default_tier = \"free\"
[quotas.tiers.free]
storage_bytes = 1000000

[admin]
address = \"{admin}\"
"
    );
    let _gw = TestGateway::start_with(&config, upstream.addr);
    common::wait_until_listening(admin);
    let r = Request::new(admin).method("GET").path("/metrics").body(b"");
    assert_eq!(r.status, 200);
    let scrape = String::from_utf8(r.body).unwrap();
    let present = |family: &str| {
        scrape.lines().any(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/monitoring");
    let mut checked = 0;
    for file in ["grafana-dashboard.json", "upload-gateway.rules.yml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        // Whole metric names: recording rules (`route:upload_gateway_…:…`) are not scraped.
        let used = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("upload_gateway_") && !w.contains(':'));
        for name in used {
            assert!(
                present(name),
                "{name} (used in {file}) missing in\n{scrape}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
    for family in [
        "upload_gateway_scans_total",
        "upload_gateway_quota_store_errors_total",
    ] {
        assert!(present(family), "{family}");
    }
    upstream.assert_untouched();
}
