//! The server's end of the live event socket: a ticker publishing uptime once a second, and the
//! `/api/live` WebSocket handler sending a new browser the current routes and models, then forwarding
//! every published event to it.

use crate::server::admin::AppState;
use crate::server::gateway::SharedGateway;
use crate::server::gateway::live_frame::LiveFrame;
use crate::server::gateway::snapshot;
use crate::views::{LiveEvent, UptimeTick};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// Publishes an [`UptimeTick`] every second until shutdown.
pub async fn run_ticker(gateway: SharedGateway) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let shutdown = gateway.shutdown_token().clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => gateway.publish(LiveEvent::Tick(UptimeTick {
                uptime_secs: gateway.uptime_secs(),
                at: Utc::now(),
                alerts_firing: gateway.alerts().firing_count(),
            })),
        }
    }
}

/// Publishes every new line of the gateway's own log as [`LiveEvent::Log`] until shutdown.
/// Lines missed while this task lagged are skipped (they stay in `/api/logs`).
pub async fn run_log_forwarder(gateway: SharedGateway) {
    let mut lines = crate::server::gateway::log_capture::LogRing::global().subscribe();
    let shutdown = gateway.shutdown_token().clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            line = lines.recv() => match line {
                Ok(line) => gateway.publish(LiveEvent::Log(line)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// `GET /api/live`: upgrades to a WebSocket that streams [`LiveEvent`]s as JSON text frames.
pub async fn live_socket(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let most = state.gateway.config().dashboard.max_live_clients;
    let Some(seat) = LiveClients::take(&state.live_clients, most) else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            format!("too many live clients (dashboard.max_live_clients: {most})\n"),
        )
            .into_response();
    };
    let events = state.gateway.subscribe();
    let shutdown = state.gateway.shutdown_token().clone();
    let gateway = state.gateway.clone();
    upgrade.on_upgrade(move |socket: WebSocket| async move {
        let _seat = seat;
        let (mut sink, stream) = socket.split();
        // The current routes and models first, so the page is live before the next 1 Hz tick.
        let routes = snapshot::routes(&gateway);
        for event in snapshot::live_state(&gateway, &routes) {
            let Ok(json) = serde_json::to_string(&event) else {
                continue;
            };
            if sink.send(Message::Text(json.into())).await.is_err() {
                return;
            }
        }
        forward_events(events, sink, stream, shutdown).await;
    })
}

/// How many clients hold the live socket open now (`dashboard.max_live_clients` bounds it).
#[derive(Debug, Default)]
pub struct LiveClients(std::sync::atomic::AtomicUsize);

/// One client's place among the [`LiveClients`]; given back when dropped.
#[derive(Debug)]
pub struct Seat(std::sync::Arc<LiveClients>);

impl LiveClients {
    /// A seat, unless `most` are taken.
    pub fn take(clients: &std::sync::Arc<Self>, most: usize) -> Option<Seat> {
        use std::sync::atomic::Ordering;
        clients
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < most).then_some(taken + 1)
            })
            .ok()
            .map(|_| Seat(clients.clone()))
    }

    /// Seats taken now.
    pub fn taken(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Why [`forward_events`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ForwardEnd {
    /// The client closed the socket or the connection failed.
    ClientGone,
    /// The gateway is shutting down.
    Shutdown,
    /// The event source ended.
    SourceClosed,
}

/// Forwards `events` to `sink` until the client goes away, the gateway shuts down or the source
/// ends. A subscriber that falls behind skips the events it missed rather than slowing anyone.
/// Each event's JSON is made once and shared by every subscriber ([`LiveFrame`]).
pub async fn forward_events<Si, St>(
    mut events: broadcast::Receiver<LiveFrame>,
    mut sink: Si,
    mut stream: St,
    shutdown: CancellationToken,
) -> ForwardEnd
where
    Si: Sink<Message> + Unpin,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let end = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break ForwardEnd::Shutdown,
            incoming = stream.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return ForwardEnd::ClientGone,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(frame) => {
                    let Some(json) = frame.json() else { continue };
                    if sink.send(Message::Text(json)).await.is_err() {
                        return ForwardEnd::ClientGone;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break ForwardEnd::SourceClosed,
            },
        }
    };
    let _ = sink.send(Message::Close(None)).await;
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc;

    fn tick(secs: u64) -> LiveEvent {
        LiveEvent::Tick(UptimeTick {
            uptime_secs: secs,
            at: Utc::now(),
            alerts_firing: 0,
        })
    }

    #[tokio::test]
    async fn events_are_forwarded_as_json_then_closed_on_shutdown() {
        let (sender, events) = broadcast::channel(8);
        let (sink, mut sent) = mpsc::unbounded::<Message>();
        let (_client, stream) = mpsc::unbounded::<Result<Message, axum::Error>>();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(forward_events(events, sink, stream, shutdown.clone()));

        sender.send(tick(7).into()).unwrap();
        let Some(Message::Text(text)) = sent.next().await else {
            panic!("no text frame")
        };
        assert_eq!(
            serde_json::from_str::<LiveEvent>(&text).unwrap(),
            tick_with_at(7, &text)
        );

        shutdown.cancel();
        assert_eq!(task.await.unwrap(), ForwardEnd::Shutdown);
        assert!(matches!(sent.next().await, Some(Message::Close(None))));
    }

    fn tick_with_at(secs: u64, text: &str) -> LiveEvent {
        let LiveEvent::Tick(sent) = serde_json::from_str(text).unwrap() else {
            panic!("not a tick: {text}")
        };
        LiveEvent::Tick(UptimeTick {
            uptime_secs: secs,
            at: sent.at,
            alerts_firing: 0,
        })
    }

    #[tokio::test]
    async fn a_lagging_subscriber_skips_ahead() {
        let (sender, events) = broadcast::channel(2);
        for secs in 0..5 {
            sender.send(tick(secs).into()).unwrap();
        }
        let (sink, mut sent) = mpsc::unbounded::<Message>();
        let (_client, stream) = mpsc::unbounded::<Result<Message, axum::Error>>();
        let task = tokio::spawn(forward_events(
            events,
            sink,
            stream,
            CancellationToken::new(),
        ));
        let mut seen = Vec::new();
        for _ in 0..2 {
            let Some(Message::Text(text)) = sent.next().await else {
                panic!("no text frame")
            };
            let LiveEvent::Tick(tick) = serde_json::from_str(&text).unwrap() else {
                panic!("not a tick: {text}")
            };
            seen.push(tick.uptime_secs);
        }
        assert_eq!(
            seen,
            vec![3, 4],
            "only the newest events that fit the buffer"
        );
        drop(sender);
        assert_eq!(task.await.unwrap(), ForwardEnd::SourceClosed);
    }

    #[tokio::test]
    async fn subscribers_send_one_shared_serialisation() {
        let (sender, first) = broadcast::channel(8);
        let second = sender.subscribe();
        let mut texts = Vec::new();
        let mut tasks = Vec::new();
        for events in [first, second] {
            let (sink, sent) = mpsc::unbounded::<Message>();
            let (_client, stream) = mpsc::unbounded::<Result<Message, axum::Error>>();
            tasks.push(tokio::spawn(forward_events(
                events,
                sink,
                stream,
                CancellationToken::new(),
            )));
            texts.push((sent, _client));
        }
        sender.send(tick(9).into()).unwrap();
        let mut frames = Vec::new();
        for (sent, _client) in &mut texts {
            let Some(Message::Text(text)) = sent.next().await else {
                panic!("no text frame")
            };
            frames.push(text);
        }
        assert_eq!(frames[0], frames[1]);
        assert_eq!(
            frames[0].as_str().as_ptr(),
            frames[1].as_str().as_ptr(),
            "both sockets send the same buffer"
        );
        drop(sender);
        for task in tasks {
            assert_eq!(task.await.unwrap(), ForwardEnd::SourceClosed);
        }
    }

    #[tokio::test]
    async fn a_client_close_ends_forwarding() {
        let (_sender, events) = broadcast::channel::<LiveFrame>(2);
        let (sink, _sent) = mpsc::unbounded::<Message>();
        let (client, stream) = mpsc::unbounded::<Result<Message, axum::Error>>();
        client.unbounded_send(Ok(Message::Close(None))).unwrap();
        let end = forward_events(events, sink, stream, CancellationToken::new()).await;
        assert_eq!(end, ForwardEnd::ClientGone);
    }
}
