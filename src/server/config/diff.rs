//! What changes between two validated configs ([`ConfigDiff`]): routes added, removed and
//! changed (by name), and which other sections changed — among them the ones that only take
//! effect after a restart. The reload report, its log line and the dashboard all read it.

use super::Config;
use std::net::SocketAddr;

/// The differences between the config in force and a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Routes only the new config has, in its order.
    pub routes_added: Vec<String>,
    /// Routes only the old config had, in its order.
    pub routes_removed: Vec<String>,
    /// Routes both have (by name) whose settings differ, in the new config's order.
    pub routes_changed: Vec<String>,
    /// The proxy's listen address changed: (old, new).
    pub listen: Option<(SocketAddr, SocketAddr)>,
    /// The dashboard's listen address changed: (old, new).
    pub dashboard_listen: Option<(SocketAddr, SocketAddr)>,
    /// The proxy's HTTPS listener was added, removed or moved: (old, new).
    pub tls_listen: Option<(Option<SocketAddr>, Option<SocketAddr>)>,
    /// `dashboard.tls` was added (`true`) or removed (`false`).
    pub dashboard_tls_switched: Option<bool>,
    /// Other top-level sections that differ, by their name in `config.json`.
    pub sections_changed: Vec<&'static str>,
}

/// Whether a section differs between two configs.
type Differs = fn(&Config, &Config) -> bool;

/// The top-level sections compared as wholes, by their name in `config.json`, each with how
/// it is told apart. (`limits` applies at once to new connections and upgrades; open ones keep
/// the limits they began with. The dashboard's addresses and TLS switch are reported apart.)
const SECTIONS: &[(&str, Differs)] = &[
    ("static", |a, b| a.static_dirs != b.static_dirs),
    ("metrics", |a, b| a.metrics != b.metrics),
    ("history", |a, b| a.history != b.history),
    ("demo", |a, b| a.demo != b.demo),
    ("auth", |a, b| a.auth != b.auth),
    ("audit", |a, b| a.audit != b.audit),
    ("tls", |a, b| a.tls != b.tls),
    ("trusted_proxies", |a, b| {
        a.trusted_proxies != b.trusted_proxies
    }),
    ("merge_slashes", |a, b| a.merge_slashes != b.merge_slashes),
    ("alerts", |a, b| a.alerts != b.alerts),
    ("limits", |a, b| a.limits != b.limits),
    ("dashboard", |a, b| {
        let settings = |c: &Config| {
            (
                c.dashboard.allow_unauthenticated,
                c.dashboard.max_live_clients,
                c.dashboard.tls.clone(),
            )
        };
        settings(a) != settings(b)
    }),
];

impl ConfigDiff {
    /// What changes when `new` replaces `old`.
    pub fn between(old: &Config, new: &Config) -> Self {
        let named = |config: &Config, name: &str| {
            config
                .routes
                .iter()
                .find(|route| route.name == name)
                .cloned()
        };
        let routes_added = new
            .routes
            .iter()
            .filter(|route| named(old, &route.name).is_none())
            .map(|route| route.name.clone())
            .collect();
        let routes_removed = old
            .routes
            .iter()
            .filter(|route| named(new, &route.name).is_none())
            .map(|route| route.name.clone())
            .collect();
        let routes_changed = new
            .routes
            .iter()
            .filter(|route| named(old, &route.name).is_some_and(|before| before != **route))
            .map(|route| route.name.clone())
            .collect();
        let changed = |a: SocketAddr, b: SocketAddr| (a != b).then_some((a, b));
        let sections_changed = SECTIONS
            .iter()
            .filter(|(_, differs)| differs(old, new))
            .map(|&(name, _)| name)
            .collect();
        let tls_listen = |config: &Config| config.tls.as_ref().map(|tls| tls.listen);
        let dashboard_tls = |config: &Config| config.dashboard.tls.is_some();
        Self {
            routes_added,
            routes_removed,
            routes_changed,
            listen: changed(old.listen, new.listen),
            dashboard_listen: changed(old.dashboard.listen, new.dashboard.listen),
            tls_listen: (tls_listen(old) != tls_listen(new))
                .then(|| (tls_listen(old), tls_listen(new))),
            dashboard_tls_switched: (dashboard_tls(old) != dashboard_tls(new))
                .then(|| dashboard_tls(new)),
            sections_changed,
        }
        .with_route_order(old, new)
    }

