//! Verifying a SigV4 signature at the gateway (`[routes.s3] secrets`), before a body byte is
//! read: the canonical request is rebuilt from exactly what the storage will receive (the
//! gateway changes none of it, src/s3.rs), so a signature the gateway accepts is one the storage
//! accepts too. The payload itself is not hashed here: a signed payload hash, and aws-chunked
//! chunk signatures, are the storage's to check (it stores nothing when they fail). Canonical
//! forms as AWS documents them ("Create a canonical request for Signature Version 4") and as
//! s3s verifies them (its raw-path retry for clients that sign reserved characters unencoded).

use super::SigV4;
use crate::rejection::Rejection;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use pingora::http::RequestHeader;
use sha2::{Digest, Sha256};

/// How far a header-signed request's `X-Amz-Date` may be from the gateway's clock (S3's 15 min).
const MAX_SKEW_SECS: u64 = 900;
/// The longest a presigned URL may be valid (S3's seven days).
const MAX_EXPIRES_SECS: u64 = 604_800;

fn mismatch(m: &str) -> Rejection {
    Rejection::SignatureMismatch(m.to_string())
}

fn bad(m: &str) -> Rejection {
    Rejection::BadRequest(m.to_string())
}

fn denied(m: &str) -> Rejection {
    Rejection::Forbidden {
        message: m.to_string(),
        missing_scopes: Vec::new(),
    }
}

/// Checks `sig` (as read from `req`) against `secret` at `now` (Unix seconds).
pub(super) fn verify(
    sig: &SigV4,
    req: &RequestHeader,
    query: &str,
    secret: &str,
    now: u64,
) -> Result<(), Rejection> {
    let date = sig
        .date
        .as_deref()
        .ok_or_else(|| bad("a SigV4 request must carry X-Amz-Date"))?;
    let at = amz_date(date).ok_or_else(|| bad("a malformed X-Amz-Date"))?;
    let scope: Vec<&str> = sig.scope.split('/').collect();
    let [day, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(bad("a malformed SigV4 credential scope"));
    };
    if !date.starts_with(day) || *service != "s3" {
        return Err(mismatch(
            "the credential scope's date or service does not match the request",
        ));
    }
    if sig.presigned {
        let expires = sig
            .expires
            .as_deref()
            .and_then(|e| e.parse::<u64>().ok())
            .filter(|e| (1..=MAX_EXPIRES_SECS).contains(e))
            .ok_or_else(|| bad("X-Amz-Expires must be 1 to 604800 seconds"))?;
        if at > now + MAX_SKEW_SECS {
            return Err(denied("the presigned URL is dated in the future"));
        }
        if now > at + expires {
            return Err(denied("the presigned URL has expired"));
        }
    } else if now.abs_diff(at) > MAX_SKEW_SECS {
        return Err(denied(
            "RequestTimeTooSkewed: the request's X-Amz-Date is more than 15 minutes from now",
        ));
    }
    if !sig.signed.iter().any(|h| h == "host") {
        return Err(mismatch("the signature must cover the Host header"));
    }
    let payload = if sig.presigned {
        "UNSIGNED-PAYLOAD"
    } else {
        req.headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad("a header-signed S3 request must carry x-amz-content-sha256"))?
    };
    let given = signature_bytes(&sig.signature)?;
    let key = signing_key(secret, day, region);
    let signed_with = |raw_path: bool| -> Result<bool, Rejection> {
        let canonical = canonical_request(req, query, sig, payload, raw_path)?;
        Ok(signed(&key, date, &sig.scope, &canonical)
            .verify_slice(&given)
            .is_ok())
    };
    let raw_differs = req
        .uri
        .path()
        .bytes()
        .any(|b| !b.is_ascii_alphanumeric() && !b"-_.~/%".contains(&b));
    if signed_with(false)? || (raw_differs && signed_with(true)?) {
        Ok(())
    } else {
        Err(mismatch(
            "the gateway verified the signature: it does not match the request (check the key \
             and signing method)",
        ))
    }
}

/// A presigned POST form's signature: the policy field, signed with the scope's key.
pub(super) fn verify_post(form: &super::post::Form, secret: &str) -> Result<(), Rejection> {
    let (day, region) = form.day_and_region();
    if !form.date.starts_with(day) || !form.scope.ends_with("/s3/aws4_request") {
        return Err(mismatch(
            "the credential scope's date or service does not match the form",
        ));
    }
    let given = signature_bytes(&form.signature)?;
    let key = signing_key(secret, day, region);
    match hmac(&key, form.policy.as_bytes()).verify_slice(&given) {
        Ok(()) => Ok(()),
        Err(_) => Err(mismatch(
            "the gateway verified the form's signature: it does not match its policy (check \
             the key and signing method)",
        )),
    }
}

