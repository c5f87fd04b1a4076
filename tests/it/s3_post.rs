//! Presigned POST forms (`[routes.s3] presigned_post = true`) as a browser sends them, signed
//! by boto3's `generate_presigned_post`, against `s3s-fs` (which checks the form's signature and
//! policy): the file's detected type and size are held to the policy, the file must be last,
//! and nothing refused is stored. Run with and without the gateway verifying signatures.

use crate::common::{Request, TestGateway, free_port, wait_until_listening};
use crate::s3::{config, objects_on_disk, run_scenarios, secret_file, storage, verifying};

#[test]
fn presigned_post_forms_are_held_to_their_policy_by_their_bytes() {
    for verify in [false, true] {
        let s3 = storage();
        let admin = format!("127.0.0.1:{}", free_port());
        let token = s3.root.join("admin.token");
        std::fs::write(&token, "admin-token-for-post-tests-000").unwrap();
        let quotas = format!(
            "[admin]\naddress = \"{admin}\"\ntoken_file = \"{}\"\n[quotas]\n\
             default_tier = \"t\"\n[quotas.tiers.t]\nstorage_bytes = 1000000\nfile_count = 10\n",
            token.display()
        );
        let text = match verify {
            true => verifying(&config(), &secret_file(&s3)),
            false => config(),
        };
        let gw = TestGateway::start_with(&format!("{text}{quotas}"), s3.addr);
        wait_until_listening(admin.parse().unwrap());
        let r = run_scenarios(&gw, &s3, "post");
        let outcome = |name: &str| (r[name]["status"].as_u64(), r[name]["code"].as_str());
        assert_eq!(r["jpeg"]["status"], 204, "verify {verify}: {r}");
        assert_eq!(r["jpeg_stored"]["sha256"], r["jpeg_sha256"], "{r}");
        // A PDF declared image/jpeg; a PDF declared as one under an image/* policy.
        assert_eq!(
            outcome("pdf_as_jpeg"),
            (Some(400), Some("InvalidArgument")),
            "{r}"
        );
        assert_eq!(
            outcome("pdf_as_pdf"),
            (Some(403), Some("AccessDenied")),
            "{r}"
        );
        assert_eq!(
            outcome("too_large"),
            (Some(400), Some("EntityTooLarge")),
            "{r}"
        );
        assert_eq!(
            outcome("file_not_last"),
            (Some(400), Some("MalformedPOSTRequest")),
            "{r}"
        );
        assert_eq!(
            outcome("unknown_key"),
            (Some(403), Some("AccessDenied")),
            "{r}"
        );
        assert_eq!(outcome("expired"), (Some(403), Some("AccessDenied")), "{r}");
        // A bad signature: the storage's refusal, or with the keys the gateway's own.
        assert_eq!(
            outcome("tampered"),
            (Some(403), Some("SignatureDoesNotMatch")),
            "{r}"
        );
        let body = r["tampered"]["body"].as_str().unwrap_or("");
        assert_eq!(body.contains("the gateway verified"), verify, "{body}");
        assert_eq!(outcome("redirected").0, Some(303), "{r}");
        assert_eq!(
            r["listed"],
            serde_json::json!(["back.jpg", "up.jpg"]),
            "{r}"
        );
        // Two Content-Type headers (the storage might read the other boundary): refused
        // before the storage is contacted, like any upload's.
        let jpg = crate::common::fixture("media/photo.jpg");
        let form = upload_gateway::multipart::Form::new("twoct")
            .field("key", "twoct.jpg")
            .file("file", "twoct.jpg", "image/jpeg", &jpg);
        let ct = form.content_type();
        let two = gw
            .request()
            .path("/media")
            .header("Content-Type", &ct)
            .header("Content-Type", "multipart/form-data; boundary=other")
            .body(&form.finish());
        assert_eq!(two.status, 400, "{}", String::from_utf8_lossy(&two.body));
        let text = String::from_utf8_lossy(&two.body);
        assert!(text.contains("more than one Content-Type"), "{text}");
        assert_eq!(objects_on_disk(&s3), ["back.jpg", "up.jpg"]);
        // Both stored forms count, the redirected one too; the refused ones hold nothing.
        let usage = Request::new(admin.parse().unwrap())
            .method("GET")
            .path("/usage/org-example")
            .header("Authorization", "Bearer admin-token-for-post-tests-000")
            .body(b"")
            .json();
        let jpg = crate::common::fixture("media/photo.jpg").len() as u64;
        assert_eq!(usage["quotas"][0]["used"], 2 * jpg, "{usage}");
        assert_eq!(usage["quotas"][1]["used"], 2, "{usage}");
    }
}
