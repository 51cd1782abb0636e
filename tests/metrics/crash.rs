//! Crash safety of the history. The real `gatewatch` binary runs as a child process under load
//! from several clients, each counting the responses it received whole: after SIGTERM every one
//! of them is in the history; after SIGKILL the file is intact, the gateway starts again on it,
//! and at most the last moments are missing. In process: a shutdown whose drain period runs
//! out records the requests it cuts.

use crate::WAIT;
use crate::support::*;
use gatewatch::request_filter::{MAX_LIMIT, RequestQuery};
use gatewatch::server::gateway::recorder::{BATCH_INTERVAL, HISTORY_BATCH_INTERVAL};
use gatewatch::server::history::History;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Clients sending requests at the same time.
const CLIENTS: usize = 4;
/// Responses received before the signal is sent.
const BEFORE_SIGNAL: usize = 400;

/// A `gatewatch` process on a config in a temporary directory.
struct Process {
    child: Child,
    proxy: SocketAddr,
    /// Its output so far (tracing goes to stdout), for failure messages.
    output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts the binary on `config` and waits until it says where the proxy listens.
    fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
            .arg("--config")
            .arg(config)
            .env("GATEWATCH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gatewatch starts");
        let stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (proxy_tx, proxy_rx) = std_mpsc::channel();
        let kept = output.clone();
        // Read to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.trim().strip_prefix("proxy:") {
                    let addr = addr
                        .trim()
                        .trim_start_matches("http://")
                        .trim_end_matches('/');
                    let _ = proxy_tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let proxy = proxy_rx.recv_timeout(WAIT * 4).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("gatewatch did not start: {:?}", output.lock().unwrap())
        });
        Self {
            child,
            proxy,
            output,
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal)
            .unwrap();
    }

    /// Waits (off the runtime) for the process to exit.
    async fn exit(mut self) -> ExitStatus {
        let output = self.output.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + WAIT * 3;
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return Some(status);
                }
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        waited.unwrap_or_else(|| panic!("gatewatch did not exit: {:?}", output.lock().unwrap()))
    }
}

