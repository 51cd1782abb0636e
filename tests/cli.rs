//! The `gatewatch` binary's command line, run as a process.

use std::io::Write;
use std::process::Command;

fn gatewatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatewatch"))
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn check_accepts_the_shipped_config() {
    let output = gatewatch().args(["check", "config.json"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("config.json: valid"), "{stdout}");
}

#[test]
fn check_rejects_an_invalid_config_naming_every_field() {
    let file = config_file(r#"{"listen": "nowhere", "dashboard": {"listen": "also:bad"}}"#);
    let output = gatewatch().arg("check").arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid config"), "{stderr}");
    assert!(
        stderr.contains("  listen: not a socket address: \"nowhere\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("  dashboard.listen: not a socket address: \"also:bad\""),
        "{stderr}"
    );
}

#[test]
fn running_on_an_invalid_config_fails_before_listening() {
    let file = config_file(r#"{"dashboard": {"listen": "127.0.0.1:0", "extra": true}}"#);
    let output = gatewatch()
        .arg("--config")
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("dashboard.extra: unknown field `extra`"),
        "{stderr}"
    );
}

#[test]
fn running_on_a_missing_config_says_so() {
    let output = gatewatch()
        .args(["--config", "/nonexistent/config.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot read /nonexistent/config.json"),
        "{stderr}"
    );
}
