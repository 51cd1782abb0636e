//! The timeline's episodes: each time an alert fired, from its start to its resolution, built
//! from the history's state changes (a `firing` change starts one, a `resolved` change — which
//! carries its start — ends it) and completed by the alerts firing now, whose start may lie
//! before the range read.

use crate::views::{AlertChange, AlertState, AlertView};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// One stretch of time an alert fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub rule: String,
    pub severity: String,
    pub scope: String,
    pub metric: String,
    pub started: DateTime<Utc>,
    /// When it resolved; `None` while it fires, or when no end was recorded.
    pub ended: Option<DateTime<Utc>>,
    /// Still firing now.
    pub ongoing: bool,
    /// The value when it fired (or resolved, when its start is before the range).
    pub value: Option<f64>,
    /// Silenced when it fired: nothing was sent.
    pub silenced: bool,
}

impl Episode {
    fn from_change(change: &AlertChange, started: DateTime<Utc>) -> Self {
        Self {
            rule: change.rule.clone(),
            severity: change.severity.clone(),
            scope: change.scope.clone(),
            metric: change.metric.clone(),
            started,
            ended: None,
            ongoing: false,
            value: change.value,
            silenced: change.silenced,
        }
    }
}

/// The episodes in `history` (newest first, as the API answers) and of the alerts `firing`
/// now, newest start first.
pub fn episodes(history: &[AlertChange], firing: &[AlertView]) -> Vec<Episode> {
    let mut open: HashMap<&str, Episode> = HashMap::new();
    let mut done = Vec::new();
    for change in history.iter().rev() {
        match change.state {
            AlertState::Firing => {
                let started = change.started_at.unwrap_or(change.at);
                // A firing change while one is open (a restart lost the resolution): the
                // earlier episode's end is unknown.
                if let Some(earlier) =
                    open.insert(&change.rule, Episode::from_change(change, started))
                {
                    done.push(earlier);
                }
            }
            AlertState::Resolved => {
                let mut episode = match open.remove(change.rule.as_str()) {
                    Some(episode) => episode,
                    None => Episode::from_change(change, change.started_at.unwrap_or(change.at)),
                };
                episode.ended = Some(change.at);
                done.push(episode);
            }
            AlertState::Pending | AlertState::Inactive => {}
        }
    }
    for alert in firing.iter().filter(|a| a.state == AlertState::Firing) {
        match open.remove(alert.rule.as_str()) {
            Some(mut episode) => {
                episode.ongoing = true;
                done.push(episode);
            }
            // Began before the range read (or its change could not be stored).
            None => done.push(Episode {
                rule: alert.rule.clone(),
                severity: alert.severity.clone(),
                scope: alert.scope.clone(),
                metric: alert.metric.clone(),
                started: alert.since.unwrap_or_default(),
                ended: None,
                ongoing: true,
                value: alert.value,
                silenced: alert.silenced_until.is_some(),
            }),
        }
    }
    // Opened and neither resolved nor firing now: the end was not recorded.
    done.extend(open.into_values());
    done.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.rule.cmp(&b.rule)));
    done
}

/// The rules that have episodes, in the order of their newest episode.
pub fn lanes(episodes: &[Episode]) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    for episode in episodes {
        if !rules.contains(&episode.rule) {
            rules.push(episode.rule.clone());
        }
    }
    rules
}

