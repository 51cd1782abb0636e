//! Test helpers: a history opened for tests, and (re-exported) the generated requests of
//! [`records::testing`](crate::server::records::testing).

pub use crate::server::records::testing::*;

use super::{History, HistoryOptions, HistoryWriter};
use std::path::Path;

/// A history in `dir` with a short busy timeout (tests hold locks on purpose).
pub fn open(dir: &Path) -> (History, HistoryWriter) {
    open_with(dir, HistoryOptions::default())
}

pub fn open_with(dir: &Path, options: HistoryOptions) -> (History, HistoryWriter) {
    History::open_with(
        &dir.join("history.db"),
        HistoryOptions {
            busy_timeout: std::time::Duration::from_millis(50),
            ..options
        },
    )
    .expect("opens")
}
