//! Rate limiting per client IP: a token bucket per address (`burst` tokens, refilled at
//! `requests_per_second`). An IPv6 client is keyed by its /64 — the prefix one subscriber or host
//! typically gets, within which it can pick any address — and an IPv4-mapped IPv6 address by its
//! IPv4 address. The table of clients is bounded: when full, buckets that have refilled
//! (idle clients, indistinguishable from new ones) are dropped, then arbitrary ones.

use crate::server::config::RateLimitConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most clients tracked per route.
pub const MAX_TRACKED_CLIENTS: usize = 65_536;

/// A route's limiter.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter with no clients yet.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limits it enforces.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Takes a token for `client` at `now`, or says how long until one is available.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.config.burst);
        let rate = self.config.requests_per_second;
        let client = bucket_key(client);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if !buckets.contains_key(&client) && buckets.len() >= MAX_TRACKED_CLIENTS {
            evict(&mut buckets, burst, rate, now);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            // Bounded by the config's lowest rate; saturating all the same.
            Err(Duration::try_from_secs_f64((1.0 - bucket.tokens) / rate).unwrap_or(Duration::MAX))
        }
    }

    /// Clients currently tracked.
    pub fn tracked_clients(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The bucket `client` spends from: an IPv4 address (mapped or not) itself, an IPv6 address's
/// /64 network.
pub fn bucket_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

fn evict(buckets: &mut HashMap<IpAddr, Bucket>, burst: f64, rate: f64, now: Instant) {
    buckets.retain(|_, bucket| {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens + elapsed * rate < burst
    });
    if buckets.len() >= MAX_TRACKED_CLIENTS {
        let excess = buckets.len() + 1 - MAX_TRACKED_CLIENTS + MAX_TRACKED_CLIENTS / 16;
        let victims: Vec<IpAddr> = buckets.keys().take(excess).copied().collect();
        for victim in victims {
            buckets.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rps: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            requests_per_second: rps,
            burst,
        })
    }

    #[test]
    fn allows_a_burst_then_refills_at_the_rate() {
        let limiter = limiter(2.0, 3);
        let client = IpAddr::from([127, 0, 0, 1]);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(client, now), Ok(()));
        }
        let wait = limiter.check(client, now).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(
            limiter.check(client, now + Duration::from_millis(500)),
            Ok(())
        );
        assert!(
            limiter
                .check(client, now + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn clients_are_limited_separately() {
        let limiter = limiter(1.0, 1);
        let now = Instant::now();
        assert!(limiter.check(IpAddr::from([1, 1, 1, 1]), now).is_ok());
        assert!(limiter.check(IpAddr::from([1, 1, 1, 1]), now).is_err());
        assert!(limiter.check(IpAddr::from([2, 2, 2, 2]), now).is_ok());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let limiter = limiter(1.0, 1);
        let now = Instant::now();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(limiter.check(ip("2001:db8:1:2::1"), now).is_ok());
        assert!(
            limiter.check(ip("2001:db8:1:2:ffff::9"), now).is_err(),
            "same /64, same bucket"
        );
        assert!(
            limiter.check(ip("2001:db8:1:3::1"), now).is_ok(),
            "the next /64 is another client"
        );
        assert!(limiter.check(ip("192.0.2.1"), now).is_ok());
        assert!(
            limiter.check(ip("::ffff:192.0.2.1"), now).is_err(),
            "IPv4-mapped is the IPv4 client"
        );
        assert!(
            limiter.check(ip("192.0.2.2"), now).is_ok(),
            "IPv4 addresses stay apart"
        );
        assert_eq!(bucket_key(ip("2001:db8::7:8")), ip("2001:db8::"));
        assert_eq!(bucket_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(limiter.tracked_clients(), 4);
    }

    #[test]
    fn the_client_table_is_bounded() {
        let limiter = limiter(1.0, 5);
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 1000) {
            let ip = IpAddr::from(i.to_be_bytes());
            let _ = limiter.check(ip, now);
        }
        assert!(limiter.tracked_clients() <= MAX_TRACKED_CLIENTS);
    }
}
