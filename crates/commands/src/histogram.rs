//! A small fixed log-linear histogram of command durations, one per command
//! and shard, for INFO's `latencystats` and for metrics exporters.
//!
//! Redis keeps an HDR histogram per command (2 significant digits: 128
//! linear sub-buckets per power of two, relative error at most 1/128) and
//! reports a percentile as the highest value of the bucket it falls in.
//! Mayfly keeps 16 linear sub-buckets per power of two of nanoseconds: a
//! value `v` (at least 16 ns) lands in a bucket of width at most `v / 16`,
//! so a reported percentile, the bucket's highest value, is at most 6.25 %
//! above the true one (and never below it); values under 16 ns are exact.
//! Durations of 1 s or more count as 1 s, as Redis clamps at its
//! histograms' maximum (`CONFIG_LATENCY_HISTOGRAM_MAX_VALUE`, 1 s): their
//! bucket, the last, reports 1,006,632.959 µs where Redis's reports
//! 1,002,438.655 µs. 430 counters (3.4 KiB) cover 0 to 1 s. Recording is
//! an index computation and one increment: no allocation.

/// Linear sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 4;
/// Linear sub-buckets per power of two.
const SUBS: usize = 1 << SUB_BITS;
/// Longer durations count as this long (1 s, Redis's clamp).
const MAX_NANOS: u64 = 1_000_000_000;
/// Counters in a histogram: 16 exact values, then 16 per power of two, up
/// to the bucket of [`MAX_NANOS`].
pub const BUCKETS: usize = bucket_index(MAX_NANOS) + 1;

/// The bucket of `v` ns (at most [`MAX_NANOS`]).
const fn bucket_index(v: u64) -> usize {
    if v < SUBS as u64 {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    (shift as usize + 1) * SUBS + (v >> shift) as usize - SUBS
}

/// Counts of durations (in nanoseconds) by log-linear bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u64; BUCKETS],
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("total", &self.total())
            .finish_non_exhaustive()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
        }
    }
}

/// The bucket of a duration of `nanos`.
#[inline]
fn bucket_of(nanos: u64) -> usize {
    bucket_index(nanos.min(MAX_NANOS))
}

/// The lowest duration that lands in `bucket`, and the bucket's width.
fn bucket_range(bucket: usize) -> (u64, u64) {
    if bucket < SUBS {
        return (bucket as u64, 1);
    }
    let shift = bucket / SUBS - 1;
    let sub = (bucket % SUBS + SUBS) as u64;
    (sub << shift, 1 << shift)
}

/// The highest duration that lands in `bucket` (what a percentile reports).
pub fn bucket_upper_bound(bucket: usize) -> u64 {
    let (low, width) = bucket_range(bucket);
    low + width - 1
}

impl LatencyHistogram {
    /// A histogram holding one duration (created on a command's first call).
    pub fn boxed_with(nanos: u64) -> Box<Self> {
        let mut histogram = Box::<Self>::default();
        histogram.record(nanos);
        histogram
    }

    /// Counts one duration of `nanos`.
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        self.counts[bucket_of(nanos)] += 1;
    }

    /// Adds `other`'s counts to these (another shard's, for INFO).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
    }

    /// Durations counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The duration (ns) at `percentile` (0 to 100) as HDR's
    /// `hdr_value_at_percentile` computes it: the highest value of the
    /// bucket holding the `round(percentile% * total)`-th duration (at least
    /// the first); 0 when empty.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let wanted = ((percentile.min(100.0) / 100.0) * self.total() as f64 + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return if percentile == 0.0 {
                    bucket_range(bucket).0
                } else {
                    bucket_upper_bound(bucket)
                };
            }
        }
        0
    }

    /// The non-empty buckets, in increasing order: (the highest duration in
    /// the bucket in ns, how many durations it holds). For exporters, which
    /// sum them into their own bounds (see [`LatencyHistogram::cumulative`]).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &count)| count > 0)
            .map(|(bucket, &count)| (bucket_upper_bound(bucket), count))
    }

    /// For each bound (ns, increasing), how many durations were at most that
    /// long, as far as the buckets tell: a bucket counts under the first
    /// bound at or above its highest value, so a count may lag by one
    /// bucket (at most 6.25 % of the bound). A Prometheus histogram's
    /// cumulative `le` buckets.
    pub fn cumulative(&self, bounds: &[u64]) -> Vec<u64> {
        let mut out = vec![0; bounds.len()];
        for (upper, count) in self.buckets() {
            if let Some(first) = bounds.iter().position(|&b| upper <= b) {
                out[first] += count;
            }
        }
        for i in 1..out.len() {
            out[i] += out[i - 1];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_increasing() {
        let mut expected_low = 0;
        for bucket in 0..BUCKETS {
            let (low, width) = bucket_range(bucket);
            assert_eq!(low, expected_low, "bucket {bucket}");
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(low + width - 1), bucket);
            expected_low = low + width;
        }
        assert!(bucket_range(BUCKETS - 1).0 <= MAX_NANOS && MAX_NANOS < expected_low);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(BUCKETS, 430);
    }

    #[test]
    fn a_second_or_more_counts_as_a_second_as_redis_clamps() {
        // DEBUG SLEEP 1.3: Redis reports p50=1002438.655 (its HDR bucket of 1 s).
        let mut h = LatencyHistogram::default();
        h.record(1_300_000_000);
        assert_eq!(h.value_at_percentile(50.0), 1_006_632_959);
        assert_eq!(bucket_of(MAX_NANOS), bucket_of(5_000_000_000));
        assert_ne!(bucket_of(MAX_NANOS - 40_000_000), bucket_of(MAX_NANOS));
    }

    #[test]
    fn reported_values_are_within_the_error_bound() {
        for v in (1..2_000_000u64)
            .step_by(7)
            .chain([16, 17, 1 << 20, 999_999_999])
        {
            let reported = bucket_upper_bound(bucket_of(v));
            assert!(reported >= v, "{v}");
            assert!(
                (reported - v) as f64 <= v as f64 / 16.0,
                "{v} reported as {reported}"
            );
        }
        for v in 0..16 {
            assert_eq!(bucket_upper_bound(bucket_of(v)), v);
        }
    }

    #[test]
    fn percentiles_as_hdr() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.value_at_percentile(50.0), 0);
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        // The 50th of 100 values is 50 µs: its bucket [49152, 51199].
        assert_eq!(h.value_at_percentile(50.0), 51_199);
        assert_eq!(
            h.value_at_percentile(99.0),
            bucket_upper_bound(bucket_of(99_000))
        );
        assert_eq!(
            h.value_at_percentile(99.9),
            bucket_upper_bound(bucket_of(100_000))
        );
        assert_eq!(
            h.value_at_percentile(100.0),
            bucket_upper_bound(bucket_of(100_000))
        );
        let one = LatencyHistogram::boxed_with(5);
        assert_eq!(one.value_at_percentile(99.9), 5);
    }

    #[test]
    fn merge_and_cumulative_counts() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        a.record(500);
        a.record(5_000);
        b.record(5_000);
        b.record(2_000_000_000);
        a.merge(&b);
        assert_eq!(a.total(), 4);
        assert_eq!(
            a.buckets().map(|(_, n)| n).collect::<Vec<_>>(),
            vec![1, 2, 1]
        );
        assert_eq!(
            a.cumulative(&[1_000, 10_000, 1_000_000, u64::MAX]),
            vec![1, 3, 3, 4]
        );
    }
}
