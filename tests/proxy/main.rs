//! The proxy end to end: a real gateway forwarding to real upstream servers on loopback ports.

#[path = "../support/mod.rs"]
mod support;

mod bodies;
mod compression;
mod forwarding;
mod h2c;
mod keepalive;
mod lifecycle;
mod limits;
mod normalise;
mod resilience;
mod routing;
mod smuggling;
mod tls;
mod wire;
