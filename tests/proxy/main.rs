//! The proxy end to end: a real gateway forwarding to real upstream servers on loopback ports.

#[path = "../support/mod.rs"]
mod support;

mod compression;
mod h2c;
mod keepalive;
mod lifecycle;
mod limits;
mod resilience;
mod routing;
mod tls;
mod wire;
