//! The browser's end of the live event socket: one WebSocket to [`LIVE_SOCKET_PATH`], opened only
//! once the page is hydrated, exposed to components as signals through a context ([`LiveFeed`]).
//! It reconnects with exponential backoff ([`reconnect_delay`]) when the server goes away.

use crate::views::{LiveEvent, UptimeTick};
use leptos::prelude::*;
use std::time::Duration;

/// Path of the live event WebSocket on the dashboard address.
pub const LIVE_SOCKET_PATH: &str = "/api/live";

/// Longest wait between two reconnection attempts.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);

/// State of the browser's connection to the live socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected yet (also what the server renders: no socket exists there).
    Connecting,
    /// Events are flowing.
    Live,
    /// The socket closed; a new attempt is scheduled.
    Reconnecting,
}

impl ConnectionState {
    /// Short label for the status indicator.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }
}

/// Live data pushed by the server, as signals.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// The socket's state.
    pub state: RwSignal<ConnectionState>,
    /// The newest uptime tick, if one arrived.
    pub last_tick: RwSignal<Option<UptimeTick>>,
}

impl LiveFeed {
    /// Creates the feed, provides it as context, and (in the browser) opens the socket.
    pub fn provide() -> Self {
        let feed = Self {
            state: RwSignal::new(ConnectionState::Connecting),
            last_tick: RwSignal::new(None),
        };
        provide_context(feed);
        // Effects run only in the browser, after hydration.
        Effect::new(move |_| {
            #[cfg(feature = "hydrate")]
            socket::connect(feed, 0);
        });
        feed
    }

    /// Applies one event from the server to the signals.
    pub fn apply(&self, event: LiveEvent) {
        if let LiveEvent::Tick(tick) = event {
            self.last_tick.set(Some(tick));
        }
    }
}

/// The [`LiveFeed`] provided by the app shell.
pub fn use_live_feed() -> LiveFeed {
    expect_context::<LiveFeed>()
}

/// Delay before reconnection attempt `attempt` (0-based): 500 ms doubling up to
/// [`MAX_RECONNECT_DELAY`].
pub fn reconnect_delay(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(millis).min(MAX_RECONNECT_DELAY)
}

#[cfg(feature = "hydrate")]
mod socket {
    //! The WebSocket itself (browser only).

    use super::{ConnectionState, LIVE_SOCKET_PATH, LiveFeed, reconnect_delay};
    use crate::views::LiveEvent;
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    /// The open socket and the callbacks it holds; dropping it releases them.
    struct Connection {
        socket: WebSocket,
        _on_open: Closure<dyn FnMut()>,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_close: Closure<dyn FnMut(CloseEvent)>,
    }

    thread_local! {
        static CURRENT: RefCell<Option<Connection>> = const { RefCell::new(None) };
    }

    fn socket_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!(
            "{scheme}://{}{LIVE_SOCKET_PATH}",
            location.host().ok()?
        ))
    }

    /// Opens the socket; on close, schedules the next attempt after [`reconnect_delay`].
    pub fn connect(feed: LiveFeed, attempt: u32) {
        let Some(socket) = socket_url().and_then(|url| WebSocket::new(&url).ok()) else {
            schedule_reconnect(feed, attempt);
            return;
        };
        let attempts = Rc::new(Cell::new(attempt));

        let on_open = Closure::<dyn FnMut()>::new({
            let attempts = attempts.clone();
            move || {
                attempts.set(0);
                feed.state.set(ConnectionState::Live);
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let Some(text) = message.data().as_string() else {
                return;
            };
            match serde_json::from_str::<LiveEvent>(&text) {
                Ok(event) => feed.apply(event),
                Err(error) => leptos::logging::warn!("ignoring live event: {error}"),
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
            feed.state.set(ConnectionState::Reconnecting);
            schedule_reconnect(feed, attempts.get().saturating_add(1));
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let previous = CURRENT.with(|current| {
            current.replace(Some(Connection {
                socket,
                _on_open: on_open,
                _on_message: on_message,
                _on_close: on_close,
            }))
        });
        if let Some(previous) = previous {
            previous.socket.set_onclose(None);
            let _ = previous.socket.close();
        }
    }

    fn schedule_reconnect(feed: LiveFeed, attempt: u32) {
        set_timeout(move || connect(feed, attempt), reconnect_delay(attempt));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_doubles_then_caps() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(1), Duration::from_millis(1000));
        assert_eq!(reconnect_delay(3), Duration::from_millis(4000));
        assert_eq!(reconnect_delay(5), MAX_RECONNECT_DELAY);
        assert_eq!(reconnect_delay(u32::MAX), MAX_RECONNECT_DELAY);
    }
}
