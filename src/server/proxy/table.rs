//! The route table: routes and static directories compiled from a [`Config`], ordered so the
//! most specific path wins (ties by file order, routes before static directories). Rebuilding it
//! for a new config keeps the live state (health, breaker, in-flight counts, rate limits) of
//! every target and limiter the new config keeps. The table also carries the request-wide
//! settings that follow a reload with it: `trusted_proxies` and `merge_slashes`.

use super::balance::Balancer;
use super::event::EventSink;
use super::rate_limit::RateLimiter;
use super::stall::BodyLimits;
use super::target::Target;
use crate::server::config::{
    Config, Limits, PathPattern, RouteConfig, StaticConfig, TrustedProxies,
};
use axum::http::Method;
use std::collections::HashMap;
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};

/// A route at run time.
#[derive(Debug)]
pub struct Route {
    pub config: RouteConfig,
    pub name: Arc<str>,
    pub targets: Vec<Arc<Target>>,
    pub balancer: Balancer,
    pub limiter: Option<Arc<RateLimiter>>,
    /// What the route's request and response bodies may do.
    pub body_limits: BodyLimits,
}

/// A static directory at run time.
#[derive(Clone, Debug)]
pub struct StaticSite {
    pub config: StaticConfig,
    pub name: Arc<str>,
    pub service: StaticService,
    /// The directory's real path (symbolic links resolved); `None` if it cannot be resolved,
    /// and then nothing is served from it.
    pub root: Option<Arc<std::path::Path>>,
}

/// The file service of a static directory.
#[derive(Clone, Debug)]
pub enum StaticService {
    /// Missing files are 404.
    Plain(ServeDir),
    /// Missing files get the fallback file (single-page apps).
    SinglePageApp(ServeDir<ServeFile>),
}

/// What handles a matched request.
#[derive(Clone, Debug)]
pub enum Handler {
    Proxy(Arc<Route>),
    Static(Arc<StaticSite>),
}

impl Handler {
    fn path(&self) -> &PathPattern {
        match self {
            Self::Proxy(route) => &route.config.path,
            Self::Static(site) => &site.config.path,
        }
    }
}

/// Routes and static directories in matching order.
#[derive(Debug, Default)]
pub struct RouteTable {
    handlers: Vec<Handler>,
    /// `tls.redirect_http`: plain requests are answered with a redirect to HTTPS.
    redirect_http: bool,
    /// `trusted_proxies`: peers whose forwarding headers are believed.
    trusted_proxies: TrustedProxies,
    /// `merge_slashes`: runs of `/` in request paths are merged before routing.
    merge_slashes: bool,
}

impl RouteTable {
    /// Compiles `config`, carrying live state over from `previous`; targets report their
    /// transitions to `events`.
    pub fn build(config: &Config, previous: Option<&RouteTable>, events: &EventSink) -> Self {
        let old_routes: HashMap<&str, &Arc<Route>> = previous
            .map(|table| table.routes().map(|route| (&*route.name, route)).collect())
            .unwrap_or_default();
        let mut handlers: Vec<Handler> = config
            .routes
            .iter()
            .map(|route| {
                Handler::Proxy(Arc::new(build_route(
                    route,
                    &config.limits,
                    old_routes.get(route.name.as_str()).copied(),
                    events,
                )))
            })
            .collect();
        handlers.extend(
            config
                .static_dirs
                .iter()
                .enumerate()
                .map(|(index, site)| Handler::Static(Arc::new(build_static(index, site)))),
        );
        // Stable: equal specificity keeps file order.
        handlers.sort_by_key(|handler| std::cmp::Reverse(handler.path().specificity()));
        Self {
            handlers,
            redirect_http: config.tls.as_ref().is_some_and(|tls| tls.redirect_http),
            trusted_proxies: config.trusted_proxies.clone(),
            merge_slashes: config.merge_slashes,
        }
    }

    /// The handler for a request, if any matches.
    pub fn find(&self, method: &Method, host: Option<&str>, path: &str) -> Option<&Handler> {
        self.handlers.iter().find(|handler| match handler {
            Handler::Proxy(route) => {
                let config = &route.config;
                config.path.matches(path)
                    && config
                        .methods
                        .as_ref()
                        .is_none_or(|methods| methods.contains(method))
                    && config
                        .host
                        .as_deref()
                        .is_none_or(|wanted| host.is_some_and(|host| host_matches(wanted, host)))
            }
            Handler::Static(site) => site.config.path.matches(path),
        })
    }

    /// Whether plain requests are redirected to HTTPS (`tls.redirect_http`).
    pub fn redirects_http(&self) -> bool {
        self.redirect_http
    }

    /// The peers whose forwarding headers are believed (`trusted_proxies`).
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    /// Whether runs of `/` in request paths are merged (`merge_slashes`).
    pub fn merge_slashes(&self) -> bool {
        self.merge_slashes
    }

    /// The proxy routes, in matching order.
    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.handlers.iter().filter_map(|handler| match handler {
            Handler::Proxy(route) => Some(route),
            Handler::Static(_) => None,
        })
    }
}

/// `wanted` is lower case; a `wanted` without a port matches the host on any port.
fn host_matches(wanted: &str, host: &str) -> bool {
    if host.eq_ignore_ascii_case(wanted) {
        return true;
    }
    let without_port = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => return false,
    };
    !wanted.contains(':') && without_port.eq_ignore_ascii_case(wanted)
}

