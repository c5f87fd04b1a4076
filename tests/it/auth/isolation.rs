//! Credential isolation: what a route does not verify never reaches the backend, and test-mode
//! keys never touch a live one.

use super::*;

#[test]
fn credentials_a_route_does_not_read_never_reach_the_backend() {
    let e = env();
    let jwt = bearer(&sign(Algorithm::HS256, None, &claims(json!("media:write"))));
    // The Authorization route, with a valid live key in the other route's header.
    let resp = upload_with(&e, ("Authorization", &jwt));
    assert_eq!(resp.status, 201);
    let resp =
        e.gw.request()
            .header("Authorization", &jwt)
            .header("soku-api-key", &e.live_key)
            .form(png_form());
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(2).pop().unwrap();
    assert_eq!(
        got.header("soku-api-key"),
        None,
        "unread credential forwarded"
    );
    assert_eq!(got.header("x-auth-subject"), Some("user-1"));
    // The soku-api-key route, with a second user's bearer token in Authorization.
    let resp =
        e.gw.request()
            .path("/soku/media")
            .header("soku-api-key", &e.live_key)
            .header("Authorization", &jwt)
            .form(png_form());
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(3).pop().unwrap();
    assert_eq!(
        got.header("authorization"),
        None,
        "unread credential forwarded"
    );
    assert_eq!(got.header("x-auth-key-label"), Some("live-uploader"));
}

#[test]
fn test_mode_keys_never_reach_a_live_backend() {
    let e = env();
    let resp =
        e.gw.request()
            .method("DELETE")
            .path("/media/42")
            .header("Authorization", &bearer(&e.test_key))
            .body(b"");
    resp.assert_error(403, "forbidden");
    let message = resp.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("test-mode"), "{message}");
    e.media.assert_untouched();
    assert!(e.sandbox.received().is_empty());
    // A live key is fine there, and a route that opts in takes test keys.
    let resp =
        e.gw.request()
            .method("DELETE")
            .path("/media/42")
            .header("Authorization", &bearer(&e.live_key))
            .body(b"");
    assert_eq!(resp.status, 201);
    let resp =
        e.gw.request()
            .method("DELETE")
            .path("/playground/42")
            .header("Authorization", &bearer(&e.test_key))
            .body(b"");
    assert_eq!(resp.status, 201);
    let got = e.media.wait_for(2).pop().unwrap();
    assert_eq!(got.header("x-auth-mode"), Some("test"));
}
