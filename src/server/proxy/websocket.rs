//! WebSocket tunnels: once the upstream answers `101 Switching Protocols`, both upgraded
//! connections are joined and bytes copied both ways (frames, pings and close frames pass through
//! unchanged; when one side closes, the other is shut down). Tunnels live independently of the
//! route table, so reloads never cut them; a shutdown closes them after its drain period.

use super::event::{EventSink, ProxyEvent, RequestEvent, WebSocketEvent};
use super::table::Route;
use super::target::{InFlight, Target};
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Who a tunnel belongs to, for its event.
#[derive(Debug)]
pub struct Session {
    started_at: DateTime<Utc>,
    request_id: HeaderValue,
    route: Arc<str>,
    target: Arc<str>,
    client: IpAddr,
}

impl Session {
    /// The session opened by `request` on `route` to `target`.
    pub fn new(
        request: &RequestEvent,
        request_id: &HeaderValue,
        route: &Route,
        target: &Target,
    ) -> Self {
        Self {
            started_at: request.started_at,
            request_id: request_id.clone(),
            route: route.name.clone(),
            target: target.name.clone(),
            client: request.client,
        }
    }
}

/// Starts copying between the client's and the upstream's upgraded connections once both
/// upgrades complete; records a [`WebSocketEvent`] when the session ends.
pub fn open_tunnel(
    tunnels: &TaskTracker,
    close: CancellationToken,
    client: OnUpgrade,
    upstream: OnUpgrade,
    session: Session,
    in_flight: InFlight,
    events: EventSink,
) {
    tunnels.spawn(async move {
        let started = Instant::now();
        let copied = async {
            let (client, upstream) =
                tokio::try_join!(client, upstream).map_err(|error| error.to_string())?;
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            tokio::select! {
                copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                    copied.map_err(|error| error.to_string())
                }
                _ = close.cancelled() => Err("closed by gateway shutdown".to_string()),
            }
        }
        .await;
        drop(in_flight);
        let (bytes_from_client, bytes_from_upstream, error) = match copied {
            Ok((from_client, from_upstream)) => (from_client, from_upstream, None),
            Err(error) => (0, 0, Some(error)),
        };
        events.record(ProxyEvent::WebSocket(WebSocketEvent {
            started_at: session.started_at,
            request_id: session.request_id,
            route: session.route,
            target: session.target,
            client: session.client,
            duration: started.elapsed(),
            bytes_from_client,
            bytes_from_upstream,
            error,
        }));
    });
}
