//! The metrics engine, history and admin API end to end: real traffic through a real gateway to
//! real upstreams on loopback, then what `/api/*`, `/metrics` and the live socket report.

#[path = "../support/mod.rs"]
mod support;

mod alerts;
mod api;
mod crash;
mod disabled;
mod history;
mod live;
mod llm;
mod llm_upstream;

use std::time::Duration;

/// Generous bound for anything that should happen within milliseconds.
pub const WAIT: Duration = Duration::from_secs(5);
