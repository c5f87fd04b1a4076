//! Query-string rules for passthrough routes (`[routes.query.NAME] min/max`): integer ranges
//! such as `page_size ≤ 100`. Names and values are percent-decoded exactly as a backend's
//! parser would (`%5F`, `+`), and a ruled parameter sent twice is refused — the gateway and the
//! backend could otherwise read different values.

use crate::rejection::Rejection;
use std::collections::BTreeMap;

/// An integer range for one parameter (either end optional).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// The rules of one route, by parameter name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRules(pub BTreeMap<String, IntRange>);

impl QueryRules {
    /// Checks a raw query string (without `?`).
    pub fn check(&self, query: &str) -> Result<(), Rejection> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut seen = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(k).ok_or_else(|| malformed(k))?;
            let Some(range) = self.0.get(&name) else {
                continue;
            };
            if seen.contains(&name) {
                return Err(Rejection::BadRequest(format!(
                    "query parameter {name} is given more than once"
                )));
            }
            let value = decode(v).ok_or_else(|| malformed(v))?;
            let n = value
                .parse::<i64>()
                .ok()
                .filter(|_| value.bytes().all(|c| c.is_ascii_digit() || c == b'-'));
            let within = n.is_some_and(|n| {
                range.min.is_none_or(|m| n >= m) && range.max.is_none_or(|m| n <= m)
            });
            if !within {
                return Err(Rejection::BadRequest(format!(
                    "query parameter {name} must be an integer{}",
                    describe(range)
                )));
            }
            seen.push(name);
        }
        Ok(())
    }
}

fn malformed(s: &str) -> Rejection {
    Rejection::BadRequest(format!("malformed query string near {s:?}"))
}

fn describe(r: &IntRange) -> String {
    match (r.min, r.max) {
        (Some(a), Some(b)) => format!(" from {a} to {b}"),
        (Some(a), None) => format!(" of at least {a}"),
        (None, Some(b)) => format!(" of at most {b}"),
        (None, None) => String::new(),
    }
}

/// `application/x-www-form-urlencoded` decoding of one name or value (`+` is a space); `None`
/// for a bad escape or bytes that are not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits: `from_str_radix` alone would take "+1" as 1.
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> QueryRules {
        QueryRules(BTreeMap::from([(
            "page_size".to_string(),
            IntRange {
                min: Some(1),
                max: Some(100),
            },
        )]))
    }

    #[test]
    fn ranges_hold_whatever_the_spelling() {
        let r = rules();
        for ok in [
            "",
            "page=3",
            "page_size=100",
            "page_size=1&type=image",
            "search=a%20b",
        ] {
            assert_eq!(r.check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "page_size=101",
            "page_size=0",
            "page_size=",
            "page_size",
            "page_size=ten",
            "page_size=+5",
            "page_size=1e3",
            "page%5Fsize=1000",
            "page_size=%31%30%30%30",
            "page_size=10&page_size=1000",
            "page_size=10&page%5fsize=10",
            "page_size=99999999999999999999",
            "page_size=%zz",
        ] {
            assert!(
                matches!(r.check(bad), Err(Rejection::BadRequest(_))),
                "{bad}"
            );
        }
        assert_eq!(
            r.check("page_size=500"),
            Err(Rejection::BadRequest(
                "query parameter page_size must be an integer from 1 to 100".into()
            ))
        );
    }

    #[test]
    fn decoding_is_form_decoding() {
        assert_eq!(decode("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%ff"), None);
        assert_eq!(decode("%+1"), None, "not a sign in an escape");
        assert_eq!(decode("%-1"), None);
    }
}
