//! The newest finished requests, in memory: what `/api/requests` answers from before the history
//! database has them, and what request detail lookups try first.

use crate::request_filter::RequestQuery;
use crate::server::records::record::SharedRecord;
use crate::views::RequestRecord;
use std::collections::VecDeque;

/// How many requests the ring keeps.
pub const RECENT_REQUESTS: usize = 10_000;

/// A bounded ring of the newest requests, oldest first.
#[derive(Debug)]
pub struct RecentRequests {
    records: VecDeque<SharedRecord>,
    capacity: usize,
}

impl Default for RecentRequests {
    fn default() -> Self {
        Self::with_capacity(RECENT_REQUESTS)
    }
}

impl RecentRequests {
    /// A ring keeping at most `capacity` requests.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            records: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Adds the newest request, forgetting the oldest when full.
    pub fn push(&mut self, record: SharedRecord) {
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// The `seq` of the oldest request held (everything from it on is here).
    pub fn oldest_seq(&self) -> Option<u64> {
        self.records.front().map(|r| r.seq)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Requests passing `query`, newest first, at most `query.limit`.
    pub fn query(&self, query: &RequestQuery) -> Vec<RequestRecord> {
        self.records
            .iter()
            .rev()
            .filter(|r| query.matches(r))
            .take(query.limit)
            .map(|r| RequestRecord::clone(r))
            .collect()
    }

    /// The newest request with this id.
    pub fn by_id(&self, request_id: &str) -> Option<RequestRecord> {
        self.records
            .iter()
            .rev()
            .find(|r| r.request_id == request_id)
            .map(|r| RequestRecord::clone(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    pub(crate) fn record(seq: u64, status: u16) -> RequestRecord {
        RequestRecord {
            seq,
            request_id: compact_str::format_compact!("id-{seq}"),
            at: Utc::now(),
            method: "GET".into(),
            path: compact_str::format_compact!("/items/{seq}"),
            route: Some("api".into()),
            target: Some("http://127.0.0.1:9".into()),
            status,
            latency_us: 100,
            upstream_us: Some(80),
            bytes_in: 0,
            bytes_out: 2,
            client: "127.0.0.1".into(),
            user_agent: None,
            error: None,
            attempts: 1,
            llm: None,
        }
    }

    #[test]
    fn keeps_only_the_newest_up_to_its_capacity() {
        let mut ring = RecentRequests::with_capacity(3);
        for seq in 0..5 {
            ring.push(record(seq, 200).into());
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.oldest_seq(), Some(2));
        let all = ring.query(&RequestQuery::default());
        assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 3, 2]);
        assert!(ring.by_id("id-1").is_none(), "forgotten");
        assert_eq!(ring.by_id("id-3").map(|r| r.seq), Some(3));
    }

    #[test]
    fn queries_filter_limit_and_page() {
        let mut ring = RecentRequests::with_capacity(100);
        for seq in 0..20 {
            ring.push(record(seq, if seq % 4 == 0 { 503 } else { 200 }).into());
        }
        let query = RequestQuery {
            status: crate::request_filter::StatusFilter::parse("5xx"),
            limit: 2,
            ..RequestQuery::default()
        };
        let page = ring.query(&query);
        assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [16, 12]);
        let next = ring.query(&RequestQuery {
            before: Some(12),
            ..query
        });
        assert_eq!(next.iter().map(|r| r.seq).collect::<Vec<_>>(), [8, 4]);
    }
}
