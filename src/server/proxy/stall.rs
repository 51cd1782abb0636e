//! How long a body may keep the proxy waiting: per request body and response body, a
//! [`StallTimer`] that starts when a wait for the other side begins and is forgotten on progress,
//! and [`BodyLimits`], what a route allows its bodies (`max_body_bytes`,
//! `limits.body_read_timeout_ms`, `limits.upstream_body_timeout_ms`).
//!
//! Progress costs nothing (a flag); a wait that begins reads the clock and moves the timer's
//! deadline later, which Tokio does without a lock once the timer is registered. The timer is
//! allocated the first time a body waits: a body that arrives whole with its head never does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What a route allows its bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest request body (`max_body_bytes`), if bounded.
    pub max_upload: Option<u64>,
    /// Longest an upload may go without a byte from the client (`limits.body_read_timeout_ms`).
    pub upload_stall: Duration,
    /// Longest an upstream's response body may go without a byte
    /// (`limits.upstream_body_timeout_ms`).
    pub download_stall: Duration,
}

/// Times waits on one side of an exchange: expired once a single wait has lasted `timeout`.
/// The timer it arms lives with its owner (see [`StallTimer`] for one that allocates its own).
#[derive(Debug)]
pub struct StallClock {
    timeout: Duration,
    /// A wait has begun (and no progress since).
    waiting: bool,
}

impl StallClock {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            waiting: false,
        }
    }

    /// The exchange moved: the next wait starts a new count.
    #[inline]
    pub fn progress(&mut self) {
        self.waiting = false;
    }

    /// Nothing is ready: `Ready` once this wait has lasted the timeout (the task is woken then).
    /// `sleep` is the timer, set on the first wait.
    pub fn poll_expired(
        &mut self,
        mut sleep: Pin<&mut Option<Sleep>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if !self.waiting {
            self.waiting = true;
            let deadline = Instant::now() + self.timeout;
            match sleep.as_mut().as_pin_mut() {
                Some(sleep) => sleep.reset(deadline),
                None => sleep.set(Some(tokio::time::sleep_until(deadline))),
            }
        }
        match sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => Poll::Pending,
        }
    }
}

/// A [`StallClock`] with its own timer, allocated the first time a wait begins (for bodies, which
/// move between tasks and most of which never wait).
#[derive(Debug)]
pub struct StallTimer {
    clock: StallClock,
    sleep: Option<Pin<Box<Option<Sleep>>>>,
}

impl StallTimer {
    pub fn new(timeout: Duration) -> Self {
        Self {
            clock: StallClock::new(timeout),
            sleep: None,
        }
    }

    /// The body moved: the next wait starts a new count.
    #[inline]
    pub fn progress(&mut self) {
        self.clock.progress();
    }

    /// The body has nothing ready: `Ready` once this wait has lasted the timeout.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(None));
        self.clock.poll_expired(sleep.as_mut(), cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    const TIMEOUT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn a_wait_expires_after_the_timeout_and_progress_starts_a_new_one() {
        let mut timer = StallTimer::new(TIMEOUT);
        let started = Instant::now();
        poll_fn(|cx| timer.poll_expired(cx)).await;
        assert!(started.elapsed() >= TIMEOUT);

        timer.progress();
        tokio::time::sleep(TIMEOUT * 2).await;
        let waited = Instant::now();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(
            timer.poll_expired(&mut cx).is_pending(),
            "time without a wait does not count"
        );
        poll_fn(|cx| timer.poll_expired(cx)).await;
        assert!(waited.elapsed() >= TIMEOUT);
    }

    #[tokio::test]
    async fn polling_again_during_a_wait_keeps_its_deadline() {
        let mut timer = StallTimer::new(TIMEOUT);
        let deadline = |timer: &StallTimer| {
            let sleep = timer.sleep.as_ref()?;
            sleep.as_ref().get_ref().as_ref().map(Sleep::deadline)
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(deadline(&timer), None, "no timer before the first wait");
        assert!(timer.poll_expired(&mut cx).is_pending());
        let first = deadline(&timer).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(timer.poll_expired(&mut cx).is_pending());
        assert_eq!(deadline(&timer), Some(first));
        timer.progress();
        assert!(timer.poll_expired(&mut cx).is_pending());
        assert!(
            deadline(&timer).unwrap() > first,
            "a new wait, a new deadline"
        );
    }
}
