//! The terminal dashboard end to end, in a real terminal: the `gatewatch` binary runs inside a
//! private tmux server (installed by scripts/setup.sh), keys are typed with `tmux send-keys`, and
//! what a user would see is read back with `tmux capture-pane`.
//!
//! - `gatewatch --dashboard`: traffic through the proxy shows within 2 s; `d` gives the terminal
//!   back and the log streams to it; `d` again brings the dashboard back; `q` drains, flushes the
//!   history and exits 0 with the terminal restored.
//! - `gatewatch top`: attached to a separately started gateway, it shows its traffic, says so
//!   when the gateway goes away, and is live again once the gateway is back; to a dashboard with
//!   accounts over HTTPS, it needs a bearer token and says so without one.
//! - Without a terminal, both refuse with exit status 2 and a message, starting nothing.

#[path = "support/mod.rs"]
mod support;

use gatewatch::request_filter::{MAX_LIMIT, RequestQuery};
use gatewatch::server::history::History;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Upstream, json};

/// How soon traffic must show on the dashboard.
const SHOWS_WITHIN: Duration = Duration::from_secs(2);
/// Generous bound for starting, stopping and reconnecting.
const WAIT: Duration = Duration::from_secs(15);

/// A private tmux server running one command in a pane of a fixed size.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `script` (a shell script) in a new `width` × `height` pane; when the script's
    /// command ends, the pane says `gatewatch exited with STATUS` and stays.
    fn start(dir: &Path, command: &str, width: u16, height: u16) -> Self {
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "gatewatch-test-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let script = dir.join("run.sh");
        std::fs::write(
            &script,
            format!("{command}\necho \"gatewatch exited with $?\"\nexec sleep 600\n"),
        )
        .unwrap();
        let tmux = Self { socket };
        let started = tmux
            .command()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg("-c")
            .arg(dir)
            .arg(format!("sh {}", script.display()))
            .status()
            .expect("tmux runs (scripts/setup.sh installs it)");
        assert!(started.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Whether the program in the pane is on the alternate screen.
    fn alternate_screen(&self) -> bool {
        let output = self
            .command()
            .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim() == "1"
    }

    /// Types `key` (a tmux key name: `d`, `q`, `Escape`, `C-c` …).
    fn key(&self, key: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "t", key])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits until `condition` holds of the screen (and the alternate screen's state) and
    /// returns the screen; fails with what the screen showed last.
    async fn until(
        &self,
        within: Duration,
        what: &str,
        condition: impl Fn(&str, bool) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if condition(&screen, self.alternate_screen()) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// Whether `screen` shows `label value` with nothing more to the value.
fn shows_figure(screen: &str, label: &str, value: u64) -> bool {
    let needle = format!("{label} {value}");
    screen.match_indices(&needle).any(|(at, _)| {
        !screen[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
    })
}

/// The address after `label` on the screen (`proxy 127.0.0.1:41234`).
fn address_after(screen: &str, label: &str) -> Option<SocketAddr> {
    let start = screen.find(label)? + label.len();
    screen[start..]
        .split(|c: char| c.is_whitespace())
        .find(|word| !word.is_empty())?
        .parse()
        .ok()
}

fn write_config(path: &Path, routes: serde_json::Value, listen: &str, dashboard: &str) {
    write_config_with(
        path,
        routes,
        listen,
        json!({"listen": dashboard}),
        json!({}),
    );
}

fn write_config_with(
    path: &Path,
    routes: serde_json::Value,
    listen: &str,
    dashboard: serde_json::Value,
    auth: serde_json::Value,
) {
    let config = json!({
        "listen": listen,
        "dashboard": dashboard,
        "auth": auth,
        "history": {"path": path.with_file_name("history.db")},
        "routes": routes,
    });
    std::fs::write(path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

async fn send(proxy: SocketAddr, path: &str, count: usize) {
    let client = support::client();
    for _ in 0..count {
        let response = client
            .get(format!("http://{proxy}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
}

fn stored_requests(db: &Path) -> usize {
    let (history, writer) = History::open(db, Duration::from_secs(86_400)).unwrap();
    let stored = history
        .requests(&RequestQuery {
            limit: MAX_LIMIT,
            ..RequestQuery::default()
        })
        .unwrap()
        .len();
    drop(writer);
    stored
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_runs_in_front_of_the_gateway_hides_and_quits_gracefully() {
    let upstream = Upstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let web = json!([{"name": "web", "path": "/*", "targets": [upstream.url()]}]);
    write_config(&config, web, "127.0.0.1:0", "127.0.0.1:0");
    let tmux = Tmux::start(
        dir.path(),
        &format!(
            "{} --dashboard --config {}",
            env!("CARGO_BIN_EXE_gatewatch"),
            config.display()
        ),
        200,
        50,
    );
    let screen = tmux
        .until(WAIT, "the dashboard starts", |screen, alternate| {
            alternate && screen.contains("● live") && screen.contains("proxy 127.0.0.1:")
        })
        .await;
    let proxy = address_after(&screen, "proxy ").expect("the header names the proxy's address");

    send(proxy, "/hello", 7).await;
    let sent = Instant::now();
    tmux.until(
        SHOWS_WITHIN,
        "7 requests and route web shown",
        |screen, _| shows_figure(screen, "requests", 7) && screen.contains("web"),
    )
    .await;
    eprintln!("traffic shown after {:?}", sent.elapsed());

    // `d`: the terminal is the user's again, and log lines stream to it.
    tmux.key("d");
    tmux.until(WAIT, "the dashboard hidden", |screen, alternate| {
        !alternate && screen.contains("dashboard hidden")
    })
    .await;
    let routes = json!([
        {"name": "web", "path": "/*", "targets": [upstream.url()]},
        {"name": "extra", "path": "/extra/*", "targets": [upstream.url()]},
    ]);
    write_config(&config, routes, "127.0.0.1:0", "127.0.0.1:0");
    tmux.until(
        WAIT,
        "the reload's log line on the terminal",
        |screen, _| screen.contains("config applied"),
    )
    .await;

    // `d` again: the dashboard is back, with the new route.
    tmux.key("d");
    tmux.until(WAIT, "the dashboard shown again", |screen, alternate| {
        alternate && screen.contains("● live") && screen.contains("extra")
    })
    .await;

    // `q`: drained, the history flushed, the terminal restored, exit status 0.
    tmux.key("q");
    let screen = tmux
        .until(WAIT, "gatewatch exits", |screen, _| {
            screen.contains("gatewatch exited with")
        })
        .await;
    assert!(screen.contains("gatewatch exited with 0"), "{screen}");
    assert!(!tmux.alternate_screen(), "the terminal is restored");
    assert_eq!(stored_requests(&dir.path().join("history.db")), 7);
}

/// A gateway started as a process (logging to a pipe), on `config`.
struct Gateway {
    child: Child,
    dashboard: SocketAddr,
    proxy: SocketAddr,
}

impl Gateway {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (found, addresses) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut dashboard = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let address = |line: &str, label: &str| {
                    line.trim()
                        .strip_prefix(label)?
                        .trim()
                        .trim_start_matches("http://")
                        .trim_start_matches("https://")
                        .trim_end_matches('/')
                        .parse::<SocketAddr>()
                        .ok()
                };
                if let Some(addr) = address(&line, "dashboard:") {
                    dashboard = Some(addr);
                }
                if let (Some(proxy), Some(dashboard)) = (address(&line, "proxy:"), dashboard) {
                    let _ = found.send((dashboard, proxy));
                }
            }
        });
        let (dashboard, proxy) = addresses.recv_timeout(WAIT).expect("the gateway starts");
        Self {
            child,
            dashboard,
            proxy,
        }
    }

    fn stop(mut self) {
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Gateway {
    /// A failed test leaves no gateway behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn top_follows_a_running_gateway_and_reconnects_after_a_restart() {
    let upstream = Upstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let web = json!([{"name": "web", "path": "/*", "targets": [upstream.url()]}]);
    write_config(&config, web.clone(), "127.0.0.1:0", "127.0.0.1:0");
    let gateway = Gateway::start(&config);
    let (proxy, dashboard) = (gateway.proxy, gateway.dashboard);
    let top_dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(
        top_dir.path(),
        &format!(
            "{} top --url http://{dashboard}",
            env!("CARGO_BIN_EXE_gatewatch")
        ),
        160,
        45,
    );
    tmux.until(WAIT, "top attaches", |screen, alternate| {
        alternate && screen.contains("● live") && screen.contains("web")
    })
    .await;
    send(proxy, "/one", 5).await;
    tmux.until(SHOWS_WITHIN, "5 requests shown", |screen, _| {
        shows_figure(screen, "requests", 5)
    })
    .await;

    // The gateway goes away: top says so and keeps trying.
    gateway.stop();
    tmux.until(WAIT, "the lost connection shown", |screen, _| {
        screen.contains("connection lost") && screen.contains("reconnecting")
    })
    .await;

    // Back on the same addresses: top is live again and follows the new process.
    write_config(&config, web, &proxy.to_string(), &dashboard.to_string());
    let gateway = Gateway::start(&config);
    tmux.until(WAIT, "top live again", |screen, _| {
        screen.contains("● live") && !screen.contains("connection lost")
    })
    .await;
    send(proxy, "/two", 3).await;
    tmux.until(SHOWS_WITHIN, "the new process's 3 requests", |screen, _| {
        shows_figure(screen, "requests", 3)
    })
    .await;

    tmux.key("q");
    let screen = tmux
        .until(WAIT, "top exits", |screen, _| {
            screen.contains("gatewatch exited with")
        })
        .await;
    assert!(screen.contains("gatewatch exited with 0"), "{screen}");
    assert!(!tmux.alternate_screen(), "the terminal is restored");
    gateway.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn top_reads_a_dashboard_with_accounts_over_https_with_a_bearer_token() {
    use gatewatch::server::admin::auth::credentials::{new_token, token_hash};
    let upstream = Upstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let pki = support::tls::TestPki::new();
    let (cert, key) = pki.write_server(dir.path(), "dashboard", &["localhost"]);
    let ca = pki.write_ca(dir.path());
    let token = new_token();
    let config = dir.path().join("config.json");
    write_config_with(
        &config,
        json!([{"name": "web", "path": "/*", "targets": [upstream.url()]}]),
        "127.0.0.1:0",
        json!({"listen": "127.0.0.1:0", "tls": {"certificates": [{"cert": cert, "key": key}]}}),
        json!({"tokens": [{"name": "ops", "token_hash": token_hash(&token), "role": "viewer"}]}),
    );
    let gateway = Gateway::start(&config);
    let url = format!("https://localhost:{}", gateway.dashboard.port());
    let gatewatch = env!("CARGO_BIN_EXE_gatewatch");

    // Without the token: refused, and top says why (and keeps trying).
    let refused = Tmux::start(
        dir.path(),
        &format!("{gatewatch} top --url {url} --ca-file {}", ca.display()),
        160,
        45,
    );
    refused
        .until(WAIT, "the refusal shown", |screen, _| {
            screen.contains("connection lost") && screen.contains("401")
        })
        .await;
    drop(refused);

    // With it (from the environment, out of the process list), over TLS to the private CA.
    let top_dir = tempfile::tempdir().unwrap();
    let top = Tmux::start(
        top_dir.path(),
        &format!(
            "GATEWATCH_TOKEN={token} {gatewatch} top --url {url} --ca-file {}",
            ca.display()
        ),
        160,
        45,
    );
    top.until(WAIT, "top attached over https", |screen, alternate| {
        alternate && screen.contains("● live") && screen.contains("web")
    })
    .await;
    send(gateway.proxy, "/tls", 4).await;
    top.until(SHOWS_WITHIN, "4 requests shown", |screen, _| {
        shows_figure(screen, "requests", 4)
    })
    .await;
    top.key("q");
    top.until(WAIT, "top exits 0", |screen, _| {
        screen.contains("gatewatch exited with 0")
    })
    .await;
    gateway.stop();
}

#[test]
fn without_a_terminal_both_refuse_with_status_2_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    write_config(&config, json!([]), "127.0.0.1:0", "127.0.0.1:0");
    for args in [
        vec!["--dashboard", "--config", config.to_str().unwrap()],
        vec!["top", "--url", "http://127.0.0.1:9"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("stdout is not a terminal"), "{stderr}");
        assert!(
            output.stdout.is_empty(),
            "{args:?} printed {:?}",
            output.stdout
        );
    }
    // Nothing started: no history file was created.
    assert!(!dir.path().join("history.db").exists());
}
