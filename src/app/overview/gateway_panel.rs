//! The overview's "Gateway" panel: where the proxy and the dashboard listen, the routes, the
//! config file and its last reload (as pushed), the version, and when the page was rendered.

use crate::app::format;
use crate::live_feed::{mounted, use_live_feed};
use crate::views::{ConfigReload, GatewayStatus, RouteView};
use leptos::prelude::*;

/// The gateway's own facts.
#[component]
pub fn GatewayPanel(
    /// As read with the page.
    status: GatewayStatus,
    /// The routes, live.
    routes: Memo<Vec<RouteView>>,
) -> impl IntoView {
    let live = use_live_feed();
    let mounted = mounted();
    let GatewayStatus {
        version,
        generated_at,
        proxy_listen,
        dashboard_listen,
        config_path,
        last_reload: rendered_reload,
        ..
    } = status;
    let last_reload = Signal::derive(move || {
        let pushed = mounted.get().then(|| live.last_reload.get()).flatten();
        pushed.or_else(|| rendered_reload.clone())
    });
    let route_count = move || routes.with(Vec::len);
    view! {
        <section class="panel" aria-labelledby="gateway-heading">
            <header class="panel-header"><h2 id="gateway-heading">"Gateway"</h2></header>
            <dl class="facts">
                <div><dt>"Proxy"</dt><dd class="mono" data-testid="proxy-listen">{proxy_listen}</dd></div>
                <div><dt>"Dashboard & API"</dt><dd class="mono" data-testid="dashboard-listen">{dashboard_listen}</dd></div>
                <div><dt>"Routes"</dt><dd data-testid="proxy-summary">{move || route_summary(route_count())}</dd></div>
                <div><dt>"Config"</dt><dd class="mono" data-testid="config-path">{config_path}</dd></div>
                <div><dt>"Last reload"</dt><dd data-testid="last-reload" data-applied=move || last_reload.get().map(|r| r.applied.to_string())>
                    {move || reload_summary(last_reload.get().as_ref())}
                </dd></div>
                <div><dt>"Version"</dt><dd>"gatewatch " {version}</dd></div>
            </dl>
            <p class="muted small">
                "Rendered at "
                <time data-testid="generated-at" datetime=generated_at.to_rfc3339()>
                    {format::clock_millis(generated_at)}
                </time>
            </p>
        </section>
    }
}

/// The last reload in a line: when, what set it off, and whether it applied.
fn reload_summary(reload: Option<&ConfigReload>) -> String {
    match reload {
        None => "not reloaded since start".to_string(),
        Some(reload) => {
            let at = format!("{} UTC", format::clock(reload.at));
            match (reload.applied, reload.errors.first()) {
                (true, _) => format!("reloaded ({}) at {at}", reload.trigger),
                (false, Some(first)) => {
                    format!("reload rejected at {at}, old config serving: {first}")
                }
                (false, None) => format!("reload rejected at {at}, old config serving"),
            }
        }
    }
}

/// How many routes there are, in words.
fn route_summary(count: usize) -> String {
    match count {
        0 => "no routes configured yet".to_string(),
        1 => "1 route".to_string(),
        n => format!("{n} routes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn reload(applied: bool, errors: &[&str]) -> ConfigReload {
        ConfigReload {
            at: DateTime::from_timestamp(3_600 * 14 + 62, 0).unwrap(),
            trigger: "file change".into(),
            applied,
            errors: errors.iter().map(|e| e.to_string()).collect(),
            warnings: Vec::new(),
            changes: Vec::new(),
        }
    }

    #[test]
    fn reloads_are_summed_up_in_a_line() {
        assert_eq!(reload_summary(None), "not reloaded since start");
        assert_eq!(
            reload_summary(Some(&reload(true, &[]))),
            "reloaded (file change) at 14:01:02 UTC"
        );
        assert_eq!(
            reload_summary(Some(&reload(false, &["routes[0].path: empty", "more"]))),
            "reload rejected at 14:01:02 UTC, old config serving: routes[0].path: empty"
        );
        assert_eq!(
            reload_summary(Some(&reload(false, &[]))),
            "reload rejected at 14:01:02 UTC, old config serving"
        );
    }

    #[test]
    fn route_counts_are_words() {
        assert_eq!(route_summary(0), "no routes configured yet");
        assert_eq!(route_summary(1), "1 route");
        assert_eq!(route_summary(12), "12 routes");
    }
}
