//! Load balancing, retries, health checks (active and passive), circuit breaking, rate limiting,
//! and failover when an upstream dies mid-run.

use crate::support::*;
use gatewatch::server::proxy::breaker::BreakerState;
use gatewatch::server::proxy::event::{ErrorKind, ProxyEvent};
use gatewatch::server::proxy::target::TargetSnapshot;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn upstreams(names: &[&str]) -> Vec<Upstream> {
    let mut started = Vec::new();
    for name in names {
        started.push(Upstream::start(name).await);
    }
    started
}

/// Which upstream answered each of `n` GETs of `path`.
async fn spread(gateway: &TestGateway, path: &str, n: usize) -> HashMap<String, usize> {
    let client = client();
    let mut counts = HashMap::new();
    for _ in 0..n {
        let response = client.get(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let upstream = response
            .headers()
            .get("x-upstream")
            .map(|v| v.to_str().unwrap().to_string());
        *counts.entry(upstream.unwrap_or_default()).or_default() += 1;
    }
    counts
}

fn target_state(gateway: &TestGateway, route: &str, url: &str) -> TargetSnapshot {
    let table = gateway.running.gateway.proxy().table();
    let route = table
        .routes()
        .find(|r| &*r.name == route)
        .expect("route exists");
    route
        .targets
        .iter()
        .find(|t| t.config.url == url)
        .expect("target exists")
        .snapshot()
}

#[tokio::test]
async fn round_robin_and_weighted_round_robin_share_as_configured() {
    let ups = upstreams(&["a", "b", "c"]).await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "rr", "path": "/rr/*", "targets": [ups[0].url(), ups[1].url(), ups[2].url()]},
        {"name": "wrr", "path": "/wrr/*", "strategy": "weighted_round_robin",
         "targets": [{"url": ups[0].url(), "weight": 3}, {"url": ups[1].url(), "weight": 1}]},
        {"name": "rnd", "path": "/rnd/*", "strategy": "random", "targets": [ups[0].url(), ups[1].url()]},
    ]}))
    .await;
    let rr = spread(&gateway, "/rr/x", 90).await;
    assert_eq!((rr["a"], rr["b"], rr["c"]), (30, 30, 30));
    let wrr = spread(&gateway, "/wrr/x", 80).await;
    assert_eq!((wrr["a"], wrr["b"]), (60, 20));
    let random = spread(&gateway, "/rnd/x", 200).await;
    assert!(random["a"] > 50 && random["b"] > 50, "{random:?}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn least_connections_avoids_the_busy_target() {
    let ups = upstreams(&["a", "b"]).await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "lc", "path": "*", "strategy": "least_connections", "targets": [ups[0].url(), ups[1].url()]},
    ]}))
    .await;
    // Three requests the upstreams hold until released: they spread a, b, then the idler — so
    // one target holds two, for as long as the test needs.
    let held: Vec<_> = (0..3)
        .map(|_| tokio::spawn(client().get(gateway.url("/hold/long")).send()))
        .collect();
    eventually(WAIT, "three requests in flight", || {
        ups.iter()
            .map(|u| target_state(&gateway, "lc", &u.url()).in_flight)
            .sum::<u32>()
            == 3
    })
    .await;
    let busy_a = target_state(&gateway, "lc", &ups[0].url()).in_flight;
    let idler = if busy_a == 1 { "a" } else { "b" };
    let counts = spread(&gateway, "/quick", 5).await;
    assert_eq!(
        counts.get(idler),
        Some(&5),
        "all quick requests go to the idler target: {counts:?}"
    );
    ups.iter().for_each(Upstream::release);
    for request in held {
        assert_eq!(request.await.unwrap().unwrap().status(), 200);
    }
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn sticky_routes_keep_each_client_on_one_target() {
    let ups = upstreams(&["a", "b", "c"]).await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "sticky", "path": "*", "sticky": true, "targets": [ups[0].url(), ups[1].url(), ups[2].url()]},
    ]}))
    .await;
    let mut seen_targets = std::collections::HashSet::new();
    for last in 1..=12u8 {
        let address = IpAddr::from([127, 0, 0, last]);
        let client = client_from(address);
        let mut answers = std::collections::HashSet::new();
        for _ in 0..5 {
            let response = client.get(gateway.url("/")).send().await.unwrap();
            answers.insert(
                response.headers()["x-upstream"]
                    .to_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(answers.len(), 1, "client {address} stayed on one target");
        seen_targets.extend(answers);
    }
    assert!(
        seen_targets.len() >= 2,
        "clients spread over targets: {seen_targets:?}"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn idempotent_requests_retry_another_target_but_bodies_are_not_replayed() {
    let alive = Upstream::start("alive").await;
    let dead = closed_port().await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "r", "path": "*", "retries": 2, "targets": [format!("http://{dead}"), alive.url()]},
    ]}))
    .await;
    let mut events = gateway.events();
    for _ in 0..6 {
        assert_eq!(get(&gateway.url("/")).await.0, 200, "GET fails over");
    }
    let mut attempts = Vec::new();
    for _ in 0..6 {
        attempts.push(next_request(&mut events, WAIT).await.attempts);
    }
    assert!(
        attempts.contains(&2),
        "some GETs needed a retry: {attempts:?}"
    );
    assert!(attempts.iter().all(|&a| a <= 2));

    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = client()
            .post(gateway.url("/upload"))
            .body("payload")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(
        statuses.contains(&502),
        "a POST with a body is never replayed: {statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(gateway.stop(WAIT).await);
}

