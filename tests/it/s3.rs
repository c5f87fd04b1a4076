//! S3-compatible storage behind the gateway, with real parts: `s3s-fs` (an S3 server that
//! verifies SigV4 — header and presigned — and stores objects as files) and boto3 (presigned
//! PUT, `put_object`, `copy_object`, reads), both from scripts/prereqs.sh. Every accepted upload
//! proves the signature survived the gateway; every refusal is checked on the storage's disk:
//! no object, not even a partial one.

use crate::common::{TestGateway, free_port, sha256_hex, wait_until_listening};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub(crate) const KEY: &str = "AKIDGATEWAYTEST01";
pub(crate) const SECRET: &str = "c2VjcmV0LWZvci10aGUtczMtdGVzdHMtb25seQ";

/// An `s3s-fs` on a free port, with the bucket `media`; killed and removed on drop.
pub(crate) struct Storage {
    child: Child,
    pub(crate) root: PathBuf,
    pub(crate) addr: SocketAddr,
}

impl Drop for Storage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn tool(name: &str) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let candidates = [
        PathBuf::from(format!("{home}/.cargo/bin/{name}")),
        PathBuf::from(name),
    ];
    candidates
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .unwrap_or_else(|| panic!("{name} must be installed (scripts/prereqs.sh installs it)"))
}

pub(crate) fn storage() -> Storage {
    storage_on(free_port(), None)
}

/// An `s3s-fs` on `port`, serving virtual-hosted requests for `domain` (`host:port`: s3s
/// matches the Host header whole).
pub(crate) fn storage_on(port: u16, domain: Option<&str>) -> Storage {
    let root = std::env::temp_dir().join(format!("ugw-s3-{}", free_port()));
    std::fs::create_dir_all(root.join("media")).unwrap();
    let mut cmd = Command::new(tool("s3s-fs"));
    if let Some(domain) = domain {
        cmd.args(["--domain", domain]);
    }
    let child = cmd
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", KEY, "--secret-key", SECRET])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until_listening(addr);
    Storage { child, root, addr }
}

pub(crate) fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/py/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: scripts/prereqs.sh creates it with boto3",
        venv.display()
    );
    venv
}

/// conf/examples/s3.toml, on the test's addresses and access key.
pub(crate) fn config() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/examples/s3.toml"),
    )
    .unwrap()
    .replace("0.0.0.0:8080", "{LISTEN}")
    .replace("127.0.0.1:9000", "{UPSTREAM}")
    .replace("AKIAIOSFODNN7EXAMPLE", KEY);
    assert!(
        text.contains("{LISTEN}") && text.contains(KEY),
        "the example changed"
    );
    text
}

pub(crate) fn run_scenarios(gw: &TestGateway, s3: &Storage, scenario: &str) -> serde_json::Value {
    run_with(&format!("http://{}", gw.addr), s3, scenario, None)
}

/// The scenario script against `endpoint`; `ca`: the certificate an https endpoint uses.
pub(crate) fn run_with(
    endpoint: &str,
    s3: &Storage,
    scenario: &str,
    ca: Option<&Path>,
) -> serde_json::Value {
    run_env(endpoint, s3, scenario, ca, &[])
}