    /// Whether the route order alone changed (ties in specificity go to the earlier route, so
    /// order matters): reported as a change of every route that moved.
    fn with_route_order(mut self, old: &Config, new: &Config) -> Self {
        let kept = |config: &Config| -> Vec<String> {
            config
                .routes
                .iter()
                .map(|route| route.name.clone())
                .filter(|name| {
                    old.routes.iter().any(|r| &r.name == name)
                        && new.routes.iter().any(|r| &r.name == name)
                })
                .collect()
        };
        let (before, after) = (kept(old), kept(new));
        for (position, name) in after.iter().enumerate() {
            if before.get(position) != Some(name) && !self.routes_changed.contains(name) {
                self.routes_changed.push(name.clone());
            }
        }
        self
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the routes differ (added, removed, changed or moved).
    pub fn routes_differ(&self) -> bool {
        !(self.routes_added.is_empty()
            && self.routes_removed.is_empty()
            && self.routes_changed.is_empty())
    }

    /// What is applied only when gatewatch restarts, one sentence each. `bound` is where the
    /// proxy and the dashboard actually listen, which is what the warnings name (the config in
    /// force may say `:0`, or an address an earlier reload already asked for): a config naming
    /// the address actually bound changes nothing.
    pub fn restart_warnings(&self, bound: (SocketAddr, SocketAddr)) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some((_, new)) = self.listen
            && new != bound.0
        {
            warnings.push(format!(
                "listen: changed to {new} but the proxy keeps listening on {} until restarted",
                bound.0
            ));
        }
        if let Some((_, new)) = self.dashboard_listen
            && new != bound.1
        {
            warnings.push(format!(
                "dashboard.listen: changed to {new} but the dashboard keeps listening on {} until restarted",
                bound.1
            ));
        }
        match self.tls_listen {
            Some((None, Some(new))) => warnings.push(format!(
                "tls: the HTTPS listener on {new} starts when gatewatch restarts"
            )),
            Some((Some(old), None)) => warnings.push(format!(
                "tls: removed, but the HTTPS listener on {old} keeps serving until restarted"
            )),
            Some((Some(old), Some(new))) => warnings.push(format!(
                "tls.listen: changed to {new} but HTTPS keeps listening on {old} until restarted"
            )),
            _ => {}
        }
        match self.dashboard_tls_switched {
            Some(true) => warnings.push(
                "dashboard.tls: the dashboard switches to HTTPS when gatewatch restarts"
                    .to_string(),
            ),
            Some(false) => warnings.push(
                "dashboard.tls: removed, but the dashboard stays on HTTPS until restarted"
                    .to_string(),
            ),
            None => {}
        }
        if self.sections_changed.contains(&"history") {
            warnings.push(
                "history: changes to the history database take effect when gatewatch restarts"
                    .to_string(),
            );
        }
        warnings
    }

