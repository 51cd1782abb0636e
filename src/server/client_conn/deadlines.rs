//! The deadlines of one client connection, as a pure state machine with time passed in: a new
//! connection has `header_read_timeout` to complete its first request's head; while requests
//! are in flight nothing is timed; an idle connection has `keepalive_idle_timeout` to start its
//! next request and, on HTTP/1.1, once bytes of that request arrive, `header_read_timeout` to
//! complete its head; bytes still going out to it (a slow reader taking the end of a response
//! hyper had already been handed) restart its idle time, so only a connection quiet both ways
//! is idle. On HTTP/2 bytes between requests do not start a head (they may be pings), nor do
//! writes restart the idle time (they may be ping acknowledgements): only a new stream ends it.

use crate::server::config::Limits;
use std::time::Duration;
use tokio::time::Instant;

/// Where a connection is in its life, as far as its deadlines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the first request's head, since `since` (the connection was accepted, or its
    /// TLS handshake ended).
    FirstHead { since: Instant },
    /// Requests in flight: nothing is timed.
    Busy,
    /// Idle after a request since `since`, nothing of the next one yet.
    Idle { since: Instant },
    /// Part of the next request's head arrived at `since` (HTTP/1.1).
    NextHead { since: Instant },
}

/// What a passed deadline cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// A request's head was not complete in time.
    Head,
    /// The connection stayed idle too long.
    Idle,
}

/// One connection's deadlines.
#[derive(Debug)]
pub struct Deadlines {
    header_read: Duration,
    keepalive_idle: Duration,
    /// Whether bytes arriving while idle start a request head, and bytes going out restart the
    /// idle time (HTTP/1.1).
    heads_from_bytes: bool,
    phase: Phase,
    /// Requests started as of the last look.
    requests_seen: u64,
}

impl Deadlines {
    /// A connection that became ready for its first request at `start`.
    pub fn new(limits: &Limits, heads_from_bytes: bool, start: Instant) -> Self {
        Self {
            header_read: limits.header_read_timeout,
            keepalive_idle: limits.keepalive_idle_timeout,
            heads_from_bytes,
            phase: Phase::FirstHead { since: start },
            requests_seen: 0,
        }
    }

    /// Takes in what the connection did since the last look: whether requests are in flight,
    /// how many have started in all, whether bytes arrived, whether bytes went out. `now` is
    /// only asked on a change.
    pub fn observe(
        &mut self,
        in_flight: bool,
        started: u64,
        bytes_read: bool,
        bytes_written: bool,
        now: impl FnOnce() -> Instant,
    ) {
        let new_requests = started != self.requests_seen;
        self.requests_seen = started;
        self.phase = match self.phase {
            _ if in_flight => Phase::Busy,
            // A request started and ended since the last look (bytes read then were its own).
            Phase::Busy => Phase::Idle { since: now() },
            _ if new_requests => Phase::Idle { since: now() },
            Phase::Idle { .. } if bytes_read && self.heads_from_bytes => {
                Phase::NextHead { since: now() }
            }
            Phase::Idle { .. } if bytes_written && self.heads_from_bytes => {
                Phase::Idle { since: now() }
            }
            unchanged => unchanged,
        };
    }

    /// When the connection is cut unless something happens first.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::FirstHead { since } | Phase::NextHead { since } => {
                Some(since + self.header_read)
            }
            Phase::Idle { since } => Some(since + self.keepalive_idle),
            Phase::Busy => None,
        }
    }

    /// What passing [`deadline`](Self::deadline) means.
    pub fn expired(&self) -> Expired {
        match self.phase {
            Phase::Idle { .. } | Phase::Busy => Expired::Idle,
            Phase::FirstHead { .. } | Phase::NextHead { .. } => Expired::Head,
        }
    }

    /// The phase (tests).
    pub fn phase(&self) -> Phase {
        self.phase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            keepalive_idle_timeout: Duration::from_secs(60),
            ..Limits::default()
        }
    }

    #[test]
    fn a_new_connection_has_the_header_read_timeout_for_its_first_head() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), true, start);
        assert_eq!(deadlines.deadline(), Some(start + Duration::from_secs(10)));
        // Bytes of the first head change nothing: the clock runs from the start.
        deadlines.observe(false, 0, true, false, || unreachable!("no change"));
        assert_eq!(deadlines.deadline(), Some(start + Duration::from_secs(10)));
        assert_eq!(deadlines.expired(), Expired::Head);
    }

    #[test]
    fn requests_in_flight_are_never_timed_and_idle_time_starts_when_they_end() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), true, start);
        deadlines.observe(true, 1, true, false, || unreachable!());
        assert_eq!(deadlines.phase(), Phase::Busy);
        assert_eq!(deadlines.deadline(), None);
        let done = start + Duration::from_secs(100);
        deadlines.observe(false, 1, false, false, || done);
        assert_eq!(deadlines.deadline(), Some(done + Duration::from_secs(60)));
        assert_eq!(deadlines.expired(), Expired::Idle);
    }

    #[test]
    fn on_http1_bytes_after_idle_start_the_next_head_clock() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), true, start);
        deadlines.observe(true, 1, true, false, || unreachable!());
        deadlines.observe(false, 1, false, false, || start);
        let arrived = start + Duration::from_secs(30);
        deadlines.observe(false, 1, true, false, || arrived);
        assert_eq!(deadlines.phase(), Phase::NextHead { since: arrived });
        assert_eq!(
            deadlines.deadline(),
            Some(arrived + Duration::from_secs(10))
        );
        assert_eq!(deadlines.expired(), Expired::Head);
        // More bytes do not move it.
        deadlines.observe(false, 1, true, false, || unreachable!());
        assert_eq!(
            deadlines.deadline(),
            Some(arrived + Duration::from_secs(10))
        );
    }

    #[test]
    fn on_http2_bytes_while_idle_are_not_a_head() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), false, start);
        deadlines.observe(true, 1, true, false, || unreachable!());
        deadlines.observe(false, 1, false, false, || start);
        deadlines.observe(false, 1, true, false, || unreachable!());
        assert_eq!(deadlines.phase(), Phase::Idle { since: start });
    }

    #[test]
    fn a_request_served_between_two_looks_restarts_the_idle_time() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), true, start);
        let later = start + Duration::from_secs(5);
        // The first request came and went, its bytes with it: idle, not a new head.
        deadlines.observe(false, 1, true, false, || later);
        assert_eq!(deadlines.phase(), Phase::Idle { since: later });
        let again = later + Duration::from_secs(50);
        deadlines.observe(false, 2, true, false, || again);
        assert_eq!(deadlines.phase(), Phase::Idle { since: again });
    }

    #[test]
    fn on_http1_a_response_still_going_out_restarts_the_idle_time() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&limits(), true, start);
        deadlines.observe(true, 1, true, false, || unreachable!());
        deadlines.observe(false, 1, false, true, || start);
        let later = start + Duration::from_secs(45);
        deadlines.observe(false, 1, false, true, || later);
        assert_eq!(deadlines.phase(), Phase::Idle { since: later });
        assert_eq!(deadlines.deadline(), Some(later + Duration::from_secs(60)));

        let mut http2 = Deadlines::new(&limits(), false, start);
        http2.observe(true, 1, true, false, || unreachable!());
        http2.observe(false, 1, false, false, || start);
        http2.observe(false, 1, false, true, || {
            unreachable!("writes change nothing")
        });
        assert_eq!(http2.phase(), Phase::Idle { since: start });
    }
}
