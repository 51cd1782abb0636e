//! The built-in demo (`demo` in `config.json`): in-process upstreams and a traffic generator, so
//! a fresh install shows a living dashboard with nothing else set up. Everything it logs starts
//! with `demo:`; without a `demo` section none of it runs.
//!
//! - [`upstream`]: serving one demo upstream, with [`outage`]s for the flaky kind;
//! - [`api`]: the JSON API of `api` and `flaky` upstreams; [`llm`]: the OpenAI-compatible one;
//! - [`traffic`]: the generator, which sends its requests through the proxy like any client;
//! - [`control`]: the running demo, switched as reloads change the `demo` section.

pub mod api;
pub mod control;
pub mod llm;
pub mod outage;
pub mod traffic;
pub mod upstream;

use crate::server::config::DemoConfig;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Starts what `config` asks for: binds every demo upstream (one that cannot listen is logged and
/// left out), then starts the traffic generator towards the proxy bound at `proxy`. The tasks go
/// into `tasks` and end once `stop` is cancelled.
pub async fn start(
    config: &DemoConfig,
    proxy: SocketAddr,
    stop: &CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    for upstream in &config.upstreams {
        let (name, kind) = (&upstream.name, upstream.kind.as_str());
        let bound = TcpListener::bind(upstream.listen)
            .await
            .and_then(|listener| Ok((listener.local_addr()?, listener)));
        match bound {
            Ok((addr, listener)) => {
                tracing::info!("demo: upstream {name} ({kind}) listening on http://{addr}");
                tasks.spawn(upstream::serve(upstream.clone(), listener, stop.clone()));
            }
            Err(error) => tracing::error!(
                "demo: upstream {name} ({kind}) cannot listen on {}: {error}; running without it",
                upstream.listen
            ),
        }
    }
    if let Some(traffic) = config.traffic {
        let proxy = traffic::reachable(proxy);
        tracing::info!(
            "demo: traffic generator sending {} requests/s to http://{proxy}",
            traffic.requests_per_second
        );
        tasks.spawn(traffic::run(traffic, proxy, stop.clone()));
    }
}
