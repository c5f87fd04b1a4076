//! Facts read off the request head, the one way: a header's first value, how often it was
//! sent, and `Content-Length`. A leaf of the proxy glue (everything else may import it).

use crate::rejection::Rejection;
use pingora::http::RequestHeader;

/// The first value of `name`, if sent.
pub fn header<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a [u8]> {
    let mut all = req.headers.get_all(name).iter();
    let first = all.next()?;
    Some(first.as_bytes())
}

/// How many times `name` was sent.
pub fn count(req: &RequestHeader, name: &str) -> usize {
    req.headers.get_all(name).iter().count()
}

/// The request's `Content-Length`: `None` when absent, an error unless it is ASCII digits
/// (pingora already refuses duplicates, and drops it beside `Transfer-Encoding`). The one
/// reading of it: framing, the quota's storage ask, the sniff window and JSON bodies agree.
pub fn content_length(req: &RequestHeader) -> Result<Option<u64>, Rejection> {
    let Some(v) = header(req, "content-length") else {
        return Ok(None);
    };
    let digits = !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit);
    std::str::from_utf8(v)
        .ok()
        .filter(|_| digits)
        .and_then(|s| s.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| Rejection::BadRequest("malformed Content-Length".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cl: Option<&str>) -> RequestHeader {
        let mut r = RequestHeader::build("POST", b"/media", None).unwrap();
        if let Some(v) = cl {
            r.insert_header("content-length", v).unwrap();
        }
        r
    }

    #[test]
    fn content_length_is_digits_or_refused() {
        assert_eq!(content_length(&req(None)), Ok(None));
        assert_eq!(content_length(&req(Some("0"))), Ok(Some(0)));
        assert_eq!(content_length(&req(Some("14405"))), Ok(Some(14405)));
        for bad in [
            "+5",
            "-1",
            " 5",
            "5 ",
            "0x10",
            "1e3",
            "",
            "99999999999999999999",
        ] {
            assert!(content_length(&req(Some(bad))).is_err(), "{bad:?}");
        }
    }
}
