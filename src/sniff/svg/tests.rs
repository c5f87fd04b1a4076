use super::*;

/// The verdict for `file` fed whole, then split at every offset (and byte by byte): one answer.
fn verdict(file: &[u8]) -> Verdict {
    let run = |cuts: &[usize]| {
        let mut c = SvgCheck::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([&file.len()]) {
            c.feed(&file[last..cut])?;
            last = cut;
        }
        c.finish()
    };
    let whole = run(&[]);
    let step = (file.len() / 300).max(1);
    for at in (0..=file.len()).step_by(step) {
        assert_eq!(
            run(&[at]),
            whole,
            "split at {at}: {}",
            String::from_utf8_lossy(file)
        );
    }
    if file.len() < 4096 {
        let every: Vec<usize> = (1..file.len()).collect();
        assert_eq!(run(&every), whole, "byte by byte");
    }
    whole
}

const CLEAN: &[&str] = &[
    r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>"##,
    "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<!-- made by hand -- really -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"><defs><linearGradient id=\"g\"><stop offset=\"0\" stop-color=\"#fff\"/></linearGradient><path id=\"p\" d=\"M0 0L10 10\"/></defs><use xlink:href=\"#p\"/><use href=\" #p \"/><circle r=\"4\" style=\"fill:url(#g);stroke:#000\"/><text x=\"1\">Tom &amp; Jerry &lt;3 &#x263A; onload=x javascript:</text></svg>\n",
    r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><sodipodi:namedview inkscape:zoom="1"/><metadata><rdf:RDF><rdf:Description rdf:about=""/></rdf:RDF></metadata><g inkscape:label="Layer 1" inkscape:groupmode="layer"><ellipse rx="1" ry="2"/></g></svg>"##,
    r##"<svg xmlns="http://www.w3.org/2000/svg"><style><![CDATA[ .a { fill: url( '#g' ) } rect > .b { stroke: blue } ]]></style><style>.c{fill:#0f0}</style><image width="1" height="1" href="data:image/png;base64,iVBORw0KGgo="/><filter id="f"><feGaussianBlur stdDeviation="2"/></filter></svg>"##,
];

#[test]
fn clean_svgs_pass_however_chunked() {
    for svg in CLEAN {
        assert_eq!(verdict(svg.as_bytes()), Ok(()), "{svg}");
    }
}

#[test]
fn script_by_every_spelling_is_refused_however_chunked() {
    let spaces = " ".repeat(1 << 20);
    let hostile = [
        r##"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_string(),
        r##"<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><x:script xmlns:x="http://www.w3.org/2000/svg">alert(1)</x:script></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></foreignObject></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><g><h:p xmlns:h="http://www.w3.org/1999/xhtml">x</h:p></g></svg>"##.into(),
        "<!DOCTYPE svg [<!ENTITY x \"&#60;script&#62;alert(1)&#60;/script&#62;\">]><svg xmlns=\"http://www.w3.org/2000/svg\">&x;</svg>".into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg">&x;</svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"/></foreignObject></svg>"##.into(),
        format!(r##"<svg xmlns="http://www.w3.org/2000/svg"><image href="#x" onerror{spaces}="alert(1)"/></svg>"##),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><image href="#x" onerror="alert(1)"/></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg" x:onload="alert(1)" xmlns:x="urn:x"/>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript&#58;alert(1)"><text>x</text></a></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="&#x6a;avascript:alert(1)"><text>x</text></a></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><a href="java&#x09;script:alert(1)"><text>x</text></a></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><a href="https://evil.example/"><text>x</text></a></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><a><animate attributeName="href" values="&#106;avascript:alert(1)"/><text>x</text></a></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="onload" to="alert(1)"/></svg>"##.into(),
        "<?xml-stylesheet type=\"text/xsl\" href=\"data:,x\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>".into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://evil.example/x.css);</style></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><style>.a{background:url(https://evil.example/x)}</style></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><style>@\69mport "x";</style></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><rect style="background:url(javascript:alert(1))"/></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/svg+xml;base64,PHN2Zy8+"/></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><use href="data:image/png;base64,AAAA"/></svg>"##.into(),
        "<!doctype html>\n<svg></svg><img src=\"x\"onerror=\"alert(1)\">".into(),
        "<svg></svg><img src=\"x\" onerror=\"alert(1)\">".into(),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>x<script>alert(1)</script>".into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><rect/>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><rect></g></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><embed src="x"/></svg>"##.into(),
        r##"<svg xmlns="http://www.w3.org/2000/svg"><rect x=1/></svg>"##.into(),
    ];
    for svg in &hostile {
        let v = verdict(svg.as_bytes());
        assert!(v.is_err(), "accepted: {}", &svg[..svg.len().min(200)]);
    }
}

#[test]
fn comments_and_cdata_end_only_at_their_terminators() {
    // `-->` and `]]>` split across chunks; `--` and `]]` inside do not end them.
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg"><!-- a -- b - > <script> --><style><![CDATA[ .x{fill:red} ]] ]]></style></svg>"##;
    assert_eq!(verdict(svg.as_bytes()), Ok(()));
    let hidden = r##"<svg xmlns="http://www.w3.org/2000/svg"><style><![CDATA[ ]]]]><![CDATA[>@import "x"; ]]></style></svg>"##;
    assert!(verdict(hidden.as_bytes()).is_err());
}

#[test]
fn depth_and_token_sizes_are_bounded() {
    let deep = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\">{}{}</svg>",
        "<g>".repeat(300),
        "</g>".repeat(300)
    );
    assert!(verdict(deep.as_bytes()).is_err());
    let long = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><path d=\"{}\"/></svg>",
        "M0 0".repeat(20_000)
    );
    assert!(verdict(long.as_bytes()).is_err());
}