/// The SHA-256 of an empty payload.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Signs a body-less request the gateway sends itself (an abort) with header SigV4: sets
/// `x-amz-date`, `x-amz-content-sha256` and `Authorization`. `req` must carry `host`.
pub(super) fn sign(
    req: &mut RequestHeader,
    access_key: &str,
    secret: &str,
    region: &str,
    now: u64,
) -> Option<()> {
    let date: String = crate::clock::rfc3339(now)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    req.insert_header("x-amz-date", &date).ok()?;
    req.insert_header("x-amz-content-sha256", EMPTY_SHA256)
        .ok()?;
    let day = date.get(..8)?;
    let sig = SigV4 {
        access_key: access_key.to_string(),
        scope: format!("{day}/{region}/s3/aws4_request"),
        signed: ["host", "x-amz-content-sha256", "x-amz-date"]
            .map(String::from)
            .to_vec(),
        signature: String::new(),
        date: Some(date.clone()),
        expires: None,
        presigned: false,
    };
    let query = req.uri.query().unwrap_or("").to_string();
    let canonical = canonical_request(req, &query, &sig, EMPTY_SHA256, false).ok()?;
    let key = signing_key(secret, day, region);
    let signature = hex::encode(
        signed(&key, &date, &sig.scope, &canonical)
            .finalize()
            .into_bytes(),
    );
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{}, SignedHeaders={}, Signature={signature}",
        sig.scope,
        sig.signed.join(";")
    );
    req.insert_header("authorization", auth).ok()
}

/// AWS's URI encoding of a query value (`/` too).
pub(super) fn encode_value(s: &str) -> String {
    let mut out = String::new();
    uri_encode(&mut out, s, true);
    out
}

/// A signature as sent: exactly 64 lower-case hex digits (what signers write and S3 compares).
fn signature_bytes(s: &str) -> Result<[u8; 32], Rejection> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    Some(s)
        .filter(|s| s.bytes().all(lower_hex))
        .and_then(|s| hex::decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| mismatch("the signature is not 64 hex digits"))
}

fn hmac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac
}

/// The HMAC of a canonical request's string to sign, with the scope's signing key.
fn signed(key: &[u8], date: &str, scope: &str, canonical: &str) -> Hmac<Sha256> {
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    hmac(key, to_sign.as_bytes())
}

fn signing_key(secret: &str, day: &str, region: &str) -> Vec<u8> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [day, region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes()).finalize().into_bytes().to_vec();
    }
    key
}

/// `yyyymmddThhmmssZ` as Unix seconds.
fn amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let (d, t) = (&s[..8], &s[9..15]);
    crate::clock::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[..4],
        &d[4..6],
        &d[6..],
        &t[..2],
        &t[2..4],
        &t[4..]
    ))
}

/// The canonical request. `raw_path`: the path as sent instead of decoded and re-encoded.
fn canonical_request(
    req: &RequestHeader,
    query: &str,
    sig: &SigV4,
    payload: &str,
    raw_path: bool,
) -> Result<String, Rejection> {
    let mut out = format!("{}\n", req.method.as_str());
    let path = req.uri.path();
    if raw_path {
        out.push_str(path);
    } else {
        let decoded = percent_decode(path).ok_or_else(|| bad("a malformed path"))?;
        uri_encode(&mut out, &decoded, false);
    }
    out.push('\n');
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = crate::query::decode(k).ok_or_else(|| bad("a malformed query string"))?;
        if sig.presigned && k == "X-Amz-Signature" {
            continue;
        }
        let v = crate::query::decode(v).ok_or_else(|| bad("a malformed query string"))?;
        let (mut ek, mut ev) = (String::new(), String::new());
        uri_encode(&mut ek, &k, true);
        uri_encode(&mut ev, &v, true);
        params.push((ek, ev));
    }
    params.sort();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in &sig.signed {
        let mut values: Vec<&str> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                v.to_str()
                    .map_err(|_| mismatch("a signed header is not text"))
            })
            .collect::<Result<_, _>>()?;
        if values.is_empty() && name == "host" {
            // HTTP/2 carries the host as `:authority`.
            values.extend(req.uri.authority().map(|a| a.as_str()));
        }
        if values.is_empty() {
            return Err(mismatch("a header the signature covers is missing"));
        }
        out.push_str(name);
        out.push(':');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let words: Vec<&str> = v.split_ascii_whitespace().collect();
            out.push_str(&words.join(" "));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&sig.signed.join(";"));
    out.push('\n');
    out.push_str(payload);
    Ok(out)
}

/// AWS's URI encoding: every byte but `A-Za-z0-9-_.~` as `%XX`; in a path, `/` stays.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

fn uri_encode(out: &mut String, s: &str, encode_slash: bool) {
    let set = if encode_slash { UNRESERVED } else { PATH };
    out.extend(utf8_percent_encode(s, set));
}

/// `%XX` decoded (a `+` in a path is a `+`); `None` for a broken escape or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let escapes_whole = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| {
            b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        });
    escapes_whole.then_some(())?;
    let decoded = percent_encoding::percent_decode(b).decode_utf8().ok()?;
    Some(decoded.into_owned())
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
