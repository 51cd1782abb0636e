//! The metrics engine: everything the dashboards and the admin API show about traffic.

pub mod histogram;
pub mod query;
