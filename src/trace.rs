//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): the gateway joins
//! the client's trace when it sends a valid `traceparent`, else starts one, and forwards a
//! `traceparent` naming its own span as the parent so the backend's spans hang under it. The
//! trace id is in every access-log line; `tracestate` passes through untouched.

use rand::Rng;

pub const HEADER: &str = "traceparent";

/// The gateway's place in a trace (empty until the request's head is read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: String,
    /// This gateway's span: 16 lower-case hex digits, not all zero.
    pub span_id: String,
    /// The trace flags (bit 0: sampled), kept from the parent.
    pub flags: u8,
}

impl TraceContext {
    /// The gateway's span in the client's trace (`traceparent` value), or in a new trace when
    /// there is none or it is invalid.
    pub fn from_client(value: Option<&[u8]>) -> Self {
        let span_id = random_hex::<8>();
        match value.and_then(parse) {
            Some((trace_id, flags)) => Self {
                trace_id,
                span_id,
                flags,
            },
            None => Self {
                trace_id: random_hex::<16>(),
                span_id,
                flags: 0,
            },
        }
    }

    /// The `traceparent` value sent upstream: this gateway's span as the parent.
    pub fn header_value(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

/// The trace id and flags of a valid `traceparent` value. Version `00` must be exactly
/// 55 bytes; a higher version may append fields after a `-` (forward compatibility); `ff`
/// is invalid; all-zero ids are invalid.
pub fn parse(v: &[u8]) -> Option<(String, u8)> {
    let s = std::str::from_utf8(v).ok()?.trim_matches([' ', '\t']);
    if s.len() < 55 || (s.len() > 55 && (s.starts_with("00") || s.as_bytes()[55] != b'-')) {
        return None;
    }
    let mut parts = s[..55].split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |x: &str, n: usize| {
        x.len() == n
            && x.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    };
    let nonzero = |x: &str| x.bytes().any(|c| c != b'0');
    let valid = hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && version != "ff"
        && nonzero(trace)
        && nonzero(parent);
    if !valid {
        return None;
    }
    Some((trace.to_string(), u8::from_str_radix(flags, 16).ok()?))
}

fn random_hex<const N: usize>() -> String {
    loop {
        let bytes: [u8; N] = rand::rng().random();
        if bytes.iter().any(|b| *b != 0) {
            return hex::encode(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn joins_a_valid_trace_with_a_span_of_its_own() {
        let t = TraceContext::from_client(Some(SAMPLE.as_bytes()));
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.flags, 1);
        assert_ne!(t.span_id, "00f067aa0ba902b7");
        let sent = t.header_value();
        assert_eq!(parse(sent.as_bytes()), Some((t.trace_id.clone(), 1)));
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn invalid_values_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
            let t = TraceContext::from_client(Some(bad.as_bytes()));
            assert_eq!((t.trace_id.len(), t.flags), (32, 0));
        }
        // A later version may carry more fields after the four it shares with 00.
        let v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(parse(v1.as_bytes()).is_some());
        assert_ne!(
            TraceContext::from_client(None).trace_id,
            TraceContext::from_client(None).trace_id
        );
    }
}
