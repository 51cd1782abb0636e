//! Server functions: thin adapters from the browser to the gateway's state.
//!
//! Every server function lives under [`SERVER_FN_PREFIX`] on the dashboard address, so it can never
//! collide with the JSON API or with proxied paths (which are served on another listener).

pub mod status;

/// URL prefix of every server function.
pub const SERVER_FN_PREFIX: &str = "/api/fn";
