//! Helpers for the conf/examples/ end-to-end tests: an example config started with test
//! addresses and its own keys file, requests with a bearer credential, exact-body checks.

use super::*;
use std::path::PathBuf;
use upload_gateway::multipart::Form;

/// An example config with test addresses and, in a fresh directory, a keys file of `entries`
/// at `keys_path` (relative, as the example names it).
pub fn example(
    name: &str,
    keys_path: &str,
    entries: &[String],
) -> (TestGateway, RecordingUpstream) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    let text = std::fs::read_to_string(root.join(name))
        .unwrap()
        .replace("0.0.0.0:8080", "{LISTEN}")
        .replace("127.0.0.1:9000", "{UPSTREAM}");
    let dir = std::env::temp_dir().join(format!("ugw-ex-{name}-{}", free_port()));
    let keys = dir.join(keys_path);
    std::fs::create_dir_all(keys.parent().unwrap()).unwrap();
    std::fs::write(&keys, entries.join("\n")).unwrap();
    let upstream = RecordingUpstream::start();
    let gw = TestGateway::start_in(&text, upstream.addr, &dir);
    (gw, upstream)
}

pub fn key(prefix: &str, label: &str, scopes: &[&str], extra: &str) -> (String, String) {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let (k, entry) = upload_gateway::auth::keys::generate(prefix, label, Some("org_1"), &scopes);
    (k, format!("{entry}{extra}"))
}

/// Asserts the exact body, status and JSON content type of a refusal.
pub fn assert_body(r: &Response, status: u16, content_type: &str, body: &str) {
    assert_eq!(
        (r.status, String::from_utf8_lossy(&r.body).as_ref()),
        (status, body)
    );
    assert_eq!(r.header("content-type"), Some(content_type));
}

pub fn upload(gw: &TestGateway, path: &str, auth: Option<&str>, form: Form) -> Response {
    let mut req = gw.request().path(path);
    if let Some(a) = auth {
        req = req.header("Authorization", &format!("Bearer {a}"));
    }
    req.form(form)
}

pub fn file(name: &str, declared: &str) -> Form {
    let bytes = fixture(&format!("media/{name}"));
    Form::new("ex").file("file", name, declared, &bytes)
}
