//! The SVG allowlist against the real consumer: headless Chromium opens every sample — each as
//! its own `image/svg+xml` document in an iframe, served from a local origin — and each sample's
//! script, if Chromium runs it, fetches `/ran/N` from that origin. Every sample is also uploaded
//! through the gateway on a route allowing SVG without active content. The differential: no
//! sample the gateway accepts runs script; every sample whose script ran was refused (nothing
//! of it complete upstream). Samples: the clean set, the hostile spellings of the review, and
//! generated combinations of script carriers (`SVG_DIFF_VARIANTS` raises the count; the short
//! run is CI's, scripts/svg-differential.sh runs the long one). Chromium comes from Debian's
//! `chromium` package (scripts/prereqs.sh).

use crate::common::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use upload_gateway::multipart::Form;

const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// Serves `/` (one iframe per sample), `/svg/N.svg` and records `/ran/N`.
fn serve(samples: Arc<Vec<String>>) -> (String, Arc<Mutex<BTreeSet<usize>>>) {
    let ran = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = ran.clone();
    let origin = serve_http(move |path| {
        if let Some(n) = path.strip_prefix("/ran/") {
            if let Ok(n) = n.parse() {
                seen.lock().unwrap().insert(n);
            }
            ("text/plain", String::new())
        } else if let Some(n) = path.strip_prefix("/svg/") {
            let n: usize = n.trim_end_matches(".svg").parse().unwrap_or(usize::MAX);
            ("image/svg+xml", samples.get(n).cloned().unwrap_or_default())
        } else {
            let frames: String = (0..samples.len())
                .map(|n| format!("<iframe src=\"/svg/{n}.svg\"></iframe>"))
                .collect();
            ("text/html", format!("<!doctype html><body>{frames}</body>"))
        }
    });
    (origin, ran)
}

/// The script a sample carries: it fetches `/ran/N` from the page's origin.
fn beacon(n: usize) -> String {
    format!("new Image().src='/ran/{n}'")
}

/// The same script entity-encoded, as an attribute value or entity text would carry it.
fn encoded(s: &str) -> String {
    s.chars().map(|c| format!("&#{};", c as u32)).collect()
}

/// Script carriers: the review's spellings and combinations of element, namespace prefix,
/// handler and case. `{B}` is the beacon, `{E}` the beacon entity-encoded.
fn carriers(variants: usize) -> Vec<String> {
    let mut out: Vec<String> = [
        "<script>{B}</script>",
        "<svg:script xmlns:svg=\"SVGNS\">{B}</svg:script>",
        "<x:script xmlns:x=\"SVGNS\">{B}</x:script>",
        "<foreignObject><h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">{B}</h:script></foreignObject>",
        "<foreignObject><iframe xmlns=\"http://www.w3.org/1999/xhtml\" srcdoc=\"&lt;script&gt;parent.{B}&lt;/script&gt;\"></iframe></foreignObject>",
        "<foreignObject><img xmlns=\"http://www.w3.org/1999/xhtml\" src=\"x\" onerror=\"{B}\"/></foreignObject>",
        "<image href=\"#nothing\" onerror=\"{B}\"/>",
        "<image href=\"#nothing\" onerror      =\"{B}\"/>",
        "<rect width=\"5\" height=\"5\"><set attributeName=\"onmouseover\" to=\"{B}\"/></rect>",
        "<animate onbegin=\"{B}\" attributeName=\"x\" dur=\"1s\"/>",
        "<g><animate onend=\"{B}\" attributeName=\"x\" dur=\"0.1s\"/></g>",
        "<script>{E}</script>",
        "<script><![CDATA[{B}]]></script>",
        "<a href=\"javascript&#58;{B}\"><text>x</text></a>",
        "<style>@import url(data:text/css,x);</style>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let elements = [
        "svg", "g", "image", "rect", "use", "animate", "set", "text", "a", "circle",
    ];
    let handlers = [
        "onload",
        "onerror",
        "ONLOAD",
        "onbegin",
        "onend",
        "onfocusin",
        "onrepeat",
        "OnLoad",
        "onmouseover",
        "onclick",
    ];
    let prefixes = ["", "s:", "q:"];
    let separators = ["=", " =", "\n=", "\t= "];
    let quotes = ['"', '\''];
    // Mixed-radix: consecutive variants differ in element and handler first.
    for i in 0..variants {
        let mut d = i;
        let mut digit = |n: usize| {
            let v = d % n;
            d /= n;
            v
        };
        let e = elements[digit(elements.len())];
        let h = handlers[digit(handlers.len())];
        let p = prefixes[digit(prefixes.len())];
        let sep = separators[digit(separators.len())];
        let q = quotes[digit(quotes.len())];
        let v = if digit(2) == 0 { "{B}" } else { "{E}" };
        let decl = if p.is_empty() {
            String::new()
        } else {
            format!(" xmlns:{}=\"SVGNS\"", &p[..1])
        };
        let href = if e == "image" || e == "use" {
            " href=\"#nothing\""
        } else {
            ""
        };
        let timing = if e == "animate" || e == "set" {
            " attributeName=\"x\" dur=\"0.1s\""
        } else {
            ""
        };
        out.push(format!(
            "<{p}{e}{decl}{href}{timing} {h}{sep}{q}{v}{q}></{p}{e}>"
        ));
    }
    out
}

