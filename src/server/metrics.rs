//! The metrics engine: everything the dashboards and the admin API show about traffic. It is fed
//! the proxy's events by the recorder; it uses the proxy's event types and nothing else of the
//! proxy, and nothing of the history.
//!
//! - [`engine`]: the one place requests are counted (fed by the recorder task);
//! - [`aggregate`], [`series`], [`recent`]: totals, the per-second series, the ring of recent
//!   requests — all bounded (records and latency histograms come from
//!   [`records`](crate::server::records));
//! - [`header_log`]: the captured headers of the newest requests, for the detail view;
//! - [`system`]: CPU and memory; [`prometheus`]: `/metrics`, its names in [`metric_names`].

pub mod aggregate;
pub mod engine;
pub mod header_log;
pub mod metric_names;
pub mod prometheus;
pub mod recent;
pub mod series;
pub mod system;