/// The upstream among `ups` that the event's request was sent to, and the others.
fn tried_and_others<'a>(
    ups: &'a [Upstream],
    event: &gatewatch::server::proxy::event::RequestEvent,
) -> (&'a Upstream, Vec<&'a Upstream>) {
    let tried = event.target.as_deref().expect("a target was tried");
    let (tried, others): (Vec<_>, Vec<_>) = ups.iter().partition(|u| u.url() == tried);
    (tried[0], others)
}

#[tokio::test]
async fn a_timed_out_request_is_not_retried() {
    // Both targets hold the request: whichever gets it first never answers within the timeout,
    // and a retry would reach the other one.
    let ups = upstreams(&["a", "b"]).await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "r", "path": "*", "retries": 2, "timeout_ms": 300,
        "targets": [ups[0].url(), ups[1].url()],
    }]}))
    .await;
    let mut events = gateway.events();
    let (status, _, body) = get(&gateway.url("/hold/slow")).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("did not answer in time"), "{body}");
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::Timeout));
    assert_eq!(event.attempts, 1, "a timeout ends the request: {event:?}");
    let (tried, others) = tried_and_others(&ups, &event);
    tried.wait_for_holds(1, WAIT).await;
    for other in others {
        assert_eq!(
            (other.holds(), other.requests()),
            (0, 0),
            "{} never saw the request",
            other.name
        );
    }
    ups.iter().for_each(Upstream::release);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_5xx_answer_is_passed_on_not_retried() {
    let ups = upstreams(&["a", "b"]).await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "r", "path": "*", "retries": 2, "targets": [ups[0].url(), ups[1].url()],
    }]}))
    .await;
    let mut events = gateway.events();
    let (status, _, body) = get(&gateway.url("/status/500")).await;
    assert_eq!((status.as_u16(), body.as_str()), (500, "as asked"));
    let event = next_request(&mut events, WAIT).await;
    assert_eq!(event.error, Some(ErrorKind::Upstream5xx));
    assert_eq!(event.attempts, 1, "{event:?}");
    // The answer counted the request at the upstream that gave it; a retry would have reached
    // the other before the client got anything.
    let (tried, others) = tried_and_others(&ups, &event);
    assert_eq!(tried.requests(), 1);
    for other in others {
        assert_eq!(other.requests(), 0, "{} never saw the request", other.name);
    }
    assert!(gateway.stop(WAIT).await);
}

