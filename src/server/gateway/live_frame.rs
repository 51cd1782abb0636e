//! A published live event and its JSON text, serialised once for every dashboard socket that
//! sends it: with many dashboards open, a batch of finished requests is turned into text once,
//! not once per subscriber, and each socket's frame shares that one buffer.

use crate::views::LiveEvent;
use axum::extract::ws::Utf8Bytes;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// One live event as the broadcast channel carries it; cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveFrame(Arc<Frame>);

#[derive(Debug)]
struct Frame {
    event: LiveEvent,
    /// The event as JSON, made by the first subscriber that sends it; `None` if it cannot be
    /// serialised (never expected for the view types).
    json: OnceLock<Option<Utf8Bytes>>,
}

impl LiveFrame {
    /// A frame for `event`, not yet serialised.
    pub fn new(event: LiveEvent) -> Self {
        Self(Arc::new(Frame {
            event,
            json: OnceLock::new(),
        }))
    }

    /// The event.
    pub fn event(&self) -> &LiveEvent {
        &self.0.event
    }

    /// The event as JSON text: serialised by the first caller, shared by the others.
    pub fn json(&self) -> Option<Utf8Bytes> {
        self.0
            .json
            .get_or_init(|| {
                serde_json::to_string(&self.0.event)
                    .ok()
                    .map(Utf8Bytes::from)
            })
            .clone()
    }
}

impl Deref for LiveFrame {
    type Target = LiveEvent;

    fn deref(&self) -> &LiveEvent {
        self.event()
    }
}

impl From<LiveEvent> for LiveFrame {
    fn from(event: LiveEvent) -> Self {
        Self::new(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::UptimeTick;
    use chrono::Utc;

    #[test]
    fn every_clone_shares_one_serialisation() {
        let frame = LiveFrame::new(LiveEvent::Tick(UptimeTick {
            uptime_secs: 3,
            at: Utc::now(),
            alerts_firing: 0,
        }));
        let other = frame.clone();
        let first = frame.json().unwrap();
        let second = other.json().unwrap();
        assert_eq!(first.as_str().as_ptr(), second.as_str().as_ptr());
        assert_eq!(
            serde_json::from_str::<LiveEvent>(first.as_str()).unwrap(),
            *frame.event()
        );
    }
}
