//! The routes: a summary for the Overview, and the Routes tab — every route's rate, errors,
//! latency and requests in flight, and the selected route's targets with their health, breaker
//! state and last check.

use super::table::{self, Column};
use super::{Context, Width, block};
use crate::server::tui::format;
use crate::views::{RouteView, TargetView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

/// The columns both route tables share, each built one way.
struct RouteColumns<'a> {
    routes: &'a [RouteView],
    palette: crate::server::tui::palette::Palette,
}

impl RouteColumns<'_> {
    fn cells(&self, cell: impl Fn(&RouteView) -> String) -> Vec<String> {
        self.routes.iter().map(cell).collect()
    }

    /// A route's name narrows only when longer than most: it is what the row is about.
    fn name(&self) -> Column {
        Column::name("route", self.cells(|r| r.name.clone()), 0, 16)
    }

    fn rate(&self) -> Column {
        Column::figure("req/s", self.cells(|r| format::rate(r.traffic.rps)), 0)
    }

    fn error_rate(&self) -> Column {
        let palette = self.palette;
        Column::figure(
            "err%",
            self.cells(|r| format::percent(r.traffic.error_rate)),
            0,
        )
        .styled(
            self.routes
                .iter()
                .map(|r| palette.error_rate(r.traffic.error_rate))
                .collect(),
        )
    }

    fn latency(&self, heading: &'static str, priority: u8, pick: fn(&RouteView) -> u64) -> Column {
        Column::figure(heading, self.cells(|r| format::latency(pick(r))), priority)
    }

    /// Targets in rotation of all (`2/3`), bad when none is.
    fn targets_up(&self, priority: u8) -> Column {
        let palette = self.palette;
        let up = |route: &RouteView| {
            let up = route
                .targets
                .iter()
                .filter(|target| target.healthy && target.breaker != "open")
                .count();
            format!("{up}/{}", route.targets.len())
        };
        Column::figure("up", self.cells(up), priority).styled(
            self.routes
                .iter()
                .map(|r| {
                    if r.all_targets_down {
                        palette.bad()
                    } else {
                        palette.text()
                    }
                })
                .collect(),
        )
    }

    fn requests(&self, priority: u8) -> Column {
        Column::figure(
            "requests",
            self.cells(|r| format::count(r.traffic.requests)),
            priority,
        )
    }
}

/// The routes at a glance (Overview): name, rate, errors, p95, targets up.
pub fn summary(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let routes = &context.model.routes;
    let title = format!("Routes {}", routes.len());
    if routes.is_empty() {
        table::empty(frame, area, block(title, palette), "no routes", palette);
        return;
    }
    let shared = RouteColumns { routes, palette };
    let columns = [
        shared.name(),
        shared.rate(),
        shared.error_rate(),
        shared.latency("p95", 1, |r| r.traffic.latency.p95_us),
        shared.targets_up(1),
        shared.requests(2),
    ];
    table::draw(
        frame,
        area,
        block(title, palette),
        &columns,
        &[],
        None,
        palette,
    );
}

/// The Routes tab: the routes table and, under it (beside it when wide), the selected route's
/// targets.
pub fn draw(frame: &mut Frame, area: Rect, context: &Context) {
    let palette = context.palette;
    let routes = &context.model.routes;
    if routes.is_empty() {
        table::empty(frame, area, block("Routes", palette), "no routes", palette);
        return;
    }
    let selected = context.view.route.min(routes.len() - 1);
    let [routes_area, targets_area] = if context.width == Width::Wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area)
    } else {
        let rows = routes.len() as u16 + 3;
        Layout::vertical([Constraint::Max(rows), Constraint::Fill(1)]).areas(area)
    };
    let shared = RouteColumns { routes, palette };
    let in_flight = |route: &RouteView| {
        let in_flight: u64 = route
            .targets
            .iter()
            .map(|target| u64::from(target.in_flight))
            .sum();
        format::count(in_flight)
    };
    let columns = [
        shared.name(),
        Column::name("path", shared.cells(|r| r.path.clone()), 4, 6),
        shared.rate(),
        shared.error_rate(),
        shared.latency("p50", 2, |r| r.traffic.latency.p50_us),
        shared.latency("p95", 1, |r| r.traffic.latency.p95_us),
        shared.latency("p99", 1, |r| r.traffic.latency.p99_us),
        Column::figure("in flight", shared.cells(in_flight), 2),
        shared.targets_up(1),
        shared.requests(3),
    ];
    table::draw(
        frame,
        routes_area,
        block(format!("Routes {} · ↑/↓ select", routes.len()), palette),
        &columns,
        &[],
        Some(selected),
        palette,
    );
    targets(frame, targets_area, context, &routes[selected]);
}

/// The targets of `route`.
fn targets(frame: &mut Frame, area: Rect, context: &Context, route: &RouteView) {
    let palette = context.palette;
    let title = format!("Targets of {} ({})", route.name, route.strategy);
    let targets: &[TargetView] = &route.targets;
    if targets.is_empty() {
        table::empty(frame, area, block(title, palette), "no targets", palette);
        return;
    }
    let health = |t: &TargetView| if t.healthy { "up" } else { "down" }.to_string();
    let columns = [
        // A URL narrows only when it is longer than most (its port is what tells targets apart).
        Column::name(
            "target",
            targets.iter().map(|t| t.url.clone()).collect(),
            0,
            28,
        ),
        Column::word("health", targets.iter().map(health).collect(), 0).styled(
            targets
                .iter()
                .map(|t| {
                    if t.healthy {
                        palette.good()
                    } else {
                        palette.bad()
                    }
                })
                .collect(),
        ),
        Column::word(
            "breaker",
            targets.iter().map(|t| t.breaker.clone()).collect(),
            0,
        )
        .styled(
            targets
                .iter()
                .map(|t| match t.breaker.as_str() {
                    "open" => palette.bad(),
                    "half_open" => palette.warn(),
                    _ => palette.text(),
                })
                .collect(),
        ),
        Column::figure(
            "in flight",
            targets.iter().map(|t| t.in_flight.to_string()).collect(),
            2,
        ),
        Column::figure(
            "share",
            targets.iter().map(|t| format::percent(t.share)).collect(),
            3,
        ),
        Column::figure(
            "last check",
            targets
                .iter()
                .map(|t| format::ago(t.last_check, context.now))
                .collect(),
            1,
        ),
        Column::figure(
            "fails",
            targets
                .iter()
                .map(|t| t.consecutive_failures.to_string())
                .collect(),
            3,
        ),
        Column::name(
            "last error",
            targets
                .iter()
                .map(|t| t.last_error.clone().unwrap_or_default())
                .collect(),
            4,
            10,
        ),
    ];
    table::draw(
        frame,
        area,
        block(title, palette),
        &columns,
        &[],
        None,
        palette,
    );
}
