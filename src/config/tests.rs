use super::*;

const GOOD: &str = r#"
[[listeners]]
address = "127.0.0.1:8080"

[upstreams.media]
address = "127.0.0.1:9000"

[[routes]]
name = "upload"
path = "/media"
methods = ["POST"]
upstream = "media"
[routes.upload]
allowed_types = ["image/png"]

[[routes]]
name = "read"
path = "/media*"
methods = ["GET"]
upstream = "media"
"#;

#[test]
fn valid_config_builds_routes() {
    let c = Config::parse(GOOD).unwrap();
    assert_eq!(c.routes.len(), 2);
    assert!(
        c.route(&pingora::http::Method::POST, "/media")
            .unwrap()
            .upload
            .is_some()
    );
    assert_eq!(
        c.route(&pingora::http::Method::GET, "/media/42")
            .unwrap()
            .name,
        "read"
    );
    assert!(
        c.route(&pingora::http::Method::DELETE, "/media/42")
            .is_none()
    );
}

#[test]
fn every_error_is_reported_with_its_path() {
    let bad = GOOD
        .replace("127.0.0.1:8080", "nonsense")
        .replace(
            "upstream = \"media\"\n[routes.upload]",
            "upstream = \"nope\"\n[routes.upload]",
        )
        .replace("[\"image/png\"]", "[\"image/pngg\"]\nsniff_bytes = 1");
    let errs = Config::parse(&bad).unwrap_err().0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"listeners[0].address"), "{paths:?}");
    assert!(paths.contains(&"routes[0].upstream"), "{paths:?}");
    assert!(
        paths.contains(&"routes[0].upload.allowed_types[0]"),
        "{paths:?}"
    );
    assert!(paths.contains(&"routes[0].upload.sniff_bytes"), "{paths:?}");
}

#[test]
fn unknown_keys_are_refused() {
    let err = Config::parse(&format!("{GOOD}\n[server]\nthreadz = 3\n")).unwrap_err();
    assert!(err.to_string().contains("threadz"), "{err}");
}

#[test]
fn quota_mistakes_are_reported_with_their_paths() {
    let text = format!(
        "{GOOD}{}",
        r#"
[[routes]]
name = "delete"
path = "/media/{id}"
methods = ["DELETE"]
upstream = "media"
[routes.quota]
frees_object = "key"

[quotas]
store = "redis"
default_tier = "gold"
fail_open = ["bytes"]
[quotas.tenants]
acme = "platinum"
[quotas.tiers.free]
requests = { limit = 5, window_seconds = 0 }
[quotas.tiers.free.routes.uplaod]
requests = { limit = 5, window_seconds = 60 }
"#
    );
    let errors = Config::parse(&text).unwrap_err().to_string();
    for expected in [
        "routes[2].quota.frees_object: the route's path has no {key} segment",
        "quotas.redis_url: store = \"redis\" needs a redis_url",
        "quotas.default_tier: no tier named \"gold\"",
        "quotas.fail_open[0]: \"bytes\" is not a metric",
        "quotas.tenants.acme: no tier named \"platinum\"",
        "quotas.tiers.free.requests: window_seconds must be at least 1",
        "quotas.tiers.free.routes.uplaod: no route has this name",
        "quotas: quotas count per verified tenant: configure [auth] (or [routes.s3])",
    ] {
        assert!(
            errors.contains(expected),
            "{expected:?} missing in\n{errors}"
        );
    }
}

#[test]
fn named_segments_match_one_segment_each() {
    let p = PathPattern::parse("/media/{id}");
    assert!(p.matches("/media/abc"));
    assert!(!p.matches("/media/"), "an empty segment is no id");
    assert!(!p.matches("/media/a/b"));
    assert!(!p.matches("/media"));
    assert!(!p.matches("/mediax/abc"));
    assert_eq!(p.param_index("id"), Some(2));
}

