//! One alert's life, as Prometheus has it: inactive → pending (the condition holds, waiting
//! `for_s`) → firing → resolved once the condition has been false for `resolve_for_s`, so a
//! value bouncing around the threshold does not flap. A pending alert whose condition goes
//! false is inactive again at once. Time is passed in, so the machine is tested without clocks.

use crate::views::AlertState;
use chrono::{DateTime, TimeDelta, Utc};

/// Where the alert is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Inactive,
    Pending {
        since: DateTime<Utc>,
    },
    Firing {
        since: DateTime<Utc>,
        /// Since when the condition has been false (it resolves `resolve_for_s` later).
        clear_since: Option<DateTime<Utc>>,
    },
}

impl Phase {
    /// The state the API shows.
    pub fn state(self) -> AlertState {
        match self {
            Self::Inactive => AlertState::Inactive,
            Self::Pending { .. } => AlertState::Pending,
            Self::Firing { .. } => AlertState::Firing,
        }
    }

    /// Since when it has been pending or firing.
    pub fn since(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Inactive => None,
            Self::Pending { since } | Self::Firing { since, .. } => Some(since),
        }
    }
}

/// A change of state: the state entered, and when the alert began firing (for `firing` and
/// `resolved`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub entered: AlertState,
    pub started_at: Option<DateTime<Utc>>,
}

/// How long the condition must hold, and be false, for a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub for_s: u64,
    pub resolve_for_s: u64,
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> TimeDelta {
    now.signed_duration_since(since)
}

fn seconds(value: u64) -> TimeDelta {
    TimeDelta::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Phase {
    /// Moves on by one evaluation at `now` where the condition `holds` (no data counts as
    /// false); returns the change, if there was one.
    pub fn step(&mut self, now: DateTime<Utc>, holds: bool, timing: Timing) -> Option<Step> {
        let (next, step) = match (*self, holds) {
            (Self::Inactive, false) => return None,
            (Self::Inactive, true) if timing.for_s == 0 => fire(now),
            (Self::Inactive, true) => (
                Self::Pending { since: now },
                Step {
                    entered: AlertState::Pending,
                    started_at: None,
                },
            ),
            (Self::Pending { since }, true) => {
                if elapsed(since, now) < seconds(timing.for_s) {
                    return None;
                }
                fire(now)
            }
            (Self::Pending { .. }, false) => (
                Self::Inactive,
                Step {
                    entered: AlertState::Inactive,
                    started_at: None,
                },
            ),
            (Self::Firing { since, .. }, true) => {
                *self = Self::Firing {
                    since,
                    clear_since: None,
                };
                return None;
            }
            (Self::Firing { since, clear_since }, false) => {
                let clear_since = clear_since.unwrap_or(now);
                if elapsed(clear_since, now) < seconds(timing.resolve_for_s) {
                    *self = Self::Firing {
                        since,
                        clear_since: Some(clear_since),
                    };
                    return None;
                }
                (
                    Self::Inactive,
                    Step {
                        entered: AlertState::Resolved,
                        started_at: Some(since),
                    },
                )
            }
        };
        *self = next;
        Some(step)
    }
}

fn fire(now: DateTime<Utc>) -> (Phase, Step) {
    (
        Phase::Firing {
            since: now,
            clear_since: None,
        },
        Step {
            entered: AlertState::Firing,
            started_at: Some(now),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
    }

    /// Runs one evaluation a second over `conditions`; returns (second, state entered).
    fn run(conditions: &[bool], timing: Timing) -> Vec<(i64, AlertState)> {
        let mut phase = Phase::default();
        conditions
            .iter()
            .enumerate()
            .filter_map(|(second, &holds)| {
                let second = second as i64;
                phase
                    .step(at(second), holds, timing)
                    .map(|step| (second, step.entered))
            })
            .collect()
    }

    const TIMING: Timing = Timing {
        for_s: 3,
        resolve_for_s: 2,
    };

    #[test]
    fn pending_fires_after_for_s_and_resolves_after_resolve_for_s() {
        let changes = run(
            &[
                false, true, true, true, true, true, false, false, false, false,
            ],
            TIMING,
        );
        assert_eq!(
            changes,
            vec![
                (1, AlertState::Pending),
                (4, AlertState::Firing),
                (8, AlertState::Resolved),
            ]
        );
    }

    #[test]
    fn a_short_spike_never_fires() {
        let changes = run(&[true, true, false, true, true, false], TIMING);
        assert_eq!(
            changes,
            vec![
                (0, AlertState::Pending),
                (2, AlertState::Inactive),
                (3, AlertState::Pending),
                (5, AlertState::Inactive),
            ]
        );
    }

    #[test]
    fn a_firing_alert_does_not_flap_while_the_value_bounces() {
        let mut conditions = vec![true; 4];
        // True every other second: never false for resolve_for_s in a row.
        conditions.extend([false, true, false, true, false, true]);
        let changes = run(&conditions, TIMING);
        assert_eq!(
            changes,
            vec![(0, AlertState::Pending), (3, AlertState::Firing)]
        );
    }

    #[test]
    fn zero_for_s_fires_at_once_and_resolve_keeps_the_start() {
        let timing = Timing {
            for_s: 0,
            resolve_for_s: 0,
        };
        let mut phase = Phase::default();
        let fired = phase.step(at(5), true, timing).unwrap();
        assert_eq!(fired.entered, AlertState::Firing);
        assert_eq!(fired.started_at, Some(at(5)));
        assert_eq!(phase.since(), Some(at(5)));
        assert_eq!(phase.step(at(6), true, timing), None);
        let resolved = phase.step(at(9), false, timing).unwrap();
        assert_eq!(
            resolved,
            Step {
                entered: AlertState::Resolved,
                started_at: Some(at(5))
            }
        );
        assert_eq!(phase, Phase::Inactive);
    }
}
