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
fn check_rejects_header_rules_naming_framing_headers() {
    let file = config_file(
        r#"{"routes": [{"name": "a", "path": "*", "targets": ["http://127.0.0.1:9000"],
             "response_headers": {"set": {"content-length": "5"}, "remove": ["Transfer-Encoding"]}}]}"#,
    );
    let output = gatewatch().arg("check").arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "  routes[0].response_headers.set.content-length: content-length is a framing or hop-by-hop header"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("  routes[0].response_headers.remove[0]: transfer-encoding is a framing"),
        "{stderr}"
    );
}

#[test]
fn schema_prints_the_checked_in_config_schema() {
    let output = gatewatch().arg("schema").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config.schema.json");
    let checked_in = std::fs::read(path).unwrap();
    if output.stdout != checked_in {
        let printed = String::from_utf8_lossy(&output.stdout);
        let file = String::from_utf8_lossy(&checked_in);
        let line = printed
            .lines()
            .zip(file.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "its end".to_string(), |i| format!("line {}", i + 1));
        panic!(
            "config.schema.json differs from what `gatewatch schema` prints (first at {line}); \
             regenerate it: cargo run --release --features ssr --bin gatewatch -- schema > config.schema.json"
        );
    }
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

/// Starts the binary on `config` and returns it with its dashboard and proxy URLs (read from the
/// lines it prints once listening).
fn spawn_gateway(config: &std::path::Path) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = gatewatch()
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url_after = |label: &str| loop {
        let line = lines
            .next()
            .expect("gateway printed its addresses")
            .unwrap();
        if let Some(url) = line.trim().strip_prefix(label) {
            return url.trim().to_string();
        }
    };
    let dashboard = url_after("dashboard:");
    let proxy = url_after("proxy:");
    (child, dashboard, proxy)
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_reloads_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"listen": "127.0.0.1:0", "dashboard": {"listen": "127.0.0.1:0"}, "routes": []}"#,
    )
    .unwrap();
    let (mut child, dashboard, proxy) = spawn_gateway(&path);
    let status_of = || async {
        let response = reqwest::Client::new()
            .post(format!("{dashboard}api/fn/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            // Server functions are POSTs: the dashboard takes them from its own origin only.
            .header("origin", dashboard.trim_end_matches('/'))
            .send()
            .await
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&response.bytes().await.unwrap()).unwrap()
    };
    assert_eq!(status_of().await["last_reload"], serde_json::Value::Null);
    assert_eq!(reqwest::get(&proxy).await.unwrap().status(), 404);

    signal(&child, "HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = status_of().await;
        if status["last_reload"]["trigger"] == "SIGHUP" {
            assert_eq!(status["last_reload"]["applied"], true);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no SIGHUP reload reported: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    signal(&child, "TERM");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
}

/// Checks that every object in `value` has exactly the keys its schema declares (following
/// `$ref`, `items` and `oneOf`); maps (`additionalProperties` schemas) are not checked.
fn assert_keys_match_schema(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
) {
    let resolve = |node: &serde_json::Value| -> serde_json::Value {
        let mut node = node.clone();
        while let Some(reference) = node.get("$ref").and_then(|r| r.as_str()) {
            let name = reference
                .strip_prefix("#/$defs/")
                .expect("local $defs reference");
            node = root["$defs"][name].clone();
        }
        node
    };
    let schema = resolve(schema);
    let branches = schema.get("oneOf").or_else(|| schema.get("anyOf"));
    if let Some(branches) = branches.and_then(|b| b.as_array()) {
        let branch = branches
            .iter()
            .map(&resolve)
            .find(|b| match b["type"].as_str() {
                Some("object") => value.is_object(),
                Some("string") => value.is_string(),
                _ => false,
            })
            .unwrap_or_else(|| panic!("{at}: no oneOf/anyOf branch fits {value}"));
        return assert_keys_match_schema(value, &branch, root, at);
    }
    match value {
        serde_json::Value::Object(fields) => {
            let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
                return; // a map
            };
            let mut declared: Vec<_> = properties.keys().cloned().collect();
            let mut written: Vec<_> = fields.keys().cloned().collect();
            declared.sort();
            written.sort();
            assert_eq!(
                written, declared,
                "{at}: the example and the schema disagree on fields"
            );
            for (key, field) in fields {
                assert_keys_match_schema(field, &properties[key], root, &format!("{at}.{key}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                assert_keys_match_schema(item, &schema["items"], root, &format!("{at}[{index}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_describes_exactly_what_the_gateway_accepts() {
    // The example uses every field; the gateway accepts it…
    let output = gatewatch()
        .args(["check", "tests/fixtures/config.full.json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // …and the schema declares exactly those fields, object by object.
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("config.schema.json").unwrap()).unwrap();
    let example: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/config.full.json").unwrap())
            .unwrap();
    assert_keys_match_schema(&example, &schema, &schema, "(root)");
}

#[test]
fn hash_password_prints_an_argon2id_hash_of_stdin() {
    let mut child = gatewatch()
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(
        gatewatch::server::admin::auth::credentials::verify_password(
            hash,
            "correct horse battery staple"
        )
    );
    assert!(
        !hash.contains("correct horse"),
        "the password never appears"
    );
}

#[test]
fn new_token_prints_the_token_once_and_the_line_that_accepts_it() {
    let output = gatewatch().args(["new-token", "ci"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout
        .split_whitespace()
        .find(|word| word.starts_with("gw_"))
        .expect("a token is printed");
    let entry_line = stdout
        .lines()
        .find(|line| line.trim_start().starts_with('{'))
        .expect("the auth.tokens entry is printed");
    let entry: serde_json::Value = serde_json::from_str(entry_line.trim()).unwrap();
    assert_eq!(entry["name"], "ci");
    assert_eq!(
        entry["token_hash"],
        gatewatch::server::admin::auth::credentials::token_hash(token)
    );
    let refused = gatewatch()
        .args(["new-token", "no spaces"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn check_rejects_malformed_hashes_and_an_open_dashboard_without_auth() {
    let file = config_file(
        r#"{"dashboard": {"listen": "0.0.0.0:3000"},
            "auth": {"users": [{"name": "alice", "password_hash": "hunter2", "role": "admin"}]}}"#,
    );
    let output = gatewatch().arg("check").arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("auth.users[0].password_hash: not a PHC string"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the value is not echoed: {stderr}"
    );

    let open = config_file(r#"{"dashboard": {"listen": "0.0.0.0:3000"}}"#);
    let output = gatewatch().arg("check").arg(open.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "dashboard.listen: 0.0.0.0:3000 is reachable from the network; configure auth or set dashboard.allow_unauthenticated: true"
        ),
        "{stderr}"
    );
    let allowed =
        config_file(r#"{"dashboard": {"listen": "0.0.0.0:3000", "allow_unauthenticated": true}}"#);
    let output = gatewatch()
        .arg("check")
        .arg(allowed.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
