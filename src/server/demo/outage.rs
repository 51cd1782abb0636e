//! When a flaky demo upstream is down: a fixed cycle counted from the upstream's start, so the
//! outages come at predictable times — by default the first one minute in, then 20 s out of
//! every 2 minutes — long enough for health checks and circuit breakers to trip and recover.

use std::time::Duration;

/// Whether the upstream is up or down at some moment, and for how much longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Serving; the next outage begins after this long.
    Up(Duration),
    /// Refusing connections; it comes back after this long.
    Down(Duration),
}

/// A repeating outage: down for `length` out of every `every`, starting `first` after start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutageSchedule {
    first: Duration,
    every: Duration,
    length: Duration,
}

impl OutageSchedule {
    /// The flaky upstream's schedule: down 60–80 s after start, then 180–200 s, 300–320 s, …
    pub const FLAKY: Self = Self {
        first: Duration::from_secs(60),
        every: Duration::from_secs(120),
        length: Duration::from_secs(20),
    };

    /// Down for `length` out of every `every`, the first time `first` after start. `length` must
    /// be shorter than `every` and not zero.
    pub fn new(first: Duration, every: Duration, length: Duration) -> Self {
        assert!(
            !length.is_zero() && length < every,
            "an outage must be shorter than its cycle"
        );
        Self {
            first,
            every,
            length,
        }
    }

    /// The phase `elapsed` after start.
    pub fn phase_at(&self, elapsed: Duration) -> Phase {
        let Some(into_cycles) = elapsed.checked_sub(self.first) else {
            return Phase::Up(self.first - elapsed);
        };
        let every = self.every.as_nanos();
        let into_cycle =
            Duration::from_nanos(u64::try_from(into_cycles.as_nanos() % every).unwrap_or(0));
        if into_cycle < self.length {
            Phase::Down(self.length - into_cycle)
        } else {
            Phase::Up(self.every - into_cycle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_flaky_schedule_is_down_twenty_seconds_every_two_minutes() {
        let schedule = OutageSchedule::FLAKY;
        assert_eq!(schedule.phase_at(secs(0)), Phase::Up(secs(60)));
        assert_eq!(schedule.phase_at(secs(59)), Phase::Up(secs(1)));
        assert_eq!(schedule.phase_at(secs(60)), Phase::Down(secs(20)));
        assert_eq!(schedule.phase_at(secs(75)), Phase::Down(secs(5)));
        assert_eq!(schedule.phase_at(secs(80)), Phase::Up(secs(100)));
        assert_eq!(schedule.phase_at(secs(179)), Phase::Up(secs(1)));
        assert_eq!(schedule.phase_at(secs(180)), Phase::Down(secs(20)));
        assert_eq!(
            schedule.phase_at(secs(60 + 120 * 1000 + 19)),
            Phase::Down(secs(1))
        );
    }

    #[test]
    fn phases_never_last_zero_time() {
        let schedule = OutageSchedule::new(
            Duration::from_millis(5),
            Duration::from_millis(30),
            Duration::from_millis(10),
        );
        for ms in 0..200 {
            let (Phase::Up(left) | Phase::Down(left)) =
                schedule.phase_at(Duration::from_millis(ms));
            assert!(!left.is_zero(), "at {ms} ms");
        }
        assert_eq!(
            schedule.phase_at(Duration::from_millis(44)),
            Phase::Down(Duration::from_millis(1))
        );
        assert_eq!(
            schedule.phase_at(Duration::from_millis(46)),
            Phase::Up(Duration::from_millis(19))
        );
    }
}
