//! The circuit breaker of one target, as a pure state machine (time is passed in):
//! closed → open after `failure_threshold` consecutive failures → half-open once `open` has
//! passed, admitting at most `half_open_requests` probes → closed when a probe succeeds, open
//! again when one fails.

use crate::server::config::CircuitBreakerConfig;
use std::time::Instant;

/// The breaker's state as reported to operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Traffic flows.
    Closed,
    /// Traffic is refused until the open period ends.
    Open,
    /// A few probe requests decide whether to close again.
    HalfOpen,
}

impl BreakerState {
    /// The name used in logs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `since`: when the first probe was admitted (a probe whose outcome never arrives — its
    /// client went away — stops blocking further probes after one open period).
    HalfOpen {
        probes: u32,
        since: Instant,
    },
}

/// A circuit breaker; see the module docs.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    state: State,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            state: State::Closed {
                consecutive_failures: 0,
            },
        }
    }
}

impl CircuitBreaker {
    /// The state at `now` (an open breaker whose period has passed reads as half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        match self.state {
            State::Closed {
                consecutive_failures,
            } => consecutive_failures,
            _ => 0,
        }
    }

    /// Whether a request could be admitted at `now` (does not take a probe slot).
    pub fn is_available(&self, config: &CircuitBreakerConfig, now: Instant) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until } => now >= until,
            State::HalfOpen { probes, since } => {
                probes < config.half_open_requests || now >= since + config.open
            }
        }
    }

    /// Admits a request at `now` if the breaker allows one, taking a probe slot when half-open.
    pub fn try_acquire(&mut self, config: &CircuitBreakerConfig, now: Instant) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen {
                    probes: 1,
                    since: now,
                };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { since, .. } if now >= since + config.open => {
                // Earlier probes never reported back: start a fresh round.
                self.state = State::HalfOpen {
                    probes: 1,
                    since: now,
                };
                true
            }
            State::HalfOpen { probes, since } if probes < config.half_open_requests => {
                self.state = State::HalfOpen {
                    probes: probes + 1,
                    since,
                };
                true
            }
            State::HalfOpen { .. } => false,
        }
    }

    /// Records a successful request; returns the new state if it changed.
    pub fn on_success(&mut self) -> Option<BreakerState> {
        match self.state {
            State::Closed { .. } => {
                self.state = State::Closed {
                    consecutive_failures: 0,
                };
                None
            }
            State::HalfOpen { .. } => {
                self.state = State::Closed {
                    consecutive_failures: 0,
                };
                Some(BreakerState::Closed)
            }
            // A request admitted before the breaker opened: the open period stands.
            State::Open { .. } => None,
        }
    }

    /// Records a failed request at `now`; returns the new state if it changed.
    pub fn on_failure(
        &mut self,
        config: &CircuitBreakerConfig,
        now: Instant,
    ) -> Option<BreakerState> {
        match self.state {
            State::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures + 1;
                if failures >= config.failure_threshold {
                    self.state = State::Open {
                        until: now + config.open,
                    };
                    Some(BreakerState::Open)
                } else {
                    self.state = State::Closed {
                        consecutive_failures: failures,
                    };
                    None
                }
            }
            State::HalfOpen { .. } => {
                self.state = State::Open {
                    until: now + config.open,
                };
                Some(BreakerState::Open)
            }
            State::Open { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_threshold: 3,
            open: Duration::from_secs(10),
            half_open_requests: 2,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let (config, now) = (config(), Instant::now());
        let mut breaker = CircuitBreaker::default();
        assert_eq!(breaker.on_failure(&config, now), None);
        assert_eq!(breaker.on_failure(&config, now), None);
        assert_eq!(breaker.on_success(), None, "a success resets the count");
        assert_eq!(breaker.on_failure(&config, now), None);
        assert_eq!(breaker.on_failure(&config, now), None);
        assert_eq!(breaker.on_failure(&config, now), Some(BreakerState::Open));
        assert_eq!(breaker.state(now), BreakerState::Open);
        assert!(!breaker.try_acquire(&config, now + Duration::from_secs(9)));
    }

    #[test]
    fn half_open_admits_limited_probes_then_closes_on_success() {
        let (config, now) = (config(), Instant::now());
        let mut breaker = CircuitBreaker::default();
        for _ in 0..3 {
            breaker.on_failure(&config, now);
        }
        let later = now + Duration::from_secs(10);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert!(breaker.try_acquire(&config, later));
        assert!(breaker.try_acquire(&config, later));
        assert!(!breaker.try_acquire(&config, later), "only two probes");
        assert!(!breaker.is_available(&config, later));
        assert_eq!(breaker.on_success(), Some(BreakerState::Closed));
        assert!(breaker.try_acquire(&config, later));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let (config, now) = (config(), Instant::now());
        let mut breaker = CircuitBreaker::default();
        for _ in 0..3 {
            breaker.on_failure(&config, now);
        }
        let later = now + Duration::from_secs(11);
        assert!(breaker.try_acquire(&config, later));
        assert_eq!(breaker.on_failure(&config, later), Some(BreakerState::Open));
        assert!(!breaker.try_acquire(&config, later + Duration::from_secs(9)));
        assert!(breaker.try_acquire(&config, later + Duration::from_secs(10)));
    }

    #[test]
    fn lost_probes_stop_blocking_after_one_period() {
        let (config, now) = (config(), Instant::now());
        let mut breaker = CircuitBreaker::default();
        for _ in 0..3 {
            breaker.on_failure(&config, now);
        }
        let t1 = now + Duration::from_secs(10);
        assert!(breaker.try_acquire(&config, t1));
        assert!(breaker.try_acquire(&config, t1));
        assert!(!breaker.try_acquire(&config, t1 + Duration::from_secs(5)));
        assert!(breaker.try_acquire(&config, t1 + Duration::from_secs(10)));
    }
}
