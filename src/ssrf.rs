//! The URL rule of remote-ingest routes: a URL a backend will fetch must be absolute http(s),
//! carry no credentials, and name a host that is not — literally or by DNS resolution —
//! loopback, private, link-local (cloud metadata included), CGNAT, multicast, unspecified or
//! reserved. Hosts are parsed the WHATWG way (`url`), which reads `2130706433`, `0x7f000001`
//! and `0177.0.0.1` as the IPv4 address they are to `getaddrinfo` too; IPv4-mapped and NAT64
//! IPv6 addresses are judged by the IPv4 address inside. Input a lenient parser could read
//! differently (backslashes, whitespace, control characters) is refused outright.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One route field's URL rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlRule {
    /// When not empty, only these hosts (exact, or `.example.com` for subdomains) are allowed.
    pub allow_hosts: Vec<String>,
}

/// Where a URL points, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    /// A name to resolve, with the port to resolve it for.
    Name(String, u16),
}

impl UrlRule {
    /// Parses `raw` and applies every rule that needs no DNS; returns what is left to resolve.
    pub fn parse(&self, raw: &str) -> Result<Target, String> {
        if raw.len() > 2048 {
            return Err("the URL is longer than 2048 characters".into());
        }
        if raw
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
        {
            return Err("the URL contains a backslash, whitespace or control characters".into());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the scheme {:?} is not http or https",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL carries credentials".into());
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let target = match url.host() {
            None => return Err("the URL has no host".into()),
            Some(url::Host::Ipv4(ip)) => Target::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Target::Ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => Target::Name(d.trim_end_matches('.').to_string(), port),
        };
        if !self.allow_hosts.is_empty() {
            let host = url.host_str().unwrap_or("").trim_end_matches('.');
            let allowed = self.allow_hosts.iter().any(|a| match a.strip_prefix('.') {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host.eq_ignore_ascii_case(a),
            });
            if !allowed {
                return Err(format!("the host {host} is not allowed"));
            }
        }
        if let Target::Ip(ip) = &target
            && let Some(why) = blocked(*ip)
        {
            return Err(format!("the host is a {why} address"));
        }
        Ok(target)
    }

    /// [`Self::parse`], then every address a name resolves to must be allowed.
    pub async fn check(&self, raw: &str) -> Result<(), String> {
        let (name, port) = match self.parse(raw)? {
            Target::Ip(_) => return Ok(()),
            Target::Name(n, p) => (n, p),
        };
        let addrs = tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|_| format!("the host {name} cannot be resolved"))?;
        let mut any = false;
        for a in addrs {
            any = true;
            if let Some(why) = blocked(a.ip()) {
                return Err(format!("the host {name} resolves to a {why} address"));
            }
        }
        if any {
            Ok(())
        } else {
            Err(format!("the host {name} resolves to no address"))
        }
    }
}

/// Why a backend must not be sent to `ip`, if it must not.
pub fn blocked(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

/// The IANA IPv4 Special-Purpose Address Registry's ranges that are not globally reachable,
/// with multicast, reserved and broadcast. Documentation ranges (192.0.2.0/24,
/// 198.51.100.0/24, 203.0.113.0/24) route nowhere and are what examples use: they pass.
fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, _, _) => "loopback",
        (0, _, _) => "unspecified (this network)",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local or cloud metadata",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 88, 99) => "6to4 relay anycast",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

/// IPv6: only global unicast (2000::/3) less the registry's special-purpose blocks passes;
/// every translation prefix is judged by the IPv4 address inside it (IPv4-mapped,
/// 64:ff9b::/96 NAT64, 2002::/16 6to4) or refused whole where the embedding is not fixed
/// (local-use NAT64 64:ff9b:1::/48, SIIT ::ffff:0:0:0/96, Teredo within 2001::/23).
/// Documentation prefixes (2001:db8::/32, 3fff::/20) pass, as their IPv4 twins do.
fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4);
    }
    let s = ip.segments();
    let v4_at = |i: usize| {
        let [a, b] = s[i].to_be_bytes();
        let [c, d] = s[i + 1].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return blocked_v4(v4_at(6));
    }
    if s[0] == 0x2002 {
        return blocked_v4(v4_at(1)).map(|_| "6to4 address of a blocked IPv4");
    }
    Some(match s[0] {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        0 if s[1..4] == [0; 3] && s[4] == 0xffff && s[5] == 0 => "IPv4-translated (SIIT)",
        0 if s[1..6] == [0; 5] => "IPv4-compatible",
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xfc00..=0xfdff => "unique local (private)",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] < 0x0200 => "IETF special-purpose (2001::/23, Teredo included)",
        0x2000..=0x3fff => return None,
        _ => "not global unicast",
    })
}

#[cfg(test)]
mod tests;
