//! Latency distributions: an HDR histogram of microseconds, from 1 µs to one hour with two
//! significant digits (1 % relative error), mergeable and serialisable so minute rollups in the
//! history can be combined into any period.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// The largest latency tracked exactly; longer ones are clamped to it.
pub const MAX_TRACKED_US: u64 = 3_600_000_000;

/// A latency distribution in microseconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>);

/// The percentiles operators read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_TRACKED_US, 2).expect("constant bounds are valid"))
    }
}

impl LatencyHistogram {
    /// Records one latency (clamped to 1 µs ..= [`MAX_TRACKED_US`]).
    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.clamp(1, MAX_TRACKED_US));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The value at quantile `q` (0.0 ..= 1.0), 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.value_at_quantile(q)
    }

    /// p50, p95, p99 and max (all 0 when empty).
    pub fn percentiles(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50_us: self.0.value_at_quantile(0.50),
            p95_us: self.0.value_at_quantile(0.95),
            p99_us: self.0.value_at_quantile(0.99),
            max_us: self.0.max(),
        }
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.0.reset();
    }

    /// The compact binary form stored in the history (HdrHistogram V2 encoding).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .expect("serialising into a Vec cannot fail");
        bytes
    }

    /// Reads [`Self::to_bytes`] output; `None` if `bytes` is not a valid encoding.
    pub fn from_bytes(mut bytes: &[u8]) -> Option<Self> {
        let histogram: Histogram<u64> = Deserializer::new().deserialize(&mut bytes).ok()?;
        let mut decoded = Self::default();
        decoded.0.add(&histogram).ok()?;
        Some(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within_one_percent(actual: u64, expected: u64) -> bool {
        actual.abs_diff(expected) * 100 <= expected
    }

    #[test]
    fn percentiles_of_known_data() {
        let mut histogram = LatencyHistogram::default();
        for micros in 1..=10_000 {
            histogram.record(micros);
        }
        let p = histogram.percentiles();
        assert!(within_one_percent(p.p50_us, 5_000), "{p:?}");
        assert!(within_one_percent(p.p95_us, 9_500), "{p:?}");
        assert!(within_one_percent(p.p99_us, 9_900), "{p:?}");
        assert!(within_one_percent(p.max_us, 10_000), "{p:?}");
        assert_eq!(histogram.count(), 10_000);
    }

    #[test]
    fn a_skewed_distribution_reports_its_tail() {
        let mut histogram = LatencyHistogram::default();
        for _ in 0..990 {
            histogram.record(1_000);
        }
        for _ in 0..10 {
            histogram.record(250_000);
        }
        let p = histogram.percentiles();
        assert!(within_one_percent(p.p50_us, 1_000), "{p:?}");
        assert!(within_one_percent(p.p95_us, 1_000), "{p:?}");
        assert!(within_one_percent(p.p99_us, 1_000), "{p:?}");
        assert!(within_one_percent(p.max_us, 250_000), "{p:?}");
        assert!(within_one_percent(histogram.quantile(0.995), 250_000));
    }

    #[test]
    fn merged_histograms_equal_one_fed_everything() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        let mut all = LatencyHistogram::default();
        for micros in (1..5_000).step_by(7) {
            a.record(micros);
            all.record(micros);
        }
        for micros in (20_000..90_000).step_by(13) {
            b.record(micros);
            all.record(micros);
        }
        a.merge(&b);
        assert_eq!(a.percentiles(), all.percentiles());
        assert_eq!(a.count(), all.count());
    }

    #[test]
    fn survives_a_round_trip_through_bytes() {
        let mut histogram = LatencyHistogram::default();
        for micros in [3, 80, 80, 1_200, 45_000, 9_000_000] {
            histogram.record(micros);
        }
        let bytes = histogram.to_bytes();
        assert!(bytes.len() < 200, "compact: {} bytes", bytes.len());
        let back = LatencyHistogram::from_bytes(&bytes).expect("decodes");
        assert_eq!(back.percentiles(), histogram.percentiles());
        assert_eq!(back.count(), 6);
        assert!(LatencyHistogram::from_bytes(b"not a histogram").is_none());
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut histogram = LatencyHistogram::default();
        histogram.record(0);
        histogram.record(u64::MAX);
        assert_eq!(histogram.count(), 2);
        assert!(histogram.percentiles().max_us >= MAX_TRACKED_US / 2);
    }
}