fn build_route(
    config: &RouteConfig,
    limits: &Limits,
    previous: Option<&Arc<Route>>,
    events: &EventSink,
) -> Route {
    let name: Arc<str> = Arc::from(config.name.as_str());
    let targets = config
        .targets
        .iter()
        .map(|target| {
            let state = previous
                .and_then(|route| {
                    route
                        .targets
                        .iter()
                        .find(|old| old.config.url == target.url)
                        .map(|old| (route, old))
                })
                .map(|(route, old)| {
                    // Idle connections made with other TLS settings are not reused.
                    if route.config.upstream_tls != config.upstream_tls {
                        old.connections().clear();
                    }
                    old.state.clone()
                });
            Arc::new(Target::new(
                name.clone(),
                target.clone(),
                config.upstream_tls.as_ref(),
                state,
                events.clone(),
            ))
        })
        .collect::<Vec<_>>();
    let limiter = config.rate_limit.map(|limits| {
        previous
            .and_then(|route| route.limiter.clone())
            .filter(|old| *old.config() == limits)
            .unwrap_or_else(|| Arc::new(RateLimiter::new(limits)))
    });
    Route {
        balancer: Balancer::new(config.strategy, config.sticky, targets.len()),
        config: config.clone(),
        name,
        targets,
        limiter,
        body_limits: BodyLimits {
            max_upload: config.max_body_bytes,
            upload_stall: limits.body_read_timeout,
            download_stall: limits.upstream_body_timeout,
        },
    }
}

fn build_static(index: usize, config: &StaticConfig) -> StaticSite {
    let dir = ServeDir::new(&config.dir).append_index_html_on_directories(true);
    let service = match &config.spa_fallback {
        Some(file) => StaticService::SinglePageApp(dir.fallback(ServeFile::new(file))),
        None => StaticService::Plain(dir),
    };
    StaticSite {
        config: config.clone(),
        name: Arc::from(format!("static[{index}]")),
        // Resolved once per reload: files whose real path leaves it are not served.
        root: config.dir.canonicalize().ok().map(Arc::from),
        service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(json: &str) -> RouteTable {
        RouteTable::build(
            &crate::server::config::parse(json).unwrap(),
            None,
            &EventSink::channel(16).0,
        )
    }

    fn route_for(
        table: &RouteTable,
        method: &str,
        host: Option<&str>,
        path: &str,
    ) -> Option<String> {
        match table.find(&Method::from_bytes(method.as_bytes()).unwrap(), host, path)? {
            Handler::Proxy(route) => Some(route.name.to_string()),
            Handler::Static(site) => Some(site.name.to_string()),
        }
    }

    #[test]
    fn most_specific_wins_and_ties_go_by_order() {
        let table = table(
            r#"{"routes": [
                {"name": "all", "path": "*", "targets": ["http://127.0.0.1:1"]},
                {"name": "api", "path": "/api/*", "targets": ["http://127.0.0.1:2"]},
                {"name": "api-v1", "path": "/api/v1/*", "targets": ["http://127.0.0.1:3"]},
                {"name": "health", "path": "/api/health", "targets": ["http://127.0.0.1:4"]},
                {"name": "api-again", "path": "/api/*", "targets": ["http://127.0.0.1:5"]}
            ]}"#,
        );
        assert_eq!(
            route_for(&table, "GET", None, "/api/health").unwrap(),
            "health"
        );
        assert_eq!(
            route_for(&table, "GET", None, "/api/v1/x").unwrap(),
            "api-v1"
        );
        assert_eq!(route_for(&table, "GET", None, "/api/v2").unwrap(), "api");
        assert_eq!(route_for(&table, "GET", None, "/other").unwrap(), "all");
    }

    #[test]
    fn methods_and_hosts_narrow_a_route() {
        let table = table(
            r#"{"routes": [
                {"name": "writes", "path": "/x/*", "methods": ["post", "PUT"], "targets": ["http://127.0.0.1:1"]},
                {"name": "vhost", "path": "/x/*", "host": "Example.COM", "targets": ["http://127.0.0.1:2"]}
            ]}"#,
        );
        assert_eq!(route_for(&table, "POST", None, "/x/1").unwrap(), "writes");
        assert_eq!(
            route_for(&table, "GET", Some("example.com:8080"), "/x/1").unwrap(),
            "vhost"
        );
        assert_eq!(
            route_for(&table, "GET", Some("EXAMPLE.com"), "/x/1").unwrap(),
            "vhost"
        );
        assert_eq!(route_for(&table, "GET", Some("other.com"), "/x/1"), None);
        assert_eq!(route_for(&table, "GET", None, "/x/1"), None);
    }

    #[test]
    fn target_state_survives_a_rebuild_that_keeps_the_target() {
        let json = r#"{"routes": [{"name": "r", "path": "*", "targets": ["http://127.0.0.1:1", "http://127.0.0.1:2"]}]}"#;
        let config = crate::server::config::parse(json).unwrap();
        let events = EventSink::channel(16).0;
        let first = RouteTable::build(&config, None, &events);
        let old = first.routes().next().unwrap().targets[1].clone();
        let _busy = old.start_request();
        let changed = json.replace("\"http://127.0.0.1:1\", ", "");
        let second = RouteTable::build(
            &crate::server::config::parse(&changed).unwrap(),
            Some(&first),
            &events,
        );
        let kept = &second.routes().next().unwrap().targets[0];
        assert_eq!(kept.config.url, "http://127.0.0.1:2");
        assert_eq!(kept.in_flight(), 1, "same live state");
    }
}
