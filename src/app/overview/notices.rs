//! The banners above the overview's cards: what needs attention (kept current for routes by the
//! pushed routes), and a note while the built-in demo runs.

use crate::views::RouteView;
use leptos::prelude::*;

/// "Needs attention", when anything does: routes without a healthy target (as pushed), then
/// the gateway's other problems as read (history, dropped events).
#[component]
pub fn ProblemsBanner(
    /// The routes, live.
    routes: Memo<Vec<RouteView>>,
    /// The problems the page read (`/api/health`'s list); its route problems are replaced by
    /// the live routes'.
    read: Vec<String>,
) -> impl IntoView {
    let others: Vec<String> = read
        .into_iter()
        .filter(|p| !p.starts_with("route "))
        .collect();
    let problems = move || routes.with(|routes| problems(routes, &others));
    view! {
        {move || {
            let problems = problems();
            (!problems.is_empty()).then(|| view! {
                <div class="banner banner-warn" role="status" data-testid="problems">
                    <strong>"Needs attention: "</strong>
                    {problems.join(" · ")}
                </div>
            })
        }}
    }
}

/// One line per route without a healthy target, then `others`.
fn problems(routes: &[RouteView], others: &[String]) -> Vec<String> {
    let mut list: Vec<String> = routes
        .iter()
        .filter(|r| !r.targets.iter().any(|t| t.healthy))
        .map(|r| format!("route {}: no healthy target", r.name))
        .collect();
    list.extend(others.iter().cloned());
    list
}

/// Says the demo is on, and how to turn it off.
#[component]
pub fn DemoBanner(
    /// The config file the demo is configured in.
    config_path: String,
) -> impl IntoView {
    view! {
        <p class="banner banner-info" data-testid="demo-banner">
            <strong>"Demo: "</strong>
            "the " <code>"demo-*"</code> " routes go to built-in demo upstreams and a built-in generator is sending them traffic. Remove the "
            <code>"demo"</code> " section and the " <code>"demo-*"</code> " routes from " <code>{config_path}</code> " to turn it off."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{TargetView, TrafficStats};

    fn target(healthy: bool) -> TargetView {
        TargetView {
            route: "r".into(),
            url: "http://127.0.0.1:1".into(),
            weight: 1,
            healthy,
            breaker: "closed".into(),
            in_flight: 0,
            consecutive_failures: 0,
            last_check: None,
            last_error: None,
            share: 0.0,
            traffic: TrafficStats::default(),
            transitions: Vec::new(),
        }
    }

    fn route(name: &str, targets: Vec<TargetView>) -> RouteView {
        RouteView {
            name: name.into(),
            path: "/*".into(),
            strategy: "round_robin".into(),
            tls_unverified: false,
            traffic: TrafficStats::default(),
            all_targets_down: false,
            targets,
        }
    }

    #[test]
    fn routes_without_a_healthy_target_come_first() {
        let routes = [
            route("up", vec![target(false), target(true)]),
            route("down", vec![target(false)]),
            route("empty", vec![]),
        ];
        assert_eq!(
            problems(&routes, &["history: disk full".to_string()]),
            [
                "route down: no healthy target",
                "route empty: no healthy target",
                "history: disk full",
            ]
        );
    }

    #[test]
    fn all_well_is_no_problems() {
        assert!(problems(&[route("up", vec![target(true)])], &[]).is_empty());
    }
}