/// [`run_with`], with extra environment variables for the script.
pub(crate) fn run_env(
    endpoint: &str,
    s3: &Storage,
    scenario: &str,
    ca: Option<&Path>,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/s3_scenarios.py");
    let mut cmd = Command::new(python());
    if let Some(ca) = ca {
        cmd.env("AWS_CA_BUNDLE", ca);
    }
    cmd.envs(env.iter().copied());
    let out = cmd
        .arg(script)
        .arg(endpoint)
        .arg(format!("http://{}", s3.addr))
        .args([KEY, SECRET])
        .arg(fixtures)
        .arg(scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn objects_on_disk(s3: &Storage) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s3.root.join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn presigned_and_sdk_uploads_are_inspected_with_signatures_intact() {
    let s3 = storage();
    let gw = TestGateway::start_with(&config(), s3.addr);
    let r = run_scenarios(&gw, &s3, "all");
    assert_all_scenarios(&r, &s3);
    // The storage refused the tampered request, not the gateway.
    let body = r["tampered_via_gateway"]["body"].as_str().unwrap_or("");
    assert!(!body.contains("the gateway verified"), "{body}");
}

/// With the keys (`secrets`), the gateway checks every signature itself before a body byte is
/// read — canonicalising exactly as boto3 signs, or the accepted uploads above would fail here.
#[test]
fn the_gateway_verifies_signatures_when_it_has_the_keys() {
    let s3 = storage();
    let gw = TestGateway::start_with(&verifying(&config(), &secret_file(&s3)), s3.addr);
    let r = run_scenarios(&gw, &s3, "all");
    assert_all_scenarios(&r, &s3);
    let body = r["tampered_via_gateway"]["body"].as_str().unwrap_or("");
    assert!(
        body.contains("the gateway verified"),
        "refused at the gateway: {body}"
    );
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );
}

/// `config` with every access key's secret given to the gateway (in `file`).
pub(crate) fn verifying(config: &str, file: &Path) -> String {
    let line = format!("access_keys = {{ {KEY} = \"org-example\" }}");
    let text = config.replace(
        &line,
        &format!(
            "{line}\nsecrets = {{ {KEY} = {{ file = \"{}\" }} }}",
            file.display()
        ),
    );
    assert_eq!(text.matches("\nsecrets =").count(), 2, "both routes verify");
    text
}

/// The secret key, written for the gateway into the storage's directory.
pub(crate) fn secret_file(s3: &Storage) -> PathBuf {
    let file = s3.root.join("secret.key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    file
}

fn assert_all_scenarios(r: &serde_json::Value, s3: &Storage) {
    let png = sha256_hex(&crate::common::fixture("media/photo.png"));
    let outcome = |name: &str| (r[name]["status"].as_u64(), r[name]["code"].as_str());
    // Accepted, verified by the storage, stored byte for byte.
    assert_eq!(r["presigned_png"]["status"], 200, "{r}");
    assert_eq!(r["presigned_png_stored"]["sha256"], png.as_str());
    assert_eq!(r["put_object_png"]["status"], 200, "{r}");
    assert_eq!(r["put_object_png_stored"]["sha256"], png.as_str());
    // Refused in S3's own terms.
    for name in [
        "presigned_elf",
        "presigned_svg",
        "put_object_spoof",
        "put_object_late_script",
    ] {
        assert_eq!(
            outcome(name),
            (Some(400), Some("InvalidArgument")),
            "{name}: {r}"
        );
    }
    for name in ["unsigned_amz_header", "copy_object", "unknown_key"] {
        assert_eq!(
            outcome(name),
            (Some(403), Some("AccessDenied")),
            "{name}: {r}"
        );
    }
    // The storage checks signatures (so every 200 above proves they were kept), and its own
    // refusal is relayed unchanged.
    assert_eq!(r["signed_direct"]["status"], 200, "{r}");
    for name in ["tampered_direct", "tampered_via_gateway"] {
        assert_eq!(
            outcome(name),
            (Some(403), Some("SignatureDoesNotMatch")),
            "{name}: {r}"
        );
    }
    // Nothing refused exists, not even in part.
    let stored = ["presigned.png", "put.png", "t.jpg"];
    assert_eq!(r["listed"], serde_json::json!(stored), "{r}");
    assert_eq!(objects_on_disk(s3), stored);
}

/// Quotas per access key: committed only after the storage's 2xx; a refused or failed upload
/// holds nothing; another tenant's key is not refused for this one's quota.
#[test]
fn quotas_are_spent_per_access_key_only_on_the_storages_success() {
    let s3 = storage();
    let admin = format!("127.0.0.1:{}", free_port());
    let token_file = s3.root.join("admin.token");
    std::fs::write(&token_file, "admin-token-for-s3-tests-000").unwrap();
    let quotas = format!(
        "[admin]\naddress = \"{admin}\"\ntoken_file = \"{}\"\n\
         [quotas]\ndefault_tier = \"free\"\n[quotas.tiers.free]\nstorage_bytes = 20000\n\
         file_count = 10\n",
        token_file.display()
    );
    let text = config().replace(
        &format!("access_keys = {{ {KEY} = \"org-example\" }}"),
        &format!("access_keys = {{ {KEY} = \"orgA\", AKIDORGB = \"orgB\" }}"),
    );
    assert!(text.contains("AKIDORGB"), "the template changed");
    let gw = TestGateway::start_with(&format!("{text}{quotas}"), s3.addr);
    wait_until_listening(admin.parse().unwrap());
    let r = run_scenarios(&gw, &s3, "quota");
    let outcome = |name: &str| (r[name]["status"].as_u64(), r[name]["code"].as_str());
    assert_eq!(
        outcome("spoof"),
        (Some(400), Some("InvalidArgument")),
        "{r}"
    );
    assert_eq!(
        outcome("bad_signature"),
        (Some(403), Some("SignatureDoesNotMatch")),
        "{r}"
    );
    assert_eq!(r["first"]["status"], 200, "{r}");
    assert_eq!(outcome("second"), (Some(403), Some("QuotaExceeded")), "{r}");
    let other = outcome("other_tenant");
    assert_eq!(other.0, Some(403), "{r}");
    assert_ne!(
        other.1,
        Some("QuotaExceeded"),
        "orgB does not spend orgA's quota: {r}"
    );
    assert_eq!(r["listed"], serde_json::json!(["first.png"]), "{r}");
    let usage = |tenant: &str| {
        crate::common::Request::new(admin.parse().unwrap())
            .method("GET")
            .path(&format!("/usage/{tenant}"))
            .header("Authorization", "Bearer admin-token-for-s3-tests-000")
            .body(b"")
            .json()
    };
    let a = usage("orgA");
    let png = crate::common::fixture("media/photo.png").len() as u64;
    assert_eq!(a["quotas"][0]["metric"], "storage_bytes", "{a}");
    assert_eq!(a["quotas"][0]["used"], png, "{a}");
    assert_eq!(a["quotas"][1]["used"], 1, "{a}");
    assert_eq!(usage("orgB")["quotas"][0]["used"], 0);
}

/// boto3 over https sends `Content-Encoding: aws-chunked` with a CRC32 trailer (its default
/// since 2025): the payload is inspected, every raw byte forwarded, and a trailer that does not
/// match the payload is refused before the storage sees the end of the body.
#[test]
fn sdk_uploads_in_aws_chunked_are_decoded_inspected_and_checksummed() {
    // Once as configured in the example, once with the gateway verifying the header
    // signature over a `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body.
    for verify in [false, true] {
        aws_chunked_round(verify);
    }
}

fn aws_chunked_round(verify: bool) {
    let s3 = storage();
    let base = if verify {
        verifying(&config(), &secret_file(&s3))
    } else {
        config()
    };
    let (cert, key) = crate::common::tls::certificate("s3");
    let text = base.replace(
        "address = \"{LISTEN}\"",
        &format!(
            "address = \"{{LISTEN}}\"\ntls = {{ cert = \"{}\", key = \"{}\" }}",
            cert.display(),
            key.display()
        ),
    );
    let gw = TestGateway::start_with(&text, s3.addr);
    let endpoint = format!("https://127.0.0.1:{}", gw.addr.port());
    let r = run_with(&endpoint, &s3, "https", Some(&cert));
    let outcome = |name: &str| (r[name]["status"].as_u64(), r[name]["code"].as_str());
    assert_eq!(r["sent_aws_chunked"], true, "boto3 used aws-chunked: {r}");
    assert_eq!(r["put_object_png"]["status"], 200, "{r}");
    let png = sha256_hex(&crate::common::fixture("media/photo.png"));
    assert_eq!(r["put_object_png_stored"]["sha256"], png.as_str());
    for name in ["put_object_spoof", "put_object_late_script"] {
        assert_eq!(
            outcome(name),
            (Some(400), Some("InvalidArgument")),
            "{name}: {r}"
        );
    }
    assert_eq!(
        outcome("wrong_checksum"),
        (Some(400), Some("BadDigest")),
        "{r}"
    );
    // Multipart parts in aws-chunked: part 1 decoded and inspected, the others counted.
    assert_eq!(
        r["parts_encodings"],
        serde_json::json!(["aws-chunked"]),
        "{r}"
    );
    assert_eq!(r["parts_stored"]["sha256"], r["parts_sha256"], "{r}");
    assert_eq!(
        r["listed"],
        serde_json::json!(["chunked.png", "parts.mp4"]),
        "{r}"
    );
    assert_eq!(objects_on_disk(&s3), ["chunked.png", "parts.mp4"]);
}

/// Virtual-hosted-style (`media.s3.example.com`, resolved to the gateway by the client): the
/// bucket is in `Host`, which reaches the storage unchanged and signed; checked by the storage
/// and, with the keys, by the gateway.
#[test]
fn virtual_hosted_requests_keep_their_host_and_signature() {
    for verify in [false, true] {
        // The gateway first (its port is in the Host the storage must recognise); it connects
        // to the storage only when a request comes.
        let storage_port = free_port();
        let storage_addr: SocketAddr = format!("127.0.0.1:{storage_port}").parse().unwrap();
        let secret = std::env::temp_dir().join(format!("ugw-s3-secret-{storage_port}"));
        std::fs::write(&secret, SECRET).unwrap();
        let text = if verify {
            verifying(&config(), &secret)
        } else {
            config()
        };
        let gw = TestGateway::start_with(&text, storage_addr);
        let domain = format!("s3.example.com:{}", gw.addr.port());
        let s3 = storage_on(storage_port, Some(&domain));
        let endpoint = format!("http://s3.example.com:{}", gw.addr.port());
        let r = run_with(&endpoint, &s3, "virtual", None);
        let outcome = |name: &str| (r[name]["status"].as_u64(), r[name]["code"].as_str());
        assert_eq!(
            r["host_sent"],
            format!("media.s3.example.com:{}", gw.addr.port())
        );
        let png = sha256_hex(&crate::common::fixture("media/photo.png"));
        for name in ["presigned_png", "put_object_png"] {
            assert_eq!(r[name]["status"], 200, "{name} (verify: {verify}): {r}");
            assert_eq!(r[&format!("{name}_stored")]["sha256"], png.as_str(), "{r}");
        }
        assert_eq!(
            outcome("presigned_elf"),
            (Some(400), Some("InvalidArgument")),
            "{r}"
        );
        assert_eq!(
            outcome("bucket_write"),
            (Some(403), Some("AccessDenied")),
            "a PUT to the bucket itself is not an object upload: {r}"
        );
        assert_eq!(
            outcome("tampered"),
            (Some(403), Some("SignatureDoesNotMatch")),
            "{r}"
        );
        assert_eq!(objects_on_disk(&s3), ["presigned.png", "put.png"]);
        let _ = std::fs::remove_file(&secret);
    }
}
