//! TLS termination end to end: a private CA made in the tests issues the certificates, a real
//! gateway serves them on its HTTPS listeners, and curl and a Rust client (rustls) verify the
//! chain against the CA.

#[path = "../support/mod.rs"]
mod support;

mod ca;
mod check;
mod dashboard;
mod proxy;
mod reload;
