//! `gatewatch check` on TLS settings: every pair read and matched, expiry within 14 days (or
//! past) a warning, a mismatched pair and an unknown `min_version` errors naming their fields.

use crate::ca::*;
use crate::support::json;
use std::process::Command;

fn check(dir: &std::path::Path, config: serde_json::Value) -> std::process::Output {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn check_warns_about_certificates_expiring_within_two_weeks_or_expired() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let fine = write_pair(dir.path(), "fine", &ca.issue(&["fine.test"]));
    let soon = write_pair(dir.path(), "soon", &ca.issue_for_days(&["soon.test"], 10));
    let gone = write_pair(dir.path(), "gone", &ca.issue_for_days(&["gone.test"], -3));
    let output = check(
        dir.path(),
        json!({
            "listen": "127.0.0.1:18080",
            "tls": {"listen": "127.0.0.1:18443", "certificates": [entry(&fine), entry(&soon)]},
            "dashboard": {"tls": {"certificates": [entry(&gone)]}},
        }),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("HTTPS on 127.0.0.1:18443"), "{stdout}");
    assert!(
        stdout.contains(
            "warning: tls.certificates[1].cert: certificate for soon.test expires in 9 days"
        ) || stdout.contains(
            "warning: tls.certificates[1].cert: certificate for soon.test expires in 10 days"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "warning: dashboard.tls.certificates[0].cert: certificate for gone.test expired on"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("fine.test"), "{stdout}");
}

#[test]
fn check_rejects_mismatched_pairs_and_unknown_versions_naming_the_fields() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let a = write_pair(dir.path(), "a", &ca.issue(&["a.test"]));
    let b = write_pair(dir.path(), "b", &ca.issue(&["b.test"]));
    let output = check(
        dir.path(),
        json!({
            "tls": {"min_version": "1.0", "certificates": [{"cert": a.0, "key": b.1}]},
        }),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("  tls.min_version: must be \"1.2\" or \"1.3\", got \"1.0\""),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  tls.certificates[0].key: {} is not the private key of the certificate in {}",
            b.1.display(),
            a.0.display()
        )),
        "{stderr}"
    );
}
