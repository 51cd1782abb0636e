//! Serving one demo upstream on its address: the router of its kind over HTTP/1.1, and — for
//! `flaky` — scheduled outages during which the port refuses connections and open connections are
//! cut, so health checks and circuit breakers have something real to notice.

use super::outage::{OutageSchedule, Phase};
use super::{api, llm};
use crate::server::config::{DemoKind, DemoUpstreamConfig};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a stopping upstream lets in-flight answers (e.g. streams) finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait before trying again to listen after an outage, when the port is taken.
const REBIND_RETRY: Duration = Duration::from_secs(1);

/// The router a demo upstream of `kind` called `name` serves.
pub fn router(name: &str, kind: DemoKind) -> Router {
    match kind {
        DemoKind::Api => api::router(name, api::ApiProfile::FAST),
        DemoKind::Flaky => api::router(name, api::ApiProfile::FLAKY),
        DemoKind::Llm => llm::router(),
    }
}

/// When an upstream of `kind` is down (`None`: never).
pub fn outages(kind: DemoKind) -> Option<OutageSchedule> {
    match kind {
        DemoKind::Flaky => Some(OutageSchedule::FLAKY),
        DemoKind::Api | DemoKind::Llm => None,
    }
}

/// Serves `config`'s upstream on `listener` until `stop` is cancelled, taking the outages of its
/// kind (counted from now).
pub async fn serve(config: DemoUpstreamConfig, listener: TcpListener, stop: CancellationToken) {
    let schedule = outages(config.kind);
    serve_with_outages(config, listener, schedule, stop).await;
}

/// [`serve`] with the outages of `schedule` (counted from now) instead of the kind's.
pub async fn serve_with_outages(
    config: DemoUpstreamConfig,
    listener: TcpListener,
    schedule: Option<OutageSchedule>,
    stop: CancellationToken,
) {
    let started = Instant::now();
    let router = router(&config.name, config.kind);
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    // Cancelled when an outage begins: cuts the connections opened before it.
    let mut cut = CancellationToken::new();
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let phase = schedule.map(|schedule| schedule.phase_at(started.elapsed()));
        if let Some(Phase::Down(left)) = phase {
            if listener.take().is_some() {
                cut.cancel();
                cut = CancellationToken::new();
                tracing::warn!(
                    "demo: upstream {} ({}) goes down for {} s (a scheduled outage)",
                    config.name,
                    config.kind.as_str(),
                    left.as_secs_f64().round()
                );
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(left) => continue,
            }
        }
        let Some(open) = listener.as_ref() else {
            match TcpListener::bind(addr).await {
                Ok(bound) => {
                    tracing::info!(
                        "demo: upstream {} ({}) is back up on http://{addr}",
                        config.name,
                        config.kind.as_str()
                    );
                    listener = Some(bound);
                }
                Err(error) => {
                    tracing::warn!(
                        "demo: upstream {} cannot listen on {addr} again: {error}",
                        config.name
                    );
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(REBIND_RETRY) => {}
                    }
                }
            }
            continue;
        };
        let phase_ends = async {
            match phase {
                Some(Phase::Up(left)) => tokio::time::sleep(left).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = phase_ends => {}
            accepted = open.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone(), &graceful, cut.clone()));
                }
                Err(error) => {
                    tracing::debug!(%error, "demo upstream accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    // Whatever did not finish in time is cut when the set drops.
}

/// One connection, served until it ends, the gateway drains it, or `cut` closes it.
fn serve_connection(
    stream: TcpStream,
    router: Router,
    graceful: &GracefulShutdown,
    cut: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let service =
        service_fn(move |request: hyper::Request<Incoming>| router.clone().oneshot(request));
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    async move {
        tokio::select! {
            _ = connection => {}
            _ = cut.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flaky_upstreams_have_outages() {
        assert_eq!(outages(DemoKind::Flaky), Some(OutageSchedule::FLAKY));
        assert_eq!(outages(DemoKind::Api), None);
        assert_eq!(outages(DemoKind::Llm), None);
    }
}
