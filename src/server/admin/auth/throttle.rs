//! Brute-force protection for sign-in: after [`MAX_FAILURES`] failed attempts within [`WINDOW`]
//! from one client IP, or for one user name, further attempts are refused until the oldest
//! failure leaves the window. Both maps are bounded ([`MAX_TRACKED`] keys each).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed attempts allowed within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most client IPs (and user names) tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// Recent sign-in failures by client IP and by user name.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    by_client: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    by_user: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `client` or `user` has failed too often lately.
    pub fn check(&self, client: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        let client_wait = wait(&self.by_client, &client, now);
        let user_wait = wait(&self.by_user, user, now);
        match client_wait.max(user_wait) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt by `client` for `user`.
    pub fn failed(&self, client: IpAddr, user: &str, now: Instant) {
        record(&self.by_client, client, now);
        record(&self.by_user, user.to_string(), now);
    }
}

/// How long `key` must wait, if it has used up its failures.
fn wait<K, Q>(map: &Mutex<HashMap<K, VecDeque<Instant>>>, key: &Q, now: Instant) -> Option<Duration>
where
    K: Eq + Hash + std::borrow::Borrow<Q>,
    Q: Eq + Hash + ?Sized,
{
    let map = map.lock().unwrap_or_else(PoisonError::into_inner);
    let failures = map.get(key)?;
    let recent: Vec<&Instant> = failures
        .iter()
        .filter(|at| now.saturating_duration_since(**at) < WINDOW)
        .collect();
    (recent.len() >= MAX_FAILURES).then(|| {
        let oldest = **recent.first().expect("MAX_FAILURES > 0");
        (oldest + WINDOW)
            .saturating_duration_since(now)
            .max(Duration::from_secs(1))
    })
}

fn record<K: Eq + Hash + Clone>(map: &Mutex<HashMap<K, VecDeque<Instant>>>, key: K, now: Instant) {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        map.retain(|_, failures| {
            failures
                .back()
                .is_some_and(|last| now.saturating_duration_since(*last) < WINDOW)
        });
        if map.len() >= MAX_TRACKED {
            // Everyone tracked failed within the window: forget the one whose last failure is
            // oldest.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, failures)| failures.back().copied())
                .map(|(key, _)| key.clone())
            {
                map.remove(&oldest);
            }
        }
    }
    let failures = map.entry(key).or_default();
    failures.push_back(now);
    while failures.len() > MAX_FAILURES {
        failures.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn five_failures_from_one_client_lock_it_out_for_the_rest_of_the_minute() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for n in 0..MAX_FAILURES {
            assert!(throttle.check(CLIENT, &format!("user{n}"), start).is_ok());
            throttle.failed(
                CLIENT,
                &format!("user{n}"),
                start + Duration::from_secs(n as u64),
            );
        }
        let wait = throttle
            .check(CLIENT, "someone", start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(throttle.check(OTHER, "someone", start).is_ok());
        assert!(
            throttle
                .check(CLIENT, "someone", start + Duration::from_secs(61))
                .is_ok(),
            "the oldest failure left the window"
        );
    }

    #[test]
    fn five_failures_for_one_user_lock_that_user_from_every_client() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..MAX_FAILURES {
            let client = IpAddr::V4(Ipv4Addr::new(10, 0, 0, n as u8));
            throttle.failed(client, "alice", now);
        }
        assert!(throttle.check(OTHER, "alice", now).is_err());
        assert!(throttle.check(OTHER, "bob", now).is_ok());
    }

    #[test]
    fn the_maps_are_bounded() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..(MAX_TRACKED + 10) {
            let client = IpAddr::V6(std::net::Ipv6Addr::from(n as u128));
            throttle.failed(client, "x", now);
        }
        assert!(throttle.by_client.lock().unwrap().len() <= MAX_TRACKED);
    }
}
