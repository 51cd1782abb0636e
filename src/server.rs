//! Everything only the `gatewatch` binary needs: compiled with the `ssr` feature, never into the
//! WASM client. The rooms, from the entry point down:
//!
//! - [`cli`] parses the command line; [`runtime`] starts the gateway, serves both listeners and
//!   shuts it down gracefully;
//! - [`admin`]: the dashboard listener — pages, server functions, the live socket, the REST API
//!   and `/metrics`, config edits;
//! - [`gateway`]: the running gateway's shared state and its background work (the recorder that
//!   feeds metrics and history, config reload, the gateway's own log, snapshots for the views);
//! - [`proxy`]: the data plane on `listen`, which reports every request as an event;
//! - [`metrics`] and [`history`]: the two consumers of recorded requests, side by side, both built
//!   on [`records`];
//! - [`config`]: `config.json` parsed and validated, and what changes between two configs;
//! - [`demo`]: the built-in demo upstreams and traffic;
//! - [`fuzz`]: the parsers of outside bytes driven by arbitrary input, for the fuzz targets;
//! - [`tls`]: TLS termination for the proxy's HTTPS listener and the dashboard — certificates,
//!   SNI, the bounded handshake, certificate reloads;
//! - [`client_conn`]: HTTP on one accepted connection for both listeners, within `limits`
//!   (protocol detection, header size, header-read and idle deadlines);
//! - [`tui`]: the terminal dashboard, in process (`--dashboard`) or attached to a running
//!   gateway over its admin API (`gatewatch top`).
//!
//! Requests flow one way: proxy → event → recorder → metrics / history / live subscribers.

pub mod admin;
pub mod alerts;
pub mod cli;
pub mod client_conn;
pub mod config;
pub mod demo;
pub mod fuzz;
pub mod gateway;
pub mod history;
pub mod metrics;
pub mod outbound;
pub mod proxy;
pub mod records;
pub mod runtime;
pub mod sqlite_file;
pub mod tls;
pub mod tui;