fn samples(variants: usize) -> (Vec<String>, usize) {
    let clean = [
        "<rect width=\"10\" height=\"10\" fill=\"red\"/>",
        "<defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#fff\"/></linearGradient></defs><circle r=\"4\" style=\"fill:url(#g)\"/>",
        "<text x=\"1\" y=\"9\">onload=x &lt;script&gt; javascript:</text>",
        "<!-- <script>x</script> --><g><path d=\"M0 0L5 5\"/></g>",
        // Script-shaped text that is only text: accepted, and Chromium runs none of it.
        "<desc><![CDATA[<script>{B}</script>]]></desc><title>&lt;script&gt;{B}&lt;/script&gt;</title>",
        "<text data-x=\"onload={B}\">onerror={B} javascript:{B}</text>",
        "<g xmlns:x=\"urn:inert\"><x:script>{B}</x:script></g>",
        "<a href=\"#top\"><text>top</text></a><use href=\"#top\"/>",
    ];
    let mut all: Vec<String> = clean.iter().map(|c| c.to_string()).collect();
    let n_clean = all.len();
    all.extend(carriers(variants));
    let docs = all
        .iter()
        .enumerate()
        .map(|(n, inner)| {
            let inner = inner
                .replace("{B}", &beacon(n))
                .replace("{E}", &encoded(&beacon(n)))
                .replace("SVGNS", SVG_NS);
            format!("<svg xmlns=\"{SVG_NS}\" width=\"20\" height=\"20\">{inner}</svg>")
        })
        .collect();
    (docs, n_clean)
}

fn chromium(url: &str) {
    let dom = chromium_dom(url, 5000);
    assert!(dom.contains("<iframe"), "the page did not load: {dom}");
}

#[test]
fn no_svg_the_gateway_accepts_runs_script_in_chromium() {
    let variants = std::env::var("SVG_DIFF_VARIANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (docs, n_clean) = samples(variants);
    let docs = Arc::new(docs);
    let (origin, ran) = serve(docs.clone());
    chromium(&format!("{origin}/"));
    // Beacons fire within the virtual time; give the last requests a moment to land.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ran = ran.lock().unwrap().clone();

    let upstream = RecordingUpstream::start();
    let config = TEST_CONFIG.replace(
        "allowed_types = [\"image/*\", \"video/*\"",
        "allowed_types = [\"image/svg+xml\", \"image/*\", \"video/*\"",
    );
    let gw = TestGateway::start_with(&config, upstream.addr);
    let mut accepted = Vec::new();
    for (n, doc) in docs.iter().enumerate() {
        let form = Form::new("svgd").file("file", "a.svg", "image/svg+xml", doc.as_bytes());
        let r = gw.request().path("/media").form(form);
        match r.status {
            201 => accepted.push(n),
            415 => {}
            s => panic!("sample {n}: {s} {}", String::from_utf8_lossy(&r.body)),
        }
    }
    let ran_and_accepted: Vec<_> = accepted.iter().filter(|n| ran.contains(n)).collect();
    assert!(
        ran_and_accepted.is_empty(),
        "accepted and ran script in Chromium: {:?}",
        ran_and_accepted
            .iter()
            .map(|n| &docs[**n])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        accepted[..n_clean],
        (0..n_clean).collect::<Vec<_>>()[..],
        "clean samples pass"
    );
    // The differential has teeth: Chromium ran many of the hostile samples.
    assert!(
        ran.len() >= 10,
        "only {} samples ran script: {ran:?}",
        ran.len()
    );
    let refused = docs.len() - accepted.len();
    println!(
        "svg differential: {} samples, {} ran script in Chromium, {} accepted, {refused} refused",
        docs.len(),
        ran.len(),
        accepted.len()
    );
    let complete = upstream.received().iter().filter(|r| r.complete).count();
    assert_eq!(
        complete,
        accepted.len(),
        "only accepted uploads reached the upstream whole"
    );
}
