use super::*;

fn rule() -> UrlRule {
    UrlRule::default()
}

#[test]
fn every_spelling_of_an_internal_host_is_refused() {
    for bad in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[ff02::1]/",
        // The IANA IPv6 special-purpose registry and every translation prefix.
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2002:7f00:1::]/",
        "http://[::ffff:0:a9fe:a9fe]/",
        "http://[fec0::1]/",
        "http://[100::1]/",
        "http://[2001::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[2001:1ff::1]/",
        "http://[5f00::1]/",
        "http://[::a9fe:a9fe]/",
        "http://192.88.99.1/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "file:///etc/passwd",
        "ftp://192.0.2.1/",
        "gopher://192.0.2.1/",
        "http://user:pw@example.com/",
        "http://user@example.com/",
        "http:\\\\127.0.0.1\\",
        "http://192.0.2.1/ a",
        "/relative/path",
        "http://",
        "",
    ] {
        assert!(rule().parse(bad).is_err(), "{bad} passed");
    }
}

#[test]
fn public_hosts_pass() {
    for good in [
        "http://192.0.2.10/video.mp4",
        "https://[2001:db8::1]:8443/a.png",
        "https://198.51.100.7/x?y=1",
        "http://[2002:c000:20a::1]/",
        "http://[64:ff9b::c000:20a]/",
        "http://[2606:4700::1111]/",
        "http://[2001:200::1]/",
    ] {
        assert!(
            matches!(rule().parse(good), Ok(Target::Ip(_))),
            "{good} refused: {:?}",
            rule().parse(good)
        );
    }
    assert_eq!(
        rule().parse("https://cdn.example.com./v.mp4"),
        Ok(Target::Name("cdn.example.com".into(), 443))
    );
}

#[test]
fn an_allowlist_limits_hosts() {
    let r = UrlRule {
        allow_hosts: vec!["media.example.com".into(), ".cdn.example.net".into()],
    };
    assert!(r.parse("https://media.example.com/a").is_ok());
    assert!(r.parse("https://eu.cdn.example.net/a").is_ok());
    assert!(r.parse("https://cdn.example.net.evil.org/a").is_err());
    assert!(r.parse("https://example.com/a").is_err());
}

#[tokio::test]
async fn names_are_judged_by_what_they_resolve_to() {
    // localhost resolves through /etc/hosts: no DNS query leaves the machine.
    let e = rule().check("http://localhost:8080/x").await.unwrap_err();
    assert!(e.contains("resolves to a loopback address"), "{e}");
    assert!(rule().check("http://192.0.2.10/").await.is_ok());
}
