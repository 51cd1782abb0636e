//! The gateway's own log, kept for the dashboard: a tracing layer that copies every line at
//! `INFO` and above from Gatewatch (and `WARN` and above from its libraries) into a bounded ring
//! and announces it to subscribers, while the usual formatter still prints to stdout.

use crate::views::LogLine;
use chrono::Utc;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Lines kept.
pub const LOG_LINES: usize = 2_000;
/// Longest message kept, in bytes.
pub const MAX_MESSAGE_LEN: usize = 4_096;
/// How many lines a slow subscriber may fall behind before it skips ahead.
const SUBSCRIBER_BUFFER: usize = 256;

/// The process's log ring (there is one log per process).
pub struct LogRing {
    lines: Mutex<VecDeque<LogLine>>,
    next_seq: AtomicU64,
    announce: broadcast::Sender<LogLine>,
}

impl LogRing {
    fn new() -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(LOG_LINES)),
            next_seq: AtomicU64::new(0),
            announce: broadcast::channel(SUBSCRIBER_BUFFER).0,
        }
    }

    /// The process-wide ring.
    pub fn global() -> &'static LogRing {
        static RING: OnceLock<LogRing> = OnceLock::new();
        RING.get_or_init(LogRing::new)
    }

    /// Adds a line, forgetting the oldest when full, and announces it.
    pub fn push(&self, level: &str, target: &str, message: String) {
        let line = LogLine {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            at: Utc::now(),
            level: level.to_string(),
            target: target.to_string(),
            message,
        };
        {
            let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
            if lines.len() == LOG_LINES {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        let _ = self.announce.send(line);
    }

    /// Lines at `min_level` or more severe whose message or target contains `search`
    /// (case-insensitive), newest first, older than `before` if given, at most `limit`.
    pub fn query(
        &self,
        min_level: Level,
        search: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<LogLine> {
        let search = search.map(str::to_lowercase);
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .rev()
            .filter(|line| before.is_none_or(|before| line.seq < before))
            .filter(|line| level_of(&line.level).is_some_and(|level| level <= min_level))
            .filter(|line| {
                search.as_deref().is_none_or(|s| {
                    line.message.to_lowercase().contains(s) || line.target.contains(s)
                })
            })
            .take(limit)
            .cloned()
            .collect()
    }

    /// New lines from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.announce.subscribe()
    }
}

/// `ERROR`, `WARN`, … as a level.
pub fn level_of(name: &str) -> Option<Level> {
    name.parse().ok()
}

/// The tracing layer feeding [`LogRing::global`], filtered to what the dashboard shows.
pub fn ring_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let filter = Targets::new()
        .with_target("gatewatch", Level::INFO)
        .with_default(Level::WARN);
    RingLayer.with_filter(filter)
}

struct RingLayer;

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = MessageWriter::default();
        event.record(&mut message);
        let metadata = event.metadata();
        LogRing::global().push(
            metadata.level().as_str(),
            metadata.target(),
            message.finish(),
        );
    }
}

/// Collects an event's message and fields as `message key=value …`, bounded in length.
#[derive(Default)]
struct MessageWriter {
    message: String,
    fields: String,
}

impl MessageWriter {
    fn finish(self) -> String {
        let mut text = self.message;
        if !self.fields.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&self.fields);
        }
        if text.len() > MAX_MESSAGE_LEN {
            let mut end = MAX_MESSAGE_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        text
    }
}

impl Visit for MessageWriter {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.message.len() + self.fields.len() > MAX_MESSAGE_LEN {
            return;
        }
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn keeps_info_and_above_with_fields_and_is_bounded() {
        let ring = LogRing::global();
        let subscriber = tracing_subscriber::registry().with(ring_layer());
        let mut announced = ring.subscribe();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("not kept: debug");
            tracing::info!(route = "api", "unit-test marker config applied");
            tracing::warn!(target: "hyper", "library warning kept");
            tracing::info!(target: "hyper", "library info dropped");
        });
        let kept = ring.query(Level::INFO, Some("unit-test marker"), None, 10);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].level, "INFO");
        assert_eq!(
            kept[0].message,
            "unit-test marker config applied route=\"api\""
        );
        assert!(
            ring.query(Level::WARN, Some("unit-test marker"), None, 10)
                .is_empty()
        );
        assert_eq!(
            ring.query(Level::WARN, Some("library warning"), None, 10)
                .len(),
            1
        );
        assert!(
            ring.query(Level::TRACE, Some("library info"), None, 10)
                .is_empty()
        );
        assert!(
            ring.query(Level::TRACE, Some("not kept"), None, 10)
                .is_empty()
        );
        let first = announced.try_recv().expect("announced");
        assert!(first.message.contains("unit-test marker"));

        for i in 0..LOG_LINES + 5 {
            ring.push("INFO", "gatewatch", format!("filler {i}"));
        }
        assert_eq!(
            ring.query(Level::TRACE, None, None, usize::MAX).len(),
            LOG_LINES
        );
        let long = "x".repeat(MAX_MESSAGE_LEN * 2);
        let writer = MessageWriter {
            message: long,
            fields: String::new(),
        };
        assert!(writer.finish().len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
    }
}