type Events = tokio::sync::broadcast::Receiver<std::sync::Arc<ProxyEvent>>;

/// The next `kind` (`health` or `breaker`) transition of the target `target`.
async fn next_transition(
    events: &mut Events,
    kind: &str,
    target: &str,
) -> gatewatch::views::TargetTransition {
    next_matching(events, Duration::from_secs(10), |event| match &**event {
        ProxyEvent::Transition(t) if t.kind == kind && t.target == target => Some(t.clone()),
        _ => None,
    })
    .await
}

/// Asserts the breaker of the only target of route `cb` is open where it is reported, and that
/// a request is refused with 503 without being tried (had it been sent, the target would have
/// answered it at once).
async fn assert_breaker_open_and_refusing(
    gateway: &TestGateway,
    events: &mut Events,
    target: &str,
) {
    assert_eq!(
        target_state(gateway, "cb", target).breaker,
        BreakerState::Open
    );
    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    assert_eq!(routes[0]["targets"][0]["breaker"], "open", "{routes}");
    let (status, _, body) = get(&gateway.url("/after")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("circuit breaker open"), "{body}");
    let refused = next_matching(events, WAIT, |event| match &**event {
        ProxyEvent::Request(r) if r.path == "/after" => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(refused.error, Some(ErrorKind::CircuitOpen));
    assert_eq!(refused.attempts, 0, "no target was tried: {refused:?}");
}

#[tokio::test]
async fn timeouts_open_the_circuit_breaker() {
    let up = Upstream::start("hanging").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "cb", "path": "*", "targets": [up.url()], "retries": 0, "timeout_ms": 300,
        // Open for a minute: it is still open when the test looks, however slow the machine.
        "circuit_breaker": {"failure_threshold": 2, "open_ms": 60_000},
    }]}))
    .await;
    let mut events = gateway.events();
    for i in 0..2 {
        let (status, _, body) = get(&gateway.url(&format!("/hold/{i}"))).await;
        assert_eq!(status, 504, "{body}");
    }
    let opened = next_transition(&mut events, "breaker", &up.url()).await;
    assert_eq!(
        (opened.from.as_str(), opened.to.as_str()),
        ("closed", "open")
    );
    assert_eq!(
        opened.reason.as_deref(),
        Some("upstream did not answer in time")
    );
    up.wait_for_holds(2, WAIT).await;
    assert_breaker_open_and_refusing(&gateway, &mut events, &up.url()).await;
    assert_eq!(
        up.requests(),
        2,
        "the refused request never reached the target"
    );
    up.release();
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn refused_connections_open_the_circuit_breaker() {
    let dead = closed_port().await;
    let url = format!("http://{dead}");
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "cb", "path": "*", "targets": [url], "retries": 0,
        "circuit_breaker": {"failure_threshold": 2, "open_ms": 60_000},
    }]}))
    .await;
    let mut events = gateway.events();
    for _ in 0..2 {
        let (status, _, body) = get(&gateway.url("/")).await;
        assert_eq!(status, 502, "{body}");
    }
    let opened = next_transition(&mut events, "breaker", &url).await;
    assert_eq!(
        (opened.from.as_str(), opened.to.as_str()),
        ("closed", "open")
    );
    assert_eq!(opened.reason.as_deref(), Some("upstream unreachable"));
    // The target listens again, but an open breaker sends it nothing.
    let back = Upstream::start_at("back", dead).await;
    assert_breaker_open_and_refusing(&gateway, &mut events, &url).await;
    assert_eq!(back.connections(), 0, "the open breaker did not connect");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_probe_timing_out_takes_the_target_out_until_it_answers_again() {
    let up = Upstream::start("stalling").await;
    // From the start no probe is answered: the first health transition can only be this one.
    up.set_health_hangs(true);
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "hc", "path": "*", "targets": [up.url()],
        "health_check": {"path": "/health", "interval_ms": 300, "timeout_ms": 300,
                         "healthy_threshold": 1, "unhealthy_threshold": 2},
    }]}))
    .await;
    let mut events = gateway.events();
    let down = next_transition(&mut events, "health", &up.url()).await;
    assert_eq!(
        (down.from.as_str(), down.to.as_str()),
        ("healthy", "unhealthy")
    );
    assert_eq!(down.reason.as_deref(), Some("no answer within 300 ms"));
    assert!(
        up.probes() >= 2,
        "out after unhealthy_threshold (2) probes, each of which arrived: {}",
        up.probes()
    );
    let state = target_state(&gateway, "hc", &up.url());
    assert!(!state.healthy);
    assert_eq!(state.last_error.as_deref(), Some("no answer within 300 ms"));
    let (status, _, body) = get(&gateway.url("/")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no healthy upstream"), "{body}");
    assert_eq!(up.requests(), 0);

    up.set_health_hangs(false);
    let back = next_transition(&mut events, "health", &up.url()).await;
    assert_eq!(
        (back.from.as_str(), back.to.as_str()),
        ("unhealthy", "healthy")
    );
    assert_eq!(back.reason.as_deref(), Some("probe succeeded"));
    assert_eq!(get(&gateway.url("/")).await.0, 200);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn active_health_checks_take_targets_out_and_back_in() {
    let ups = upstreams(&["a", "b"]).await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "hc", "path": "*", "targets": [ups[0].url(), ups[1].url()],
        // A probe may take a second, and two results in a row move a target: only the 503s the
        // test asks for can, never a machine too busy to answer a probe in time.
        "health_check": {"path": "/health", "interval_ms": 1000, "timeout_ms": 1000,
                         "healthy_threshold": 2, "unhealthy_threshold": 2},
    }]}))
    .await;
    ups[1].set_healthy(false);
    // Two probes, a second apart.
    let flip = Duration::from_secs(10);
    eventually(flip, "b unhealthy", || {
        !target_state(&gateway, "hc", &ups[1].url()).healthy
    })
    .await;
    let state = target_state(&gateway, "hc", &ups[1].url());
    assert!(state.last_check.is_some());
    assert_eq!(state.last_error.as_deref(), Some("status 503"));
    assert_eq!(
        spread(&gateway, "/", 10).await.get("a"),
        Some(&10),
        "b is out of rotation"
    );

    ups[1].set_healthy(true);
    eventually(flip, "b healthy again", || {
        target_state(&gateway, "hc", &ups[1].url()).healthy
    })
    .await;
    let counts = spread(&gateway, "/", 10).await;
    assert_eq!((counts["a"], counts["b"]), (5, 5), "b is back in rotation");

    ups[0].set_healthy(false);
    ups[1].set_healthy(false);
    eventually(flip, "all unhealthy", || {
        !target_state(&gateway, "hc", &ups[0].url()).healthy
            && !target_state(&gateway, "hc", &ups[1].url()).healthy
    })
    .await;
    let (status, _, body) = get(&gateway.url("/")).await;
    assert_eq!(status, 503);
    assert!(body.contains("no healthy upstream"), "{body}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn probes_share_one_kept_alive_connection() {
    let up = Upstream::start("probed").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "probed", "path": "*", "targets": [up.url()],
        // A probe that timed out would give its connection up: a second, so none does.
        "health_check": {"path": "/health", "interval_ms": 1000, "timeout_ms": 1000},
    }]}))
    .await;
    eventually(Duration::from_secs(10), "three probes", || up.probes() >= 3).await;
    assert_eq!(up.connections(), 1);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_target_closing_after_each_probe_is_not_probed_early() {
    let up = Upstream::start("closing").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "closing", "path": "*", "targets": [up.url()],
        "health_check": {"path": "/health/close", "interval_ms": 60_000, "timeout_ms": 2000},
    }]}))
    .await;
    eventually(WAIT, "the first probe", || up.probes() == 1).await;
    // The close that follows each answer is expected, not a sign of trouble: no early probe.
    // (An absence has no event to wait for: an early probe would follow the close within
    // milliseconds, so this quiet period is many times what it would take.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up.probes(), 1);
    assert!(target_state(&gateway, "closing", &up.url()).healthy);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn failed_probes_count_one_per_interval() {
    let up = Upstream::start("failing").await;
    // Failing from the first probe on; it takes two failures to go out, one interval apart.
    up.set_healthy(false);
    let started = chrono::Utc::now();
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "failing", "path": "*", "targets": [up.url()],
        "health_check": {"path": "/health", "interval_ms": 1000, "timeout_ms": 1000,
                         "unhealthy_threshold": 2},
    }]}))
    .await;
    let mut events = gateway.events();
    let down = next_transition(&mut events, "health", &up.url()).await;
    assert_eq!(down.to, "unhealthy");
    assert_eq!(down.reason.as_deref(), Some("status 503"));
    // The checker gives the connection of a failed probe up itself; that close is no news of
    // the target, so no early probe follows it. (A lower bound: a busy machine only adds to it.)
    let after = (down.at - started).to_std().unwrap();
    assert!(
        after >= Duration::from_millis(950),
        "out {after:?} after start: the second failure did not wait for the next interval"
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_health_answer_longer_than_the_probe_reads_counts_by_its_status() {
    let up = Upstream::start("chatty").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "chatty", "path": "*", "targets": [up.url()],
        // A probe may take a second and it takes two failures in a row to flip it: a verdict on
        // the long body would fail every probe, a busy machine never two in a row.
        "health_check": {"path": "/bytes/1000000", "interval_ms": 1000, "timeout_ms": 1000,
                         "healthy_threshold": 1, "unhealthy_threshold": 2},
    }]}))
    .await;
    // The body is not part of a health probe's verdict: three probes later, still healthy.
    eventually(Duration::from_secs(10), "three probes", || {
        target_state(&gateway, "chatty", &up.url())
            .last_check
            .is_some()
            && up.connections() >= 3
    })
    .await;
    let state = target_state(&gateway, "chatty", &up.url());
    assert!(state.healthy, "{:?}", state.last_error);
    assert_eq!(state.last_error, None);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn a_killed_target_is_out_of_rotation_long_before_the_next_check() {
    let up = Upstream::start("watched").await;
    // A minute between checks: only the watched connection closing can bring a probe forward.
    // The first probe has 2 s, so a busy machine cannot fail it (one failure takes the target
    // out).
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "watched", "path": "*", "targets": [up.url()],
        "health_check": {"path": "/health", "interval_ms": 60_000, "timeout_ms": 2000,
                         "unhealthy_threshold": 1},
    }]}))
    .await;
    eventually(WAIT, "the first probe", || up.probes() == 1).await;
    let mut events = gateway.events();
    up.kill().await;
    // Within half the interval: the scheduled probe, a minute after the first, cannot be the one
    // that found it (in practice it takes milliseconds).
    let reason = next_matching(
        &mut events,
        Duration::from_secs(30),
        |event| match &**event {
            ProxyEvent::Transition(t) if t.to == "unhealthy" => Some(t.reason.clone()),
            _ => None,
        },
    )
    .await;
    assert_eq!(reason.as_deref(), Some("connection refused or unreachable"));
    let (status, _, body) = get(&gateway.url("/")).await;
    assert_eq!(status, 503, "{body}");
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn circuit_breaker_opens_half_opens_and_closes() {
    let flaky = Upstream::start("flaky").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "cb", "path": "*", "targets": [flaky.url()], "retries": 0,
        // Open for 2 s: the checks made while it is open take a few milliseconds, so they
        // cannot straddle its end however busy the machine is.
        "circuit_breaker": {"failure_threshold": 3, "open_ms": 2000, "half_open_requests": 1},
    }]}))
    .await;
    let mut events = gateway.events();
    for _ in 0..3 {
        assert_eq!(
            get(&gateway.url("/status/500")).await.0,
            500,
            "5xx passed through while closed"
        );
    }
    assert_eq!(
        target_state(&gateway, "cb", &flaky.url()).breaker,
        BreakerState::Open
    );
    let served = flaky.requests();
    let (status, _, body) = get(&gateway.url("/status/200")).await;
    assert_eq!(status, 503);
    assert!(body.contains("circuit breaker open"), "{body}");
    assert_eq!(
        flaky.requests(),
        served,
        "an open breaker sends nothing upstream"
    );
    let refused = next_matching(&mut events, WAIT, |e| match &**e {
        ProxyEvent::Request(r) if r.error == Some(ErrorKind::CircuitOpen) => Some(r.status),
        _ => None,
    })
    .await;
    assert_eq!(refused, 503);

    eventually(Duration::from_secs(10), "half-open", || {
        target_state(&gateway, "cb", &flaky.url()).breaker == BreakerState::HalfOpen
    })
    .await;
    assert_eq!(
        get(&gateway.url("/status/200")).await.0,
        200,
        "the probe goes through"
    );
    assert_eq!(
        target_state(&gateway, "cb", &flaky.url()).breaker,
        BreakerState::Closed
    );
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn rate_limits_apply_per_client_with_retry_after() {
    let upstream = Upstream::start("one").await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "limited", "path": "*", "targets": [upstream.url()],
        "rate_limit": {"requests_per_second": 1, "burst": 3},
    }]}))
    .await;
    let first = client_from(IpAddr::from([127, 0, 0, 2]));
    let second = client_from(IpAddr::from([127, 0, 0, 3]));
    for _ in 0..3 {
        assert_eq!(
            first.get(gateway.url("/")).send().await.unwrap().status(),
            200
        );
    }
    let limited = first.get(gateway.url("/")).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("rate limit exceeded")
    );
    assert_eq!(
        second.get(gateway.url("/")).send().await.unwrap().status(),
        200,
        "other clients unaffected"
    );
    assert_eq!(upstream.requests(), 4);
    assert!(gateway.stop(WAIT).await);
}

