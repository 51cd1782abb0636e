//! Choosing a target among those eligible for a request (healthy, breaker admitting, not yet
//! tried): round robin, smooth weighted round robin, least connections, random, or sticky by
//! client IP (rendezvous hashing, so a client keeps its target while that target is eligible).
//!
//! Eligible targets are a bit mask (a route has at most 64 targets): no allocation per request.

use super::target::Target;
use crate::server::config::Strategy;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A set of target indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetSet(u64);

impl TargetSet {
    /// The first `count` targets.
    pub fn first(count: usize) -> Self {
        Self(if count >= 64 {
            u64::MAX
        } else {
            (1u64 << count) - 1
        })
    }

    /// No target.
    pub fn empty() -> Self {
        Self(0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `index` is in the set.
    pub fn contains(self, index: usize) -> bool {
        index < 64 && self.0 & (1 << index) != 0
    }

    /// Adds `index`.
    pub fn insert(&mut self, index: usize) {
        self.0 |= 1 << index;
    }

    /// Removes `index`.
    pub fn remove(&mut self, index: usize) {
        self.0 &= !(1 << index);
    }

    /// How many targets are in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The indexes, ascending.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let index = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                index
            })
        })
    }

    /// The first index at or after `start`, wrapping around below `count`.
    fn next_from(self, start: usize, count: usize) -> Option<usize> {
        (0..count)
            .map(|offset| (start + offset) % count)
            .find(|&index| self.contains(index))
    }
}

/// A route's balancer.
#[derive(Debug)]
pub struct Balancer {
    strategy: Strategy,
    sticky: bool,
    cursor: AtomicUsize,
    /// Smooth weighted round robin's running weights, one per target.
    current_weights: Mutex<Vec<i64>>,
}

impl Balancer {
    /// A balancer for `target_count` targets.
    pub fn new(strategy: Strategy, sticky: bool, target_count: usize) -> Self {
        Self {
            strategy,
            sticky,
            cursor: AtomicUsize::new(0),
            current_weights: Mutex::new(vec![0; target_count]),
        }
    }

    /// Picks one of `eligible` (never empty) among `targets` for a request from `client`.
    pub fn pick(
        &self,
        targets: &[Arc<Target>],
        eligible: TargetSet,
        client: IpAddr,
    ) -> Option<usize> {
        if eligible.is_empty() {
            return None;
        }
        if self.sticky {
            return self.rendezvous(targets, eligible, client);
        }
        let count = targets.len();
        match self.strategy {
            Strategy::RoundRobin => {
                let start = self.cursor.fetch_add(1, Ordering::Relaxed);
                eligible.next_from(start % count, count)
            }
            Strategy::WeightedRoundRobin => self.smooth_weighted(targets, eligible),
            Strategy::LeastConnections => {
                // Ties go round robin so idle targets share the load.
                let start = self.cursor.fetch_add(1, Ordering::Relaxed) % count;
                (0..count)
                    .map(|offset| (start + offset) % count)
                    .filter(|&index| eligible.contains(index))
                    .min_by_key(|&index| targets[index].in_flight())
            }
            Strategy::Random => eligible.iter().nth(fastrand::usize(..eligible.len())),
        }
    }

    /// nginx's smooth weighted round robin: even spreading, exact shares over a cycle.
    fn smooth_weighted(&self, targets: &[Arc<Target>], eligible: TargetSet) -> Option<usize> {
        let mut current = self
            .current_weights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for index in eligible.iter() {
            let weight = i64::from(targets[index].config.weight);
            current[index] += weight;
            total += weight;
            if best.is_none_or(|b| current[index] > current[b]) {
                best = Some(index);
            }
        }
        if let Some(best) = best {
            current[best] -= total;
        }
        best
    }

    /// Highest random weight: each client IP ranks targets the same way every time.
    fn rendezvous(
        &self,
        targets: &[Arc<Target>],
        eligible: TargetSet,
        client: IpAddr,
    ) -> Option<usize> {
        eligible.iter().max_by_key(|&index| {
            // Fixed keys: the same client maps to the same target across reloads and restarts.
            let mut hasher = DefaultHasher::new();
            client.hash(&mut hasher);
            targets[index].name.hash(&mut hasher);
            hasher.finish()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::TargetConfig;

    fn targets(weights: &[u32]) -> Vec<Arc<Target>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                let config = TargetConfig {
                    url: format!("http://127.0.0.1:{}", 9000 + i),
                    authority: format!("127.0.0.1:{}", 9000 + i),
                    base_path: String::new(),
                    weight,
                    tls: false,
                };
                Arc::new(Target::new(
                    Arc::from("r"),
                    config,
                    None,
                    None,
                    crate::server::proxy::event::EventSink::channel(16).0,
                ))
            })
            .collect()
    }

