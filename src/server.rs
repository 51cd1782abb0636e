//! Everything only the `gatewatch` binary needs: compiled with the `ssr` feature, never into the
//! WASM client.

pub mod admin;
pub mod cli;
pub mod config;
pub mod config_edit;
pub mod dashboard;
pub mod demo;
pub mod history;
pub mod live;
pub mod logs;
pub mod metrics;
pub mod proxy;
pub mod recorder;
pub mod reload;
pub mod runtime;
pub mod site;
pub mod snapshot;
pub mod state;
