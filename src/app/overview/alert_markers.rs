//! Alerts on the overview's request-rate chart: a marker where each alert began firing — the
//! firing changes of the history (read with the page's data, so the server draws them too)
//! and those pushed since.

use crate::api::alerts::get_alert_history;
use crate::live_feed::{mounted, use_live_feed};
use crate::views::{AlertChange, AlertState};
use chrono::{DateTime, TimeDelta, Utc};
use leptos::prelude::*;

/// Firing changes read: enough for the longest range of a gateway with a few busy rules (the
/// chart leaves out those outside its time range).
const READ: usize = 500;

/// The newest firing changes, read with the page's data; none if they cannot be read (the
/// history unavailable): the charts show without markers then.
pub async fn read_alert_starts() -> Vec<AlertChange> {
    get_alert_history(format!("state=firing&limit={READ}"))
        .await
        .map(|page| page.entries)
        .unwrap_or_default()
}

/// The starts of the `read` firing changes, joined by those pushed once the page is on screen.
pub fn alert_markers(read: Vec<AlertChange>) -> Memo<Vec<DateTime<Utc>>> {
    let live = use_live_feed();
    let mounted = mounted();
    Memo::new(move |_| {
        if !mounted.get() {
            return markers(&read);
        }
        live.alerts
            .with(|pushed| markers(read.iter().chain(pushed.iter())))
    })
}

/// Each alert start among `changes` once, oldest first.
pub fn markers<'a>(changes: impl IntoIterator<Item = &'a AlertChange>) -> Vec<DateTime<Utc>> {
    let mut starts: Vec<(DateTime<Utc>, &str)> = changes
        .into_iter()
        .filter(|change| change.state == AlertState::Firing)
        .map(|change| (change.started_at.unwrap_or(change.at), change.rule.as_str()))
        .collect();
    // The same start read and pushed: the same rule within a second (the history may keep times
    // less precisely than a push carries them).
    starts.sort_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(&b.0)));
    starts.dedup_by(|later, earlier| {
        later.1 == earlier.1 && later.0 - earlier.0 < TimeDelta::seconds(1)
    });
    let mut times: Vec<DateTime<Utc>> = starts.into_iter().map(|(at, _)| at).collect();
    times.sort();
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::at;

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
        assert_eq!(markers(&changes), [at(10), at(30), at(40)]);
    }

    #[test]
    fn starts_of_one_rule_seconds_apart_are_two() {
        let changes = [
            change("a", AlertState::Firing, 30),
            change("a", AlertState::Firing, 31),
        ];
        assert_eq!(markers(&changes).len(), 2);
    }

    #[test]
    fn only_firing_changes_are_marked() {
        let changes = [
            change("a", AlertState::Pending, 1),
            change("a", AlertState::Inactive, 2),
        ];
        assert!(markers(&changes).is_empty());
    }
}
