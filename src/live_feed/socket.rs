//! The WebSocket itself (browser only): connects, buffers events, flushes them to the feed at
//! most once per [`FLUSH_INTERVAL`](super::FLUSH_INTERVAL), reconnects with backoff, and ticks the poll signal while
//! disconnected.

use super::{
    ConnectionState, LIVE_SOCKET_PATH, LiveFeed, POLL_INTERVAL, flush_delay, reconnect_delay,
};
use crate::views::LiveEvent;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// A live socket silent for this long (the server ticks every second) is given up and replaced.
const SILENT_LIMIT_MS: f64 = 5_000.0;

/// Name of the User Timing mark set at each flush.
const FLUSH_MARK: &str = "gatewatch:live-flush";

/// Requests read when the socket opens (see [`LiveFeed::catch_up`]).
const CATCH_UP: usize = 100;

/// Most events waiting for the next flush; beyond it the oldest are dropped.
const PENDING_EVENTS: usize = 2_000;

/// The open socket and the callbacks it holds; dropping it releases them.
struct Connection {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Connection>> = const { RefCell::new(None) };
    static PENDING: RefCell<VecDeque<LiveEvent>> = const { RefCell::new(VecDeque::new()) };
    static STARTED: Cell<bool> = const { Cell::new(false) };
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static LAST_FLUSH: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) };
    static LAST_MESSAGE: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) };
}

/// Opens the socket and starts the poll timer (once per page).
pub fn start(feed: LiveFeed) {
    if STARTED.with(|started| started.replace(true)) {
        return;
    }
    set_interval(
        move || {
            if feed.state.get_untracked() != ConnectionState::Live {
                feed.poll.update(|n| *n += 1);
            } else if now_ms() - LAST_MESSAGE.with(Cell::get) > SILENT_LIMIT_MS {
                // The server ticks every second: a socket this quiet is dead without having
                // closed (a half-open connection after a network change or a sleeping laptop).
                abandon(feed);
            }
        },
        POLL_INTERVAL,
    );
    connect(feed, 0);
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}

/// Flushes the buffered events to the feed as soon as allowed: at once when the last flush was
/// at least [`FLUSH_INTERVAL`](super::FLUSH_INTERVAL) ago, else when that interval is up — so a quiet gateway's events
/// show without delay and a busy one's at most 4 times a second.
fn schedule_flush(feed: LiveFeed) {
    if FLUSH_SCHEDULED.with(|scheduled| scheduled.replace(true)) {
        return;
    }
    let since_last = now_ms() - LAST_FLUSH.with(Cell::get);
    set_timeout(
        move || {
            FLUSH_SCHEDULED.with(|scheduled| scheduled.set(false));
            flush(feed);
        },
        flush_delay(since_last),
    );
}

/// Applies everything buffered now. Each flush is marked as the User Timing mark
/// [`FLUSH_MARK`] (only the newest is kept), so DevTools — and the end-to-end test of the
/// 4-per-second limit — see when the page renders live data.
fn flush(feed: LiveFeed) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        performance.clear_marks_with_mark_name(FLUSH_MARK);
        let _ = performance.mark(FLUSH_MARK);
    }
    // Read after the mark: on a loaded machine the thread can be descheduled between the two,
    // and the next flush must be a whole interval after this one however it is timed.
    LAST_FLUSH.with(|last| last.set(now_ms()));
    let events: Vec<LiveEvent> = PENDING.with(|pending| pending.borrow_mut().drain(..).collect());
    if !events.is_empty() {
        feed.apply(events);
    }
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
fn connect(feed: LiveFeed, attempt: u32) {
    let Some(socket) = socket_url().and_then(|url| WebSocket::new(&url).ok()) else {
        schedule_reconnect(feed, attempt);
        return;
    };
    let attempts = Rc::new(Cell::new(attempt));

    let on_open = Closure::<dyn FnMut()>::new({
        let attempts = attempts.clone();
        move || {
            LAST_MESSAGE.with(|last| last.set(now_ms()));
            let reconnected = attempts.get() > 0;
            attempts.set(0);
            feed.state.set(ConnectionState::Live);
            leptos::task::spawn_local(async move {
                if let Ok(page) =
                    crate::api::requests::get_requests(format!("limit={CATCH_UP}")).await
                {
                    feed.catch_up(page.requests);
                }
            });
            // Whatever happened while disconnected: let pages re-read once.
            if reconnected {
                feed.poll.update(|n| *n += 1);
            }
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
        LAST_MESSAGE.with(|last| last.set(now_ms()));
        let Some(text) = message.data().as_string() else {
            return;
        };
        match LiveEvent::from_json(text.as_bytes()) {
            Ok(event) => {
                PENDING.with(|pending| {
                    let mut pending = pending.borrow_mut();
                    if pending.len() >= PENDING_EVENTS {
                        pending.pop_front();
                    }
                    pending.push_back(event);
                });
                schedule_flush(feed);
            }
            Err(error) => leptos::logging::warn!("ignoring live event: {error}"),
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        disconnected(feed, attempts.get().saturating_add(1));
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

/// Drops the current socket as if it had closed, and schedules a new one.
fn abandon(feed: LiveFeed) {
    if let Some(dead) = CURRENT.with(|current| current.borrow_mut().take()) {
        dead.socket.set_onclose(None);
        let _ = dead.socket.close();
    }
    disconnected(feed, 1);
}

/// The socket is gone: says so, and schedules reconnection attempt `attempt`. Pushed routes and
/// models stop updating, so pages show what they poll instead.
fn disconnected(feed: LiveFeed, attempt: u32) {
    feed.state.set(ConnectionState::Reconnecting);
    feed.routes.set(None);
    feed.models.set(None);
    schedule_reconnect(feed, attempt);
}

fn schedule_reconnect(feed: LiveFeed, attempt: u32) {
    set_timeout(move || connect(feed, attempt), reconnect_delay(attempt));
}
