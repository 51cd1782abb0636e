//! What recording shares below its consumers: the record a finished request becomes
//! ([`record`], built once and shared by the recent ring, the history batch and the live feed)
//! and latency distributions ([`histogram`], kept by the metrics engine and stored in the
//! history's rollups). The metrics engine and the history both build on this module and never on
//! each other.

pub mod histogram;
pub mod record;

#[cfg(test)]
pub(crate) mod testing;
