//! `gatewatch --dashboard`: the gateway runs with the terminal dashboard in front.
//!
//! The dashboard runs on its own thread (`gatewatch-tui`, with a single-threaded runtime), so
//! drawing never takes a proxy worker's time, and a panic there restores the terminal and shuts
//! the gateway down without touching the proxy. It subscribes to the gateway's live events — the
//! ones the web dashboard's socket forwards — and starts from the snapshots the admin API
//! answers with ([`snapshot`]). `q`, `Esc`, Ctrl-C or SIGTERM: the gateway drains and flushes
//! its history as on SIGTERM while the dashboard says so, then the terminal is restored.

use super::event_loop::{self, Control};
use super::feed::{Feed, Update};
use super::model::{LOG_LINES, Link, Model, Snapshot};
use super::palette::Palette;
use super::terminal::Screen;
use crate::server::gateway::live_frame::LiveFrame;
use crate::server::gateway::log_capture::LogRing;
use crate::server::gateway::{Gateway, SharedGateway, snapshot};
use crate::server::runtime::{DRAIN_TIMEOUT, RunningGateway, TerminationSignal};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// Everything the dashboard starts from, taken in process.
pub fn snapshot(gateway: &Gateway) -> Snapshot {
    Snapshot {
        metrics: snapshot::metrics(gateway),
        routes: snapshot::routes(gateway),
        models: gateway.metrics().models(),
        logs: LogRing::global().query(tracing::Level::INFO, None, None, LOG_LINES),
        alerts: gateway.alerts().snapshot().alerts,
    }
}

/// The gateway's live events, after a first snapshot (and a new snapshot whenever the
/// dashboard fell behind and events were skipped).
pub struct LocalFeed {
    gateway: SharedGateway,
    events: broadcast::Receiver<LiveFrame>,
    needs_snapshot: bool,
}

impl LocalFeed {
    /// Subscribes first, so that nothing happening while the snapshot is taken is missed (what
    /// arrives twice, the model ignores).
    pub fn new(gateway: SharedGateway) -> Self {
        Self {
            events: gateway.subscribe(),
            gateway,
            needs_snapshot: true,
        }
    }

    /// The next update; `None` once the gateway is gone.
    pub async fn next(&mut self) -> Option<Update> {
        if std::mem::take(&mut self.needs_snapshot) {
            return Some(Update::Snapshot(Box::new(snapshot(&self.gateway))));
        }
        match self.events.recv().await {
            Ok(frame) => Some(Update::Event(frame.event().clone())),
            Err(RecvError::Lagged(_)) => Some(Update::Snapshot(Box::new(snapshot(&self.gateway)))),
            Err(RecvError::Closed) => None,
        }
    }
}

/// Runs the started gateway with the dashboard in front until the user quits or a termination
/// signal arrives, then shuts the gateway down (drain, flush) and gives the terminal back.
/// `false` when the dashboard failed (it could not take the terminal over, or panicked): the
/// gateway was still shut down gracefully.
pub async fn run(running: RunningGateway, termination: TerminationSignal) -> bool {
    let gateway = running.gateway.clone();
    let source = format!(
        "in process · proxy {} · dashboard {}",
        running.proxy_addr, running.dashboard_addr
    );
    let quit = CancellationToken::new();
    let stop = CancellationToken::new();
    let control = Control {
        can_hide: true,
        wait_for_stop: true,
        quit: quit.clone(),
        stop: stop.clone(),
        palette: Palette::from_env(),
    };
    let thread = std::thread::Builder::new()
        .name("gatewatch-tui".to_string())
        .spawn(move || {
            // However the dashboard ends — a quit key, an error, a panic — the gateway shuts
            // down (a gateway in a terminal nobody can see or stop would be worse).
            let _shut_down = control.quit.clone().drop_guard();
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!("cannot start the terminal dashboard: {error}");
                    return false;
                }
            };
            runtime.block_on(async move {
                let mut screen = match Screen::take_over() {
                    Ok(screen) => screen,
                    Err(error) => {
                        tracing::error!("cannot take over the terminal: {error}");
                        return false;
                    }
                };
                let mut model = Model::new(source, Link::Live);
                let mut feed = Feed::InProcess(LocalFeed::new(gateway));
                match event_loop::run(&mut screen, &mut model, &mut feed, &control).await {
                    Ok(()) => true,
                    Err(error) => {
                        drop(screen);
                        tracing::error!("the terminal dashboard failed: {error}");
                        false
                    }
                }
            })
        });
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(error) => {
            tracing::error!("cannot start the terminal dashboard: {error}");
            quit.cancel();
            None
        }
    };
    tokio::select! {
        () = termination.received() => {}
        () = quit.cancelled() => {}
    }
    // The dashboard shows that the gateway is shutting down while it drains.
    quit.cancel();
    tracing::info!("shutting down: draining in-flight requests");
    if !running.shutdown(DRAIN_TIMEOUT).await {
        tracing::warn!("drain timed out after {DRAIN_TIMEOUT:?}; remaining work was cancelled");
    }
    stop.cancel();
    let Some(thread) = thread else {
        return false;
    };
    // A panic in the dashboard: its hook gave the terminal back and printed the message.
    matches!(
        tokio::task::spawn_blocking(move || thread.join()).await,
        Ok(Ok(true))
    )
}