#[tokio::test]
async fn an_upstream_killed_mid_run_fails_over_without_errors() {
    let ups = upstreams(&["a", "b"]).await;
    let gateway = TestGateway::start(json!({"routes": [{
        "name": "ha", "path": "*", "targets": [ups[0].url(), ups[1].url()], "retries": 1,
        // Slow active checks: the passive marking from real traffic must find the dead target.
        "health_check": {"path": "/health", "interval_ms": 60000, "unhealthy_threshold": 2},
    }]}))
    .await;
    let b_url = ups[1].url();
    let mut ups = ups.into_iter();
    let (a, b) = (ups.next().unwrap(), ups.next().unwrap());

    let load = {
        let url = gateway.url("/");
        tokio::spawn(async move {
            let client = client();
            let mut statuses = Vec::new();
            for _ in 0..400 {
                statuses.push(client.get(&url).send().await.unwrap().status().as_u16());
            }
            statuses
        })
    };
    eventually(WAIT, "traffic reached b", || b.requests() > 20).await;
    let b_addr = b.kill().await;
    let statuses = load.await.unwrap();
    assert!(
        statuses.iter().all(|&s| s == 200),
        "no request failed: {:?}",
        statuses.iter().filter(|&&s| s != 200).count()
    );
    assert!(
        !target_state(&gateway, "ha", &b_url).healthy,
        "passive checks marked b down"
    );
    assert!(a.requests() > 200);

    // b listening again stays out of rotation until an active probe finds it healthy.
    let _b_again = Upstream::start_at("b", b_addr).await;
    assert_eq!(spread(&gateway, "/", 10).await.get("a"), Some(&10));
    assert!(gateway.stop(WAIT).await);
}
