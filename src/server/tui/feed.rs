//! What the dashboard is fed: whole snapshots and live events, from the gateway in process or
//! from a running gateway over its admin API.

use super::model::{Link, Snapshot};
use crate::views::LiveEvent;

/// One thing that happened to the figures.
#[derive(Clone, Debug)]
pub enum Update {
    /// Everything, anew (at start, after a reconnect, after falling behind).
    Snapshot(Box<Snapshot>),
    /// One live event.
    Event(LiveEvent),
    /// The connection's state changed.
    Link(Link),
}

/// Where updates come from.
pub enum Feed {
    /// The gateway in this process.
    InProcess(super::in_process::LocalFeed),
    /// A running gateway's admin API (`gatewatch top`).
    Attached(tokio::sync::mpsc::Receiver<Update>),
}

impl Feed {
    /// The next update; `None` once the source has ended for good.
    pub async fn next(&mut self) -> Option<Update> {
        match self {
            Feed::InProcess(feed) => feed.next().await,
            Feed::Attached(updates) => updates.recv().await,
        }
    }
}