/// A config proxying everything to `up`, with the history in `db`.
fn write_config(dir: &Path, up: &Upstream, db: &Path) -> PathBuf {
    let config = json!({
        "listen": "127.0.0.1:0",
        "dashboard": {"listen": "127.0.0.1:0"},
        "history": {"path": db},
        "routes": [{"name": "web", "path": "/*", "targets": [up.url()]}],
    });
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// A response a client received whole: its request id and when its last byte arrived.
type Completed = (String, Instant);

/// Clients sending requests until the gateway goes away.
struct Load {
    completed: Arc<Mutex<Vec<Completed>>>,
    count: watch::Receiver<usize>,
    clients: tokio::task::JoinSet<()>,
}

impl Load {
    fn start(proxy: SocketAddr) -> Self {
        let completed = Arc::new(Mutex::new(Vec::new()));
        let (count_tx, count) = watch::channel(0);
        let count_tx = Arc::new(count_tx);
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..CLIENTS {
            let (completed, count_tx) = (completed.clone(), count_tx.clone());
            // A slow answer keeps requests in flight whenever the signal comes.
            let url = format!("http://{proxy}/slow/2");
            clients.spawn(async move {
                let client = client();
                loop {
                    let Ok(response) = client.get(&url).send().await else {
                        return;
                    };
                    let ok = response.status().is_success();
                    let id = response
                        .headers()
                        .get("x-request-id")
                        .and_then(|id| id.to_str().ok())
                        .map(str::to_owned);
                    // Finished once the whole body is in.
                    if response.bytes().await.is_err() {
                        return;
                    }
                    if let (true, Some(id)) = (ok, id) {
                        let mut completed = completed.lock().unwrap();
                        completed.push((id, Instant::now()));
                        count_tx.send_replace(completed.len());
                    }
                }
            });
        }
        Self {
            completed,
            count,
            clients,
        }
    }

    async fn wait_for(&mut self, n: usize) {
        tokio::time::timeout(WAIT * 2, self.count.wait_for(|&count| count >= n))
            .await
            .expect("load runs")
            .unwrap();
    }

    /// Waits for every client to stop (the gateway is gone) and returns what they received.
    async fn finish(mut self) -> Vec<Completed> {
        tokio::time::timeout(WAIT, async {
            while self.clients.join_next().await.is_some() {}
        })
        .await
        .expect("clients stop once the gateway is gone");
        std::mem::take(&mut *self.completed.lock().unwrap())
    }
}

/// The request ids of every request stored in the history at `db`.
fn stored_ids(db: &Path) -> HashSet<String> {
    let (history, writer) = History::open(db, Duration::from_secs(86_400)).unwrap();
    let mut ids = HashSet::new();
    let mut before = None;
    loop {
        let page = history
            .requests(&RequestQuery {
                limit: MAX_LIMIT,
                before,
                ..RequestQuery::default()
            })
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        ids.extend(page.into_iter().map(|r| r.request_id.to_string()));
    }
    writer.shutdown();
    ids
}

/// A gateway process on a fresh history, with `BEFORE_SIGNAL` responses already received and
/// the clients still sending.
struct UnderLoad {
    gateway: Process,
    load: Load,
    db: PathBuf,
    config: PathBuf,
    _up: Upstream,
    _dir: tempfile::TempDir,
}

impl UnderLoad {
    async fn start() -> Self {
        let up = Upstream::start("up").await;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.db");
        let config = write_config(dir.path(), &up, &db);
        let gateway = Process::start(&config);
        let mut load = Load::start(gateway.proxy);
        load.wait_for(BEFORE_SIGNAL).await;
        Self {
            gateway,
            load,
            db,
            config,
            _up: up,
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_under_load_every_finished_request_is_in_the_history() {
    // Every field bound: the upstream and the directory live to the end of the test.
    let UnderLoad {
        gateway,
        load,
        db,
        config: _,
        _up,
        _dir,
    } = UnderLoad::start().await;

    gateway.signal(rustix::process::Signal::TERM);
    let status = gateway.exit().await;
    assert!(status.success(), "{status:?}");
    let completed = load.finish().await;
    assert!(completed.len() >= BEFORE_SIGNAL);

    let stored = stored_ids(&db);
    let missing: Vec<_> = completed
        .iter()
        .filter(|(id, _)| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} finished requests missing: {missing:?}",
        missing.len(),
        completed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_under_load_the_history_is_intact_and_misses_at_most_the_last_moments() {
    let UnderLoad {
        gateway,
        load,
        db,
        config,
        _up,
        _dir,
    } = UnderLoad::start().await;
    // Long enough under load for several history batches to have been written.
    tokio::time::sleep(HISTORY_BATCH_INTERVAL * 3).await;

    let killed_at = Instant::now();
    gateway.signal(rustix::process::Signal::KILL);
    gateway.exit().await;
    let completed = load.finish().await;

    // WAL with synchronous=NORMAL: a process killed at any point leaves a consistent database
    // (the committed transactions in the log, the one being written ignored).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);

    // The gateway starts again on the file, and stops cleanly.
    let again = Process::start(&config);
    again.signal(rustix::process::Signal::TERM);
    assert!(again.exit().await.success());

    // What may be lost: requests the recorder had not yet handed to the writer. The recorder
    // takes finished requests every BATCH_INTERVAL (20 ms) and hands them to the writer every
    // HISTORY_BATCH_INTERVAL (250 ms); the writer commits them in one transaction (a few ms
    // here, allowed 30). A request that finished earlier than that before the kill is stored.
    let at_risk = BATCH_INTERVAL + HISTORY_BATCH_INTERVAL + Duration::from_millis(30);
    let stored = stored_ids(&db);
    let recent = completed
        .iter()
        .filter(|(_, at)| killed_at.duration_since(*at) < at_risk)
        .count();
    let kept = completed
        .iter()
        .filter(|(id, _)| stored.contains(id))
        .count();
    assert!(
        kept >= completed.len() - recent,
        "{kept} of {} finished requests stored; only the {recent} of the last {at_risk:?} may \
         be missing",
        completed.len()
    );
    assert!(kept > 0);
}

#[tokio::test]
async fn requests_cut_at_the_end_of_the_drain_period_are_recorded_as_cut() {
    let up = Upstream::start("up").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "web", "path": "/*", "targets": [up.url()]},
    ]}))
    .await;
    // One waits for its response head, one for the rest of a large body it is not reading.
    let held = {
        let url = gateway.url("/hold/1");
        tokio::spawn(async move {
            client()
                .get(url)
                .header("x-request-id", "cut-before-head")
                .send()
                .await
        })
    };
    let mut streaming = client()
        .get(gateway.url("/bytes/104857600"))
        .header("x-request-id", "cut-mid-body")
        .send()
        .await
        .unwrap();
    assert_eq!(streaming.status(), 200);
    assert!(streaming.chunk().await.unwrap().is_some());
    up.wait_for_holds(1, WAIT).await;

    let TestGateway { running, dir, .. } = gateway;
    assert!(
        !running.shutdown(Duration::from_millis(200)).await,
        "both are still in flight at the end of the drain period"
    );
    up.release();
    assert!(held.await.unwrap().is_err(), "cut: no response");
    drop(streaming);

    let (history, writer) = History::open(
        &dir.path().join("gatewatch.db"),
        Duration::from_secs(86_400),
    )
    .unwrap();
    let before_head = history.request_by_id("cut-before-head").unwrap();
    let before_head = before_head.expect("the request cut before its response is recorded");
    assert_eq!(before_head.error.as_deref(), Some("shutdown"));
    assert_eq!(before_head.status, 503);
    assert_eq!(before_head.route.as_deref(), Some("web"));
    let mid_body = history.request_by_id("cut-mid-body").unwrap();
    let mid_body = mid_body.expect("the request cut mid-body is recorded");
    assert_eq!(mid_body.error.as_deref(), Some("shutdown"));
    assert_eq!(mid_body.status, 200);
    assert!(mid_body.bytes_out > 0);
    writer.shutdown();
}