#[test]
fn tls_files_are_checked_when_the_config_loads() {
    let missing = GOOD.replace(
        "address = \"127.0.0.1:8080\"",
        "address = \"127.0.0.1:8443\"\ntls = { cert = \"/nonexistent/cert.pem\", key = \"/nonexistent/key.pem\" }",
    );
    let e = Config::parse(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with("listeners[0].tls: cannot load /nonexistent/cert.pem"),
        "{e}"
    );

    let empty_ca = std::env::temp_dir().join(format!("ug-empty-ca-{}", std::process::id()));
    std::fs::write(&empty_ca, "not a certificate\n").unwrap();
    let upstream = GOOD.replace(
        "address = \"127.0.0.1:9000\"",
        &format!(
            "address = \"127.0.0.1:9000\"\ntls = true\nca_file = \"{}\"",
            empty_ca.display()
        ),
    );
    let e = Config::parse(&upstream).unwrap_err().to_string();
    assert!(
        e.contains("upstreams.media.ca_file:") && e.contains("holds no PEM certificate"),
        "{e}"
    );

    let sni_without_tls = GOOD.replace(
        "address = \"127.0.0.1:9000\"",
        "address = \"127.0.0.1:9000\"\nsni = \"media.internal\"",
    );
    let e = Config::parse(&sni_without_tls).unwrap_err().to_string();
    assert_eq!(e, "upstreams.media: sni and ca_file need tls = true");

    // Without `sni`, the host part of the address is the name checked.
    let c = Config::parse(&GOOD.replace(
        "address = \"127.0.0.1:9000\"",
        "address = \"localhost:9000\"\ntls = true",
    ))
    .unwrap();
    let tls = c.routes[0].upstream.tls.as_ref().unwrap();
    assert_eq!((tls.sni.as_str(), tls.ca.is_none()), ("localhost", true));
}

#[test]
fn s3_routes_inspect_raw_putobject_bodies_and_have_no_gateway_credential() {
    let s3 = "[routes.s3]\naccess_keys = { AKID = \"orgA\" }\n";
    let ok = format!("{GOOD}{s3}").replace(
        "methods = [\"POST\"]\nupstream = \"media\"\n[routes.upload]\n",
        "methods = [\"PUT\"]\nupstream = \"media\"\n[routes.upload]\nbody = \"raw\"\n",
    );
    // The read route (the last one) gets the s3 table: no upload, any method.
    let c = Config::parse(&ok).unwrap();
    assert!(c.routes[1].s3.is_some());
    let upload_s3 = GOOD.replace(
        "[routes.upload]\nallowed_types = [\"image/png\"]\n",
        &format!("[routes.upload]\nallowed_types = [\"image/png\"]\n{s3}"),
    );
    let err = Config::parse(&upload_s3).unwrap_err().to_string();
    assert!(
        err.contains("routes[0].s3: an S3 route inspects raw object bodies"),
        "{err}"
    );
    assert!(
        err.contains("routes[0].s3: an inspected S3 route takes PutObject"),
        "{err}"
    );
    // With multipart, the inspected route takes PUT and POST (creation and Complete), and the
    // switch belongs on the inspected route.
    let multipart = ok
        .replace("methods = [\"PUT\"]", "methods = [\"POST\", \"put\"]")
        .replace(s3, &format!("{s3}multipart = true\n"));
    let err = Config::parse(&multipart).unwrap_err().to_string();
    assert!(
        err.contains("routes[1].s3: multipart and presigned_post belong on the inspected route"),
        "{err}"
    );
    let on_upload = GOOD.replace(
        "methods = [\"POST\"]\nupstream = \"media\"\n[routes.upload]\nallowed_types = [\"image/png\"]\n",
        &format!(
            "methods = [\"POST\", \"put\"]\nupstream = \"media\"\n[routes.upload]\nbody = \"raw\"\n\
             allowed_types = [\"image/png\"]\n{s3}multipart = true\n"
        ),
    );
    assert!(
        on_upload.contains("multipart = true"),
        "the template changed"
    );
    Config::parse(&on_upload).unwrap();
    let put_only = on_upload.replace("[\"POST\", \"put\"]", "[\"PUT\"]");
    let err = Config::parse(&put_only).unwrap_err().to_string();
    assert!(
        err.contains("takes PutObject and POST requests: methods = [\"PUT\", \"POST\"]"),
        "{err}"
    );
    let public = format!("{GOOD}public = true\n{s3}");
    let err = Config::parse(&public).unwrap_err().to_string();
    assert!(
        err.contains("routes[1].s3: an S3 route's caller is its SigV4 access key"),
        "{err}"
    );
}