/// Where `from`..`to` lies on an axis of `width` units spanning `start`..`end`: (x, width), cut
/// to the axis, at least a unit wide so a short episode stays visible.
pub fn span_on_axis(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    width: f64,
) -> Option<(f64, f64)> {
    let total = end.signed_duration_since(start).num_milliseconds();
    if total <= 0 || to < start || from > end {
        return None;
    }
    let at = |t: DateTime<Utc>| {
        (t.signed_duration_since(start).num_milliseconds() as f64 / total as f64 * width)
            .clamp(0.0, width)
    };
    let x = at(from);
    let w = (at(to) - x).max(1.0);
    Some((x.min(width - 1.0), w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::testing::at;

    fn change(rule: &str, state: AlertState, second: i64, started: Option<i64>) -> AlertChange {
        AlertChange {
            rule: rule.into(),
            state,
            at: at(second),
            started_at: started.map(at),
            severity: "critical".into(),
            ..AlertChange::default()
        }
    }

    fn firing_now(rule: &str, since: i64) -> AlertView {
        AlertView {
            rule: rule.into(),
            metric: "error_rate".into(),
            scope: "gateway".into(),
            route: None,
            severity: "warning".into(),
            comparison: "above".into(),
            threshold: 0.05,
            value: Some(0.5),
            state: AlertState::Firing,
            since: Some(at(since)),
            for_s: 0,
            resolve_for_s: 30,
            window_s: 60,
            notify: Vec::new(),
            silenced_until: None,
        }
    }

    fn spans(episodes: &[Episode]) -> Vec<(&str, i64, Option<i64>, bool)> {
        let secs = |t: DateTime<Utc>| t.timestamp() - at(0).timestamp();
        episodes
            .iter()
            .map(|e| {
                (
                    e.rule.as_str(),
                    secs(e.started),
                    e.ended.map(secs),
                    e.ongoing,
                )
            })
            .collect()
    }

    #[test]
    fn firing_starts_an_episode_and_resolved_ends_it() {
        // Newest first, as the history answers; pending changes are no episode.
        let history = [
            change("a", AlertState::Resolved, 50, Some(20)),
            change("b", AlertState::Firing, 40, Some(40)),
            change("a", AlertState::Firing, 20, Some(20)),
            change("a", AlertState::Pending, 10, None),
        ];
        let firing = [firing_now("b", 40)];
        assert_eq!(
            spans(&episodes(&history, &firing)),
            [("b", 40, None, true), ("a", 20, Some(50), false)]
        );
    }

    #[test]
    fn a_resolution_whose_start_is_before_the_range_carries_the_start() {
        let history = [change("a", AlertState::Resolved, 50, Some(-3_600))];
        assert_eq!(
            spans(&episodes(&history, &[])),
            [("a", -3_600, Some(50), false)]
        );
    }

    #[test]
    fn an_alert_firing_since_before_the_range_is_an_ongoing_episode() {
        let episodes = episodes(&[], &[firing_now("a", -7_200)]);
        assert_eq!(spans(&episodes), [("a", -7_200, None, true)]);
        assert_eq!(episodes[0].severity, "warning");
    }

    #[test]
    fn an_episode_without_an_end_and_not_firing_now_has_no_end() {
        let history = [
            change("a", AlertState::Firing, 30, Some(30)),
            change("a", AlertState::Firing, 10, Some(10)),
        ];
        assert_eq!(
            spans(&episodes(&history, &[])),
            [("a", 30, None, false), ("a", 10, None, false)]
        );
    }

    #[test]
    fn lanes_follow_the_newest_episodes() {
        let history = [
            change("b", AlertState::Resolved, 60, Some(55)),
            change("a", AlertState::Resolved, 50, Some(20)),
            change("b", AlertState::Resolved, 15, Some(5)),
        ];
        assert_eq!(lanes(&episodes(&history, &[])), ["b", "a"]);
    }

    #[test]
    fn spans_are_cut_to_the_axis_and_stay_visible() {
        let axis = |from, to| span_on_axis(at(from), at(to), at(0), at(100), 1_000.0);
        assert_eq!(axis(10, 20), Some((100.0, 100.0)));
        assert_eq!(axis(-50, 20), Some((0.0, 200.0)));
        assert_eq!(axis(90, 500), Some((900.0, 100.0)));
        assert_eq!(
            axis(30, 30),
            Some((300.0, 1.0)),
            "an instant is a unit wide"
        );
        assert_eq!(axis(100, 100), Some((999.0, 1.0)), "inside at the end");
        assert_eq!(axis(-20, -10), None);
        assert_eq!(axis(110, 120), None);
        assert_eq!(span_on_axis(at(0), at(1), at(5), at(5), 1_000.0), None);
    }
}
