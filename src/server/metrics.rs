//! The metrics engine: everything the dashboards and the admin API show about traffic.
//!
//! - [`engine`]: the one place requests are counted (fed by the recorder task);
//! - [`record`]: a proxy event turned into the shared [`crate::views::RequestRecord`];
//! - [`aggregate`], [`series`], [`recent`], [`histogram`]: totals, the per-second series, the
//!   ring of recent requests, HDR latency histograms — all bounded;
//! - [`headers`]: the headers of the newest requests, secrets redacted, for the detail view;
//! - [`llm`]: model and token usage read from LLM API answers as they stream past;
//! - [`query`]: request filters; [`system`]: CPU and memory; [`prometheus`]: `/metrics`.

pub mod aggregate;
pub mod engine;
pub mod headers;
pub mod histogram;
pub mod llm;
pub mod prometheus;
/// The request filter is shared with the dashboard, which applies it to live requests.
pub use crate::query;
pub mod recent;
pub mod record;
pub mod series;
pub mod system;
