//! The receiving end of the proxy's event queue: counts every finished request and passes each
//! event on to subscribers (the live dashboard, tests).
//!
//! It drains the queue in batches every [`BATCH_INTERVAL`] instead of waiting on it: the proxy's
//! push then never has a waiting task to wake, so recording costs the hot path one non-blocking
//! queue push and no cross-thread wake-up.

use crate::server::proxy::event::ProxyEvent;
use crate::server::state::SharedGateway;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often queued events are taken: the most a finished request waits before subscribers see it.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(20);

/// Consumes proxy events until the queue closes or `stop` is cancelled (the runtime cancels it
/// once in-flight requests have drained, so their events are counted too).
pub async fn run(
    mut events: mpsc::Receiver<ProxyEvent>,
    gateway: SharedGateway,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(BATCH_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            _ = stop.cancelled() => true,
        };
        loop {
            match events.try_recv() {
                Ok(event) => gateway.publish_proxy_event(event),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if stopping {
            return;
        }
    }
}
