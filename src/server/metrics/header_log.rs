//! The headers of the newest requests ([`HeaderLog`]), kept by the metrics engine for the request
//! detail view: the [`CapturedHeaders`] each request's event carried, by `seq`.

use crate::server::proxy::header_capture::{CapturedHeaders, KEPT_REQUESTS};
use std::collections::VecDeque;

/// The headers of the newest requests, by `seq` (oldest first, `seq` increasing).
#[derive(Debug)]
pub struct HeaderLog {
    entries: VecDeque<(u64, CapturedHeaders)>,
    capacity: usize,
}

impl Default for HeaderLog {
    fn default() -> Self {
        Self::with_capacity(KEPT_REQUESTS)
    }
}

impl HeaderLog {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.min(KEPT_REQUESTS)),
            capacity,
        }
    }

    /// Keeps the headers of request `seq` (newer than any kept), forgetting the oldest when full.
    pub fn push(&mut self, seq: u64, headers: CapturedHeaders) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, headers));
    }

    /// The headers of request `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<&CapturedHeaders> {
        let index = self
            .entries
            .binary_search_by_key(&seq, |(kept, _)| *kept)
            .ok()?;
        self.entries.get(index).map(|(_, headers)| headers)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_and_finds_by_seq() {
        let mut log = HeaderLog::with_capacity(3);
        for seq in [10, 11, 13, 14] {
            log.push(seq, CapturedHeaders::default());
        }
        assert_eq!(log.len(), 3);
        assert!(log.get(10).is_none(), "the oldest was forgotten");
        assert!(log.get(12).is_none());
        assert!(log.get(11).is_some() && log.get(13).is_some() && log.get(14).is_some());
    }
}
