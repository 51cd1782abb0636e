//! SNI: rustls asks [`SniResolver`] which certificate to present for the name in a client's
//! hello. The set in force is an [`ArcSwap`] snapshot, replaced whole on reload: a handshake
//! reads it without a lock and without touching the disk, and connections already open keep the
//! certificate they were given.

use super::certificates::CertificateSet;
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// Picks a listener's certificate by SNI ([`CertificateSet::select`]).
#[derive(Debug)]
pub struct SniResolver {
    set: ArcSwap<CertificateSet>,
}

impl SniResolver {
    /// A resolver serving `set`.
    pub fn new(set: CertificateSet) -> Self {
        Self {
            set: ArcSwap::from_pointee(set),
        }
    }

    /// Serves `set` to every handshake from now on.
    pub fn replace(&self, set: CertificateSet) {
        self.set.store(Arc::new(set));
    }

    /// The set in force.
    pub fn current(&self) -> Arc<CertificateSet> {
        self.set.load_full()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.set.load().select(hello.server_name()).key.clone())
    }
}