#[test]
fn connection_buffers_default_to_pingoras_and_are_bounded() {
    let c = Config::parse(GOOD).unwrap();
    assert_eq!(
        (c.server.read_buffer_bytes, c.server.write_buffer_bytes),
        (65536, 1460)
    );
    let set = format!("{GOOD}\n[server]\nread_buffer_bytes = 0\nwrite_buffer_bytes = 8192\n");
    let c = Config::parse(&set).unwrap();
    assert_eq!(
        (c.server.read_buffer_bytes, c.server.write_buffer_bytes),
        (0, 8192)
    );
    let big =
        format!("{GOOD}\n[server]\nread_buffer_bytes = 1048577\nwrite_buffer_bytes = 1048577\n");
    let err = Config::parse(&big).unwrap_err().to_string();
    assert!(
        err.contains("server.read_buffer_bytes: at most 1048576"),
        "{err}"
    );
    assert!(
        err.contains("server.write_buffer_bytes: at most 1048576"),
        "{err}"
    );
}

#[test]
fn connection_caps_and_deadlines_have_protective_defaults_and_no_zero_deadline() {
    use crate::connections::{Caps, Deadlines};
    let c = Config::parse(GOOD).unwrap();
    assert_eq!(
        c.server.connections.caps,
        Caps {
            total: 16_384,
            per_client: 256
        }
    );
    assert_eq!(
        c.server.connections.deadlines,
        Deadlines {
            first_byte: Duration::from_secs(10),
            head: Duration::from_secs(20),
            keepalive: Duration::from_secs(60),
        }
    );
    let set = format!(
        "{GOOD}\n[server]\nmax_connections = 0\nmax_connections_per_ip = 0\n\
         first_byte_timeout_ms = 1\nhead_timeout_ms = 2\nkeepalive_timeout_ms = 3\n"
    );
    let c = Config::parse(&set).unwrap();
    assert_eq!(c.server.connections.caps.total, 0);
    assert_eq!(
        Config::parse(GOOD).unwrap().server.connections.max_requests,
        10_000
    );
    assert_eq!(c.server.connections.caps.per_client, 0);
    assert_eq!(c.server.connections.deadlines.keepalive.as_millis(), 3);
    let zero = format!(
        "{GOOD}\n[server]\nfirst_byte_timeout_ms = 0\nhead_timeout_ms = 0\nkeepalive_timeout_ms = 0\n"
    );
    let err = Config::parse(&zero).unwrap_err().to_string();
    for key in ["first_byte", "head", "keepalive"] {
        assert!(
            err.contains(&format!("server.{key}_timeout_ms: must be at least 1")),
            "{err}"
        );
    }
}

#[test]
fn header_names_and_named_tables_are_checked_with_their_paths() {
    let text = format!(
        "{}{GOOD}{}",
        "[server]\nerrors = \"missing\"\n[auth]\ncredential_header = \"x y\"\napi_keys_file = \"k.toml\"\n",
        r#"
[[routes]]
name = "bad"
path = "/b"
methods = ["POST"]
upstream = "nowhere"
sandbox_upstream = "gone"
errors = "nope"
credential_header = "bad header"
[routes.idempotency]
header = "bad:header"
[routes.quota]
freed_bytes_header = "x\ty"
"#
    );
    let errors = Config::parse(&text).unwrap_err().to_string();
    for expected in [
        "server.errors: no error profile named \"missing\" (define [errors.missing])",
        "routes[2].errors: no error profile named \"nope\" (define [errors.nope])",
        "routes[2].upstream: no upstream named \"nowhere\" (define [upstreams.nowhere])",
        "routes[2].sandbox_upstream: no upstream named \"gone\" (define [upstreams.gone])",
        "auth.credential_header: \"x y\" is not a valid header name",
        "routes[2].credential_header: \"bad header\" is not a valid header name",
        "routes[2].quota.freed_bytes_header: \"x\\ty\" is not a valid header name",
        "routes[2].idempotency.header: \"bad:header\" is not a valid header name",
    ] {
        assert!(
            errors.contains(expected),
            "{expected:?} missing in\n{errors}"
        );
    }
}
