//! Request ids: kept from the client's `X-Request-Id` when it is sane, generated otherwise.
//! Sent upstream, returned to the client and written into every error body.

use rand::Rng;

pub const HEADER: &str = "x-request-id";

/// The id for a request given the client's header value, if any.
pub fn from_client(value: Option<&[u8]>) -> String {
    match value {
        Some(v) if is_sane(v) => String::from_utf8_lossy(v).into_owned(),
        _ => generate(),
    }
}

fn is_sane(v: &[u8]) -> bool {
    (1..=128).contains(&v.len())
        && v.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
}

/// A fresh random id (128 bits, hex).
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_ids_and_replaces_others() {
        assert_eq!(from_client(Some(b"abc-123")), "abc-123");
        assert_eq!(from_client(Some(b"bad id\r\n")).len(), 32);
        assert_eq!(from_client(None).len(), 32);
        assert_ne!(generate(), generate());
    }
}
