//! CORS with a real browser: headless Chromium loads a page from one origin whose script
//! uploads a real PNG with `fetch` + `FormData` (with an `Authorization` header, so the browser
//! sends a preflight first) to the gateway on another origin. From an allowed origin the upload
//! reaches the backend byte-identical and the script reads the status and the exposed
//! `X-Request-Id`; from another origin the preflight is refused and the browser never sends
//! the upload. Chromium comes from Debian's `chromium` package (scripts/prereqs.sh).

use crate::common::*;
use base64::Engine;
use std::sync::{Arc, OnceLock};

/// Serves one HTML page (set once known) on its own origin (`http://127.0.0.1:PORT`) until the
/// test ends.
fn serve_page() -> (String, Arc<OnceLock<String>>) {
    let page: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let html = page.clone();
    let origin = serve_http(move |_| {
        let html = html.get().expect("the page is set before it is loaded");
        ("text/html", html.clone())
    });
    (origin, page)
}

/// The page: uploads `png` to `target` and writes what the script could see into the DOM.
fn page(target: &str, png: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const bytes = Uint8Array.from(atob("{b64}"), c => c.charCodeAt(0));
const form = new FormData();
form.append("file", new Blob([bytes], {{type: "image/png"}}), "photo.png");
fetch("{target}", {{method: "POST", body: form, headers: {{"Authorization": "Bearer browser-token"}}}})
  .then(async r => {{
    const body = await r.json();
    document.getElementById("out").textContent =
      "status=" + r.status + " request_id=" + (r.headers.get("X-Request-Id") || "none") +
      " received=" + body.received;
  }})
  .catch(e => {{ document.getElementById("out").textContent = "failed=" + e.name; }});
</script></body></html>"#
    )
}

/// Loads `url` in headless Chromium and returns the DOM once the page's script settled.
fn browse(url: &str) -> String {
    let dom = chromium_dom(url, 15000);
    let start = dom.find("<pre id=\"out\">").expect("the page was loaded") + 14;
    dom[start..start + dom[start..].find("</pre>").unwrap()].to_string()
}

#[test]
fn a_browser_on_an_allowed_origin_uploads_and_another_origin_is_stopped_at_preflight() {
    let png = fixture("media/photo.png");
    let up = RecordingUpstream::start();
    // The allowed origin goes into the gateway's config, the gateway's address into the page.
    let (allowed, allowed_page) = serve_page();
    let (other, other_page) = serve_page();
    let text = TEST_CONFIG.replace(
        "[routes.upload]\nallowed_types = [\"image/*\", \"video/*\"",
        &format!(
            "[routes.cors]\nallow_origins = [\"{allowed}\"]\nallow_headers = [\"Authorization\"]\n\
             expose_headers = [\"X-Request-Id\"]\n\
             [routes.upload]\nallowed_types = [\"image/*\", \"video/*\""
        ),
    );
    assert!(text.contains("[routes.cors]"), "the template changed");
    let gw = TestGateway::start_with(&text, up.addr);
    let target = format!("http://{}/media", gw.addr);
    allowed_page.set(page(&target, &png)).unwrap();
    other_page.set(page(&target, &png)).unwrap();

    let seen = browse(&format!("{allowed}/"));
    assert!(
        seen.starts_with("status=201 request_id=") && !seen.contains("request_id=none"),
        "{seen}"
    );
    let got = up.wait_for(1);
    assert_eq!(got.len(), 1, "the preflight never reached the backend");
    assert!(got[0].complete);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].header("origin"), Some(allowed.as_str()));
    let body = &got[0].body;
    let at = body.windows(png.len()).position(|w| w == png.as_slice());
    assert!(at.is_some(), "the PNG arrived byte-identical");
    assert!(
        seen.ends_with(&format!("received={}", got[0].body_len)),
        "{seen}"
    );

    let seen = browse(&format!("{other}/"));
    assert_eq!(seen, "failed=TypeError", "the browser refused to send it");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(up.received().len(), 1, "nothing from the other origin");
}
