//! S3 multipart uploads through the inspected route (`[routes.s3] multipart = true`), with
//! boto3 against `s3s-fs`: `upload_file` of a 64 MiB MP4 in 8 MiB parts is stored whole; a
//! 64 MiB ELF declared `video/mp4` is refused at part 1 and never becomes an object; parts sent
//! in reverse order, or through two gateway instances sharing a Redis store, complete; a
//! Complete listing a part that did not go through the gateway (or no part 1) is refused and the
//! upload aborted at the storage; another tenant's key cannot add a part.

use crate::common::quota_support::Redis;
use crate::common::{TestGateway, free_port, sha256_hex};
use crate::s3::{KEY, SECRET, Storage, config, objects_on_disk, run_env, storage};

/// The example with a second tenant's key (unknown to the storage) and both keys' secrets.
fn two_tenants(s3: &Storage) -> String {
    let dir = &s3.root;
    std::fs::write(dir.join("a.key"), SECRET).unwrap();
    std::fs::write(dir.join("b.key"), "x".repeat(40)).unwrap();
    let line = format!("access_keys = {{ {KEY} = \"org-example\" }}");
    let text = config().replace(
        &line,
        &format!(
            "access_keys = {{ {KEY} = \"orgA\", AKIDORGB = \"orgB\" }}\n\
             secrets = {{ {KEY} = {{ file = \"{}\" }}, AKIDORGB = {{ file = \"{}\" }} }}",
            dir.join("a.key").display(),
            dir.join("b.key").display()
        ),
    );
    assert_eq!(
        text.matches("\nsecrets =").count(),
        2,
        "the example changed"
    );
    assert!(
        text.contains("multipart = true"),
        "the example takes multipart"
    );
    text
}

fn outcome(v: &serde_json::Value) -> (Option<u64>, Option<&str>) {
    (v["status"].as_u64(), v["code"].as_str())
}

#[test]
fn multipart_uploads_are_inspected_at_part_one_and_gated_at_complete() {
    let s3 = storage();
    let gw = TestGateway::start_with(&two_tenants(&s3), s3.addr);
    let r = run_env(&format!("http://{}", gw.addr), &s3, "multipart", None, &[]);
    // upload_file: 8 parts, stored byte for byte.
    assert_eq!(r["upload_file_mp4"]["status"], 200, "{r}");
    assert!(r["upload_file_parts"].as_u64() >= Some(8), "{r}");
    assert_eq!(
        r["upload_file_mp4_stored"]["sha256"], r["mp4_sha256"],
        "{r}"
    );
    // An ELF under video/mp4: part 1 refused (boto3 then aborts), no object.
    assert_eq!(r["upload_file_elf"]["code"], "InvalidArgument", "{r}");
    assert_eq!(r["upload_file_elf_stored"]["code"], "NoSuchKey", "{r}");
    // Reverse order completes.
    assert_eq!(r["reverse"]["complete"]["status"], 200, "{r}");
    assert_eq!(r["reverse_stored"]["sha256"], r["small_sha256"], "{r}");
    // A completed upload's records are gone: Complete again finds no such upload.
    assert_eq!(
        outcome(&r["reverse_again"]),
        (Some(404), Some("NoSuchUpload")),
        "{r}"
    );
    // Part 1 straight to the storage, or no part 1: Complete refused, the upload aborted.
    for name in ["bypass", "no_first"] {
        assert_eq!(
            outcome(&r[name]["complete"]),
            (Some(403), Some("AccessDenied")),
            "{name}: {r}"
        );
        assert_eq!(r[format!("{name}_open")], false, "{name} aborted: {r}");
    }
    assert_eq!(r["bypass_stored"]["code"], "NoSuchKey", "{r}");
    // Types checked whole (structure rules on PNG) or not allowed: refused at creation.
    for name in ["create_png", "create_exe"] {
        assert_eq!(
            outcome(&r[name]["create"]),
            (Some(400), Some("InvalidArgument")),
            "{name}: {r}"
        );
    }
    // Another tenant's key finds no such upload.
    assert_eq!(
        outcome(&r["other_tenant_part"]),
        (Some(404), Some("NoSuchUpload")),
        "{r}"
    );
    // (The rest of that upload, without part 2, is the storage's to judge: s3s-fs refuses the
    // gap.)
    let stored = ["big.mp4", "reverse.mp4"];
    assert_eq!(r["listed"], serde_json::json!(stored), "{r}");
    let on_disk: Vec<String> = objects_on_disk(&s3)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(on_disk, stored);
}

/// Two instances share the records through Redis: parts alternate between them, in no order.
/// The total is checked against the type's limit at Complete, and counted once in the quota.
#[test]
fn parts_may_go_through_any_instance_sharing_the_store() {
    let s3 = storage();
    let redis = Redis::start();
    let admin = format!("127.0.0.1:{}", free_port());
    let token_file = s3.root.join("admin.token");
    std::fs::write(&token_file, "admin-token-for-mpu-tests-0000").unwrap();
    let store = format!(
        "[admin]\naddress = \"{admin}\"\ntoken_file = \"{}\"\n\
         [quotas]\nstore = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"mpu{}\"\n\
         default_tier = \"t\"\n[quotas.tiers.t]\nstorage_bytes = 100000000\nfile_count = 10\n",
        token_file.display(),
        redis.url(),
        free_port()
    );
    // Parts of 6 MiB pass the 20 MiB video limit; a 24 MiB whole does not.
    let text =
        format!("{}{store}", two_tenants(&s3)).replace("video = 1073741824", "video = 20971520");
    assert!(text.contains("video = 20971520"), "the example changed");
    let a = TestGateway::start_with(&text, s3.addr);
    crate::common::wait_until_listening(admin.parse().unwrap());
    let b = TestGateway::start_with(
        &text.replace(&admin, &format!("127.0.0.1:{}", free_port())),
        s3.addr,
    );
    let second = format!("http://{}", b.addr);
    let r = run_env(
        &format!("http://{}", a.addr),
        &s3,
        "instances",
        None,
        &[("GATEWAY2", &second)],
    );
    assert_eq!(r["alternating"]["complete"]["status"], 200, "{r}");
    assert_eq!(r["alternating_stored"]["sha256"], r["small_sha256"], "{r}");
    assert_eq!(
        outcome(&r["too_large"]["complete"]),
        (Some(400), Some("EntityTooLarge")),
        "{r}"
    );
    assert_eq!(r["too_large_open"], false, "aborted: {r}");
    assert_eq!(r["listed"], serde_json::json!(["alt.mp4"]), "{r}");
    let alt = std::fs::read(s3.root.join("media/alt.mp4")).unwrap();
    assert_eq!(sha256_hex(&alt), r["small_sha256"].as_str().unwrap());
    // The completed object counts once, as one file of its size; the refused one not at all.
    let usage = crate::common::Request::new(admin.parse().unwrap())
        .method("GET")
        .path("/usage/orgA")
        .header("Authorization", "Bearer admin-token-for-mpu-tests-0000")
        .body(b"")
        .json();
    assert_eq!(usage["quotas"][0]["metric"], "storage_bytes", "{usage}");
    assert_eq!(usage["quotas"][0]["used"], alt.len() as u64, "{usage}");
    assert_eq!(usage["quotas"][1]["used"], 1, "{usage}");
}
