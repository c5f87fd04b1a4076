//! The binary's commands: config validation (check and run refuse a bad config with the same
//! messages) and key generation.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_upload-gateway"))
}

fn conf(name: &str) -> String {
    format!("{}/conf/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_config_checks() {
    for name in [
        "gateway.toml",
        "auth.toml",
        "demo.toml",
        "quotas.toml",
        "examples/media-library.toml",
        "examples/serverops.toml",
        "examples/soniox.toml",
        "examples/flowkiwi.toml",
        "examples/soku.toml",
    ] {
        let out = bin().args(["check", "-c", &conf(name)]).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn bad_config_is_refused_by_check_and_run_with_every_error() {
    let dir = std::env::temp_dir().join(format!("ugw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(conf("gateway.toml"))
        .unwrap()
        .replace("0.0.0.0:8080", "not-an-address")
        .replace(
            "upstream = \"media\"\n\n[routes.upload]",
            "upstream = \"nowhere\"\n\n[routes.upload]",
        )
        .replace("sniff_bytes = 65536", "sniff_bytes = 100000");
    std::fs::write(&bad, text).unwrap();
    let check = bin()
        .args(["check", "-c", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let run = bin()
        .args(["run", "-c", bad.to_str().unwrap()])
        .output()
        .unwrap();
    // The README's form: `upload-gateway [run] [-c FILE]`, without the command too.
    let bare = bin().args(["-c", bad.to_str().unwrap()]).output().unwrap();
    assert!(!check.status.success() && !run.status.success() && !bare.status.success());
    let check_err = String::from_utf8_lossy(&check.stderr).to_string();
    for path in [
        "listeners[0].address",
        "routes[0].upstream",
        "routes[0].upload.sniff_bytes",
    ] {
        assert!(check_err.contains(path), "{path} missing in {check_err}");
    }
    assert_eq!(check_err, String::from_utf8_lossy(&run.stderr));
    assert_eq!(check_err, String::from_utf8_lossy(&bare.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keys_new_prints_a_key_and_its_hash_entry() {
    let out = bin()
        .args([
            "keys",
            "new",
            "--prefix",
            "so_test_",
            "--label",
            "ci",
            "--scopes",
            "media:read",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("so_test_"))
        .unwrap();
    let entry = &text[text.find("[[keys]]").unwrap()..];
    use sha2::Digest;
    assert!(entry.contains(&hex::encode(sha2::Sha256::digest(key.as_bytes()))));
    assert!(!entry.contains(key), "the keys file never holds the key");
}

#[test]
fn help_lists_every_command_the_readme_names() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section =
        &readme[readme.find("## Commands").unwrap()..readme.find("## Operations").unwrap()];
    for command in ["run", "check", "demo", "backend", "keys", "verify"] {
        assert!(section.contains(&format!("upload-gateway {command}")) || command == "run");
        assert!(
            help.contains(&format!("  {command}")),
            "--help lacks {command}:\n{help}"
        );
    }
    let backend = bin().args(["backend", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&backend.stdout).contains("--verdict-key-file"));
    let verify = bin().args(["verify", "--help"]).output().unwrap();
    let verify = String::from_utf8_lossy(&verify.stdout);
    for flag in [
        "--key-file",
        "--content-type",
        "--request-id",
        "--max-age-seconds",
        "--field",
    ] {
        assert!(verify.contains(flag), "verify --help lacks {flag}");
    }
}
