//! A target's idle keep-alive connections, most recently used first, bounded in number and age.
//! Each thread has its own share ([`workers::current_slot`]): a connection is reused by the proxy
//! worker that opened it, whose poller watches its socket. The lock is held only to push or pop;
//! connections are checked and closed outside it.

use super::connection::UpstreamConnection;
use crate::server::proxy::workers;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Idle keep-alive connections kept per target and thread.
pub const MAX_IDLE_PER_TARGET: usize = 1024;
/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The idle connections to one target.
pub struct ConnectionPool {
    /// One share per thread slot; in each, the oldest at the front, taken from the back.
    shares: Box<[Share]>,
}

/// One thread's idle connections, on cache lines of its own so that threads do not contend.
#[derive(Default)]
#[repr(align(128))]
struct Share(Mutex<VecDeque<Idle>>);

impl Default for ConnectionPool {
    fn default() -> Self {
        Self {
            shares: (0..workers::slot_count())
                .map(|_| Share::default())
                .collect(),
        }
    }
}

struct Idle {
    connection: UpstreamConnection,
    since: Instant,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl ConnectionPool {
    /// The most recently used idle connection that is still open, if any.
    pub fn take(&self) -> Option<UpstreamConnection> {
        loop {
            let Idle { mut connection, .. } = self.own_share().pop_back()?;
            if connection.is_reusable() {
                return Some(connection);
            }
            // Closed by the upstream while idle: dropped here, outside the lock.
        }
    }

    /// Keeps `connection`, whose last exchange ended cleanly, for the next request. (Whether
    /// the upstream closed it meanwhile is checked when it is taken.)
    pub fn put_back(&self, connection: UpstreamConnection) {
        let now = Instant::now();
        let mut idle = self.own_share();
        // Full: the oldest makes room (closed below, outside the lock).
        let evicted = if idle.len() >= MAX_IDLE_PER_TARGET {
            idle.pop_front()
        } else {
            None
        };
        idle.push_back(Idle {
            connection,
            since: now,
        });
        drop(idle);
        drop(evicted);
    }

    /// Closes connections idle longer than [`IDLE_TIMEOUT`] (the oldest are at the front). One
    /// the upstream closed earlier is noticed when it is next taken, or here when it expires.
    pub fn sweep(&self, now: Instant) {
        for share in &self.shares {
            let mut idle = lock(share);
            let expired = idle
                .iter()
                .take_while(|entry| now.saturating_duration_since(entry.since) >= IDLE_TIMEOUT)
                .count();
            let closed: Vec<Idle> = idle.drain(..expired).collect();
            drop(idle);
            drop(closed);
        }
    }

    /// Closes every idle connection (their TLS settings changed).
    pub fn clear(&self) {
        for share in &self.shares {
            let closed = std::mem::take(&mut *lock(share));
            drop(closed);
        }
    }

    /// Idle connections now.
    pub fn idle_count(&self) -> usize {
        self.shares.iter().map(|share| lock(share).len()).sum()
    }

    fn own_share(&self) -> MutexGuard<'_, VecDeque<Idle>> {
        lock(&self.shares[workers::current_slot() % self.shares.len()])
    }
}

fn lock(share: &Share) -> MutexGuard<'_, VecDeque<Idle>> {
    share.0.lock().unwrap_or_else(PoisonError::into_inner)
}
