//! The receiving end of the proxy's event queue: counts every finished request and passes each
//! event on to subscribers (the live dashboard, tests). It runs on its own task, so the proxy only
//! ever pays for a non-blocking queue push.

use crate::server::proxy::event::ProxyEvent;
use crate::server::state::SharedGateway;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Consumes proxy events until the queue closes or `stop` is cancelled (the runtime cancels it
/// once in-flight requests have drained, so their events are counted too).
pub async fn run(
    mut events: mpsc::Receiver<ProxyEvent>,
    gateway: SharedGateway,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Some(event) => gateway.publish_proxy_event(event),
                None => return,
            },
            _ = stop.cancelled() => {
                // Take what is already queued, then stop.
                while let Ok(event) = events.try_recv() {
                    gateway.publish_proxy_event(event);
                }
                return;
            }
        }
    }
}