    /// The change as short lines (`routes added: api, web`), for the reload report, its log
    /// line and the audit trail.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (label, names) in [
            ("routes added", &self.routes_added),
            ("routes removed", &self.routes_removed),
            ("routes changed", &self.routes_changed),
        ] {
            if !names.is_empty() {
                lines.push(format!("{label}: {}", names.join(", ")));
            }
        }
        let mut sections: Vec<&str> = Vec::new();
        if self.listen.is_some() {
            sections.push("listen");
        }
        if self.dashboard_listen.is_some() {
            sections.push("dashboard");
        }
        for section in &self.sections_changed {
            if !sections.contains(section) {
                sections.push(section);
            }
        }
        if !sections.is_empty() {
            lines.push(format!("settings changed: {}", sections.join(", ")));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::parse;

    fn config(routes: &[(&str, &str)], extra: &str) -> Config {
        let routes: Vec<String> = routes
            .iter()
            .map(|(name, path)| {
                format!(
                    r#"{{"name": "{name}", "path": "{path}", "targets": ["http://127.0.0.1:1"]}}"#
                )
            })
            .collect();
        parse(&format!(r#"{{"routes": [{}]{extra}}}"#, routes.join(","))).unwrap()
    }

    #[test]
    fn the_same_config_differs_in_nothing() {
        let a = config(&[("api", "/api/*")], "");
        let diff = ConfigDiff::between(&a, &a.clone());
        assert!(diff.is_empty(), "{diff:?}");
        assert!(diff.summary().is_empty());
        assert!(
            diff.restart_warnings((a.listen, a.dashboard.listen))
                .is_empty()
        );
    }

    #[test]
    fn routes_are_added_removed_and_changed_by_name() {
        let old = config(&[("api", "/api/*"), ("web", "/web/*"), ("old", "/old")], "");
        let new = config(
            &[("api", "/api/*"), ("web", "/site/*"), ("new", "/new")],
            "",
        );
        let diff = ConfigDiff::between(&old, &new);
        assert_eq!(diff.routes_added, ["new"]);
        assert_eq!(diff.routes_removed, ["old"]);
        assert_eq!(diff.routes_changed, ["web"]);
        assert!(diff.routes_differ());
        assert_eq!(
            diff.summary(),
            [
                "routes added: new",
                "routes removed: old",
                "routes changed: web"
            ]
        );
    }

    #[test]
    fn a_reordered_route_is_a_change() {
        let old = config(&[("a", "/x/*"), ("b", "/x/*")], "");
        let new = config(&[("b", "/x/*"), ("a", "/x/*")], "");
        let diff = ConfigDiff::between(&old, &new);
        assert_eq!(diff.routes_changed, ["b", "a"]);
    }

    #[test]
    fn sections_that_need_a_restart_are_warned_about() {
        let old = config(&[], r#", "listen": "127.0.0.1:8080""#);
        let new = config(
            &[],
            r#", "listen": "127.0.0.1:8081", "dashboard": {"listen": "127.0.0.1:3001"},
               "history": {"retention_days": 3}, "metrics": {"capture_headers": false}"#,
        );
        let diff = ConfigDiff::between(&old, &new);
        assert_eq!(diff.sections_changed, ["metrics", "history"]);
        let bound = (old.listen, old.dashboard.listen);
        let warnings = diff.restart_warnings(bound);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("listen: changed to 127.0.0.1:8081"));
        assert!(warnings[1].starts_with("dashboard.listen: changed to 127.0.0.1:3001"));
        assert!(warnings[2].starts_with("history:"));
        assert_eq!(
            diff.summary(),
            ["settings changed: listen, dashboard, metrics, history"]
        );
        // Naming the port a `:0` was bound to is no change that needs a restart.
        let bound = (new.listen, new.dashboard.listen);
        assert_eq!(diff.restart_warnings(bound).len(), 1);
    }

    #[test]
    fn restart_warnings_name_the_address_actually_listened_on() {
        // The config in force already asks for 8081 (an earlier reload, warned about), while
        // the proxy still listens on 8080; the next change must not claim it listens on 8081.
        let asked = config(&[], r#", "listen": "127.0.0.1:8081""#);
        let again = config(&[], r#", "listen": "127.0.0.1:8082""#);
        let bound = ("127.0.0.1:8080".parse().unwrap(), asked.dashboard.listen);
        assert_eq!(
            ConfigDiff::between(&asked, &again).restart_warnings(bound),
            [
                "listen: changed to 127.0.0.1:8082 but the proxy keeps listening on 127.0.0.1:8080 until restarted"
            ]
        );
    }
}