    fn counts(
        balancer: &Balancer,
        targets: &[Arc<Target>],
        eligible: TargetSet,
        n: usize,
    ) -> Vec<usize> {
        let mut counts = vec![0; targets.len()];
        for _ in 0..n {
            counts[balancer
                .pick(targets, eligible, IpAddr::from([10, 0, 0, 1]))
                .unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn target_sets_behave_like_sets() {
        let mut set = TargetSet::first(3);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        set.remove(1);
        assert_eq!(set.len(), 2);
        assert!(!set.contains(1));
        set.insert(1);
        assert!(set.contains(1));
        assert_eq!(TargetSet::first(64).len(), 64);
        assert!(TargetSet::empty().is_empty());
    }

    #[test]
    fn round_robin_cycles_over_eligible_targets() {
        let targets = targets(&[1, 1, 1]);
        let balancer = Balancer::new(Strategy::RoundRobin, false, 3);
        assert_eq!(
            counts(&balancer, &targets, TargetSet::first(3), 300),
            vec![100, 100, 100]
        );
        let mut without_middle = TargetSet::first(3);
        without_middle.remove(1);
        let spread = counts(&balancer, &targets, without_middle, 300);
        assert_eq!(spread[1], 0);
        assert!(spread[0] >= 100 && spread[2] >= 100, "{spread:?}");
    }

    #[test]
    fn smooth_weighted_gives_exact_shares_and_interleaves() {
        let targets = targets(&[5, 1, 1]);
        let balancer = Balancer::new(Strategy::WeightedRoundRobin, false, 3);
        let picks: Vec<_> = (0..7)
            .map(|_| {
                balancer
                    .pick(&targets, TargetSet::first(3), IpAddr::from([1, 1, 1, 1]))
                    .unwrap()
            })
            .collect();
        assert_eq!(
            picks,
            vec![0, 0, 1, 0, 2, 0, 0],
            "nginx's sequence for 5:1:1"
        );
        assert_eq!(
            counts(&balancer, &targets, TargetSet::first(3), 700),
            vec![500, 100, 100]
        );
    }

    #[test]
    fn least_connections_prefers_the_idlest() {
        let targets = targets(&[1, 1, 1]);
        let balancer = Balancer::new(Strategy::LeastConnections, false, 3);
        let _busy0 = targets[0].start_request();
        let _busy2a = targets[2].start_request();
        let _busy2b = targets[2].start_request();
        assert_eq!(
            counts(&balancer, &targets, TargetSet::first(3), 10),
            vec![0, 10, 0]
        );
    }

    #[test]
    fn random_only_picks_eligible_targets_and_spreads() {
        let targets = targets(&[1, 1, 1, 1]);
        let balancer = Balancer::new(Strategy::Random, false, 4);
        let mut eligible = TargetSet::first(4);
        eligible.remove(3);
        let spread = counts(&balancer, &targets, eligible, 3000);
        assert_eq!(spread[3], 0);
        assert!(spread[..3].iter().all(|&c| c > 800), "{spread:?}");
    }

    #[test]
    fn sticky_keeps_a_client_on_its_target_until_it_leaves() {
        let targets = targets(&[1, 1, 1]);
        let balancer = Balancer::new(Strategy::RoundRobin, true, 3);
        let client = IpAddr::from([192, 168, 1, 7]);
        let all = TargetSet::first(3);
        let first = balancer.pick(&targets, all, client).unwrap();
        for _ in 0..20 {
            assert_eq!(balancer.pick(&targets, all, client), Some(first));
        }
        let mut without = all;
        without.remove(first);
        let second = balancer.pick(&targets, without, client).unwrap();
        assert_ne!(second, first);
        assert_eq!(
            balancer.pick(&targets, all, client),
            Some(first),
            "back when eligible again"
        );
        let clients: std::collections::HashSet<_> = (0..50u8)
            .map(|i| {
                balancer
                    .pick(&targets, all, IpAddr::from([10, 0, 0, i]))
                    .unwrap()
            })
            .collect();
        assert_eq!(clients.len(), 3, "different clients spread over targets");
    }
}
