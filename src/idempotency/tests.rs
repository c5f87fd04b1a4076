use super::*;
use crate::quota::MemoryStore;

fn rules(f: &str) -> Result<Idempotency, Vec<ConfigError>> {
    Idempotency::from_config(&toml::from_str(f).unwrap(), "routes[0].idempotency")
}

#[test]
fn keys_are_visible_ascii_up_to_255_quoted_or_bare() {
    let r = rules("").unwrap();
    assert_eq!(r.key_of(&[]), Ok(None));
    assert_eq!(r.key_of(&[b"abc-1"]), Ok(Some("abc-1".into())));
    assert_eq!(r.key_of(&[b"\"abc-1\""]), Ok(Some("abc-1".into())));
    assert_eq!(r.key_of(&[&[b'k'; 255]]).unwrap().unwrap().len(), 255);
    for bad in [
        &b""[..],
        b"\"\"",
        &[b'k'; 256],
        b"a b",
        b"caf\xc3\xa9",
        b"a\"b",
    ] {
        assert!(r.key_of(&[bad]).is_err(), "{bad:?}");
    }
    assert!(r.key_of(&[b"a", b"b"]).is_err(), "two keys");
}

#[test]
fn config_defaults_and_errors() {
    let r = rules("").unwrap();
    assert_eq!(r.header.as_str(), "idempotency-key");
    assert_eq!(
        (r.ttl_ms, r.lock_ms, r.max_response_bytes),
        (86_400_000, 600_000, 65_536)
    );
    assert!(r.replay_headers.iter().any(|h| h == "location"));
    let e = rules("required = true\nderive = true\nttl_seconds = 0\nheader = \"a b\"").unwrap_err();
    let at: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        at,
        [
            "routes[0].idempotency.header",
            "routes[0].idempotency.derive",
            "routes[0].idempotency.ttl_seconds"
        ]
    );
}

#[test]
fn store_keys_and_fingerprints_do_not_collide_across_parts() {
    assert_ne!(
        store_key("r", "t", "ab", "c"),
        store_key("r", "t", "a", "bc")
    );
    // The same key from two tenants, or from two credentials of one tenant, is two records.
    assert_ne!(
        store_key("r", "orgA", "key:1", "k"),
        store_key("r", "orgB", "key:1", "k")
    );
    assert_ne!(
        store_key("r", "orgA", "key:1", "k"),
        store_key("r", "orgA", "key:2", "k")
    );
    let fp = |parts: &[&[u8]]| {
        let mut f = Fingerprint::of_request("POST", "/m");
        parts.iter().for_each(|p| f.add(p));
        f.hex()
    };
    assert_ne!(fp(&[b"ab", b"c"]), fp(&[b"a", b"bc"]));
    assert_eq!(fp(&[b"x"]), fp(&[b"x"]));
}

#[tokio::test]
async fn memory_store_claims_once_and_only_the_owner_completes() {
    let s = MemoryStore::default();
    assert_eq!(s.claim("k", "mine", 60_000).await.unwrap(), None);
    assert_eq!(
        s.claim("k", "theirs", 60_000).await.unwrap().as_deref(),
        Some("mine")
    );
    s.replace("k", "theirs", "done-by-them", 60_000)
        .await
        .unwrap();
    s.release("k", "theirs").await.unwrap();
    assert_eq!(s.claim("k", "x", 1).await.unwrap().as_deref(), Some("mine"));
    s.replace("k", "mine", "done", 60_000).await.unwrap();
    assert_eq!(s.claim("k", "x", 1).await.unwrap().as_deref(), Some("done"));
    s.release("k", "mine").await.unwrap();
    assert_eq!(s.claim("k", "x", 1).await.unwrap().as_deref(), Some("done"));
    // Expired records are free again.
    assert_eq!(s.claim("e", "old", 1).await.unwrap(), None);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(s.claim("e", "new", 60_000).await.unwrap(), None);
}

#[test]
fn records_round_trip() {
    let r = Record::Done {
        fingerprint: "f".into(),
        response: StoredResponse {
            status: 201,
            headers: vec![("location".into(), "/m/1".into())],
            body: hex::encode(b"{}"),
        },
    };
    assert_eq!(Record::decode(&r.encode()).unwrap(), r);
    assert!(Record::decode("garbage").is_err());
}
