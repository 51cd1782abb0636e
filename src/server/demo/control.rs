//! Starting, stopping and restarting the demo as reloads change the `demo` section: removing it
//! stops the demo upstreams (their listeners close) and the generator; changing it restarts them
//! on the new settings; adding it starts them.

use super::start;
use crate::server::config::DemoConfig;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// The running demo, if any. See the module docs.
pub struct DemoControl {
    /// Where the generator sends its traffic.
    proxy: SocketAddr,
    /// Cancelled at shutdown; each demo runs under a child of it.
    shutdown: CancellationToken,
    /// Serializes switches, so one demo has stopped (its ports free) before the next binds.
    switching: tokio::sync::Mutex<()>,
    running: Mutex<Option<RunningDemo>>,
}

struct RunningDemo {
    config: DemoConfig,
    stop: CancellationToken,
    /// Ends once every task of the demo has.
    tasks: JoinHandle<()>,
}

impl DemoControl {
    pub fn new(proxy: SocketAddr, shutdown: CancellationToken) -> Self {
        Self {
            proxy,
            shutdown,
            switching: tokio::sync::Mutex::new(()),
            running: Mutex::new(None),
        }
    }

    /// Whether a demo is running now.
    pub fn is_running(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<RunningDemo>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the demo run on `config` (nothing, for `None` or a demo with nothing to run):
    /// unchanged settings leave it running; otherwise the old one is stopped and waited for,
    /// then the new one is started. Returns once the new demo's upstreams are listening.
    pub async fn switch(&self, config: Option<DemoConfig>) {
        let config = config.filter(DemoConfig::is_active);
        let _switching = self.switching.lock().await;
        let unchanged = self.lock().as_ref().map(|running| &running.config) == config.as_ref();
        if unchanged {
            return;
        }
        let previous = self.lock().take();
        if let Some(previous) = previous {
            previous.stop.cancel();
            let _ = previous.tasks.await;
            tracing::info!("demo: stopped");
        }
        let Some(config) = config else { return };
        if self.shutdown.is_cancelled() {
            return;
        }
        let stop = self.shutdown.child_token();
        let mut tasks = JoinSet::new();
        start(&config, self.proxy, &stop, &mut tasks).await;
        let tasks = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        *self.lock() = Some(RunningDemo {
            config,
            stop,
            tasks,
        });
    }

    /// Stops the demo and waits until it has.
    pub async fn stop(&self) {
        self.switch(None).await;
    }
}
