//! Alerts on the overview's request-rate chart: a marker where each alert began firing — the
//! firing changes of the history (`OverviewData::alert_starts`, read with the page's data, so
//! the server draws them too) and those pushed since.

use crate::live_feed::{mounted, use_live_feed};
use crate::views::AlertStart;
use chrono::{DateTime, TimeDelta, Utc};
use leptos::prelude::*;

/// The `read` starts, joined by those pushed once the page is on screen.
pub fn alert_markers(read: Vec<AlertStart>) -> Memo<Vec<DateTime<Utc>>> {
    let live = use_live_feed();
    let mounted = mounted();
    Memo::new(move |_| {
        let mut starts = read.clone();
        if mounted.get() {
            live.alerts
                .with(|pushed| starts.extend(pushed.iter().filter_map(AlertStart::of)));
        }
        markers(starts)
    })
}

/// Each of `starts` once, oldest first.
pub fn markers(mut starts: Vec<AlertStart>) -> Vec<DateTime<Utc>> {
    // The same start read and pushed: the same rule within a second (the history may keep times
    // less precisely than a push carries them).
    starts.sort_unstable_by(|a, b| a.rule.cmp(&b.rule).then_with(|| a.at.cmp(&b.at)));
    starts.dedup_by(|later, earlier| {
        later.rule == earlier.rule && later.at - earlier.at < TimeDelta::seconds(1)
    });
    let mut times: Vec<DateTime<Utc>> = starts.into_iter().map(|start| start.at).collect();
    times.sort_unstable();
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::at;
    use crate::views::{AlertChange, AlertState};

    fn starts(changes: &[AlertChange]) -> Vec<DateTime<Utc>> {
        markers(changes.iter().filter_map(AlertStart::of).collect())
    }

    fn change(rule: &str, state: AlertState, second: i64) -> AlertChange {
        AlertChange {
            rule: rule.into(),
            state,
            at: at(second),
            started_at: (state == AlertState::Firing).then(|| at(second)),
            ..AlertChange::default()
        }
    }

    #[test]
    fn each_start_is_marked_once_oldest_first() {
        // Pushed after the read: one of them the read has too, more precisely.
        let mut again = change("a", AlertState::Firing, 30);
        again.started_at = Some(at(30) + TimeDelta::milliseconds(400));
        let changes = [
            change("a", AlertState::Firing, 30),
            change("a", AlertState::Resolved, 20),
            change("b", AlertState::Firing, 10),
            change("c", AlertState::Firing, 40),
            again,
        ];
        assert_eq!(starts(&changes), [at(10), at(30), at(40)]);
    }

    #[test]
    fn starts_of_one_rule_seconds_apart_are_two() {
        let changes = [
            change("a", AlertState::Firing, 30),
            change("a", AlertState::Firing, 31),
        ];
        assert_eq!(starts(&changes).len(), 2);
    }

    #[test]
    fn only_firing_changes_are_marked() {
        let changes = [
            change("a", AlertState::Pending, 1),
            change("a", AlertState::Inactive, 2),
        ];
        assert!(starts(&changes).is_empty());
    }
}
