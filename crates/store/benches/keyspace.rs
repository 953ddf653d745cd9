//! Micro-benchmarks of one shard's keyspace, without a network or threads:
//! reads, writes, TTLs and active expiry on a keyspace preloaded with 100,000
//! and 1,000,000 keys (16-byte keys, 32-byte values), with a fake clock.
//! Run with `cargo bench -p store`.
//!
//! Each operation goes through one small helper below (`get`, `set`, ...),
//! the only code that touches the `Keyspace` API, so that a change of that
//! API means changing one line per operation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use store::{Keyspace, Value};

/// Keyspace sizes: one that fits in the CPU caches' reach, one that does not.
const SIZES: [usize; 2] = [100_000, 1_000_000];
/// The fake clock's "now" (unix ms).
const NOW: u64 = 1_700_000_000_000;
/// The TTL of the TTL benchmarks: far enough that nothing they set expires
/// while `expire_due` moves the clock on.
const TTL: u64 = 30 * 24 * 3600 * 1000;
/// Keys probed, in random order, by the per-key benchmarks (a power of two).
const PROBES: usize = 1 << 16;
/// Keys reclaimed per `expire_due` call.
const DUE: usize = 10_000;
/// The due keys' deadlines spread over this many ms (several wheel slots).
const DUE_SPREAD: u64 = 1_000;
/// A 32-byte value.
const VALUE: &[u8; 32] = b"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/// A 16-byte key: `key:NNNNNNNNNNNN`.
type Key = [u8; 16];

fn key(i: usize) -> Key {
    let mut key = [0; 16];
    key.copy_from_slice(format!("key:{i:012}").as_bytes());
    key
}

// The operations: one helper each, the only callers of the Keyspace API.

fn value() -> Value {
    Value::String(VALUE.to_vec())
}

fn get(ks: &mut Keyspace, key: &[u8], now: u64) -> bool {
    black_box(ks.get(key, now)).is_some()
}

fn set(ks: &mut Keyspace, key: &[u8], now: u64) {
    black_box(ks.set(key, value(), None, now));
}

fn set_with_deadline(ks: &mut Keyspace, key: &[u8], deadline: u64, now: u64) {
    black_box(ks.set(key, value(), Some(deadline), now));
}

fn set_deadline(ks: &mut Keyspace, key: &[u8], deadline: u64, now: u64) -> bool {
    ks.set_deadline(key, Some(deadline), now)
}

fn remove_reinsert(ks: &mut Keyspace, key: &[u8], now: u64) {
    black_box(ks.remove(key, now));
    set(ks, key, now);
}

fn expire_due(ks: &mut Keyspace, now: u64) -> usize {
    ks.expire_due(now, usize::MAX).expired
}

fn len(ks: &Keyspace) -> usize {
    ks.len()
}

// Fixtures.

/// A keyspace holding `key(0..n)`, none with a TTL.
fn preloaded(n: usize) -> Keyspace {
    let mut ks = Keyspace::new();
    for i in 0..n {
        set(&mut ks, &key(i), NOW);
    }
    ks
}

/// A tiny deterministic generator (xorshift64*), so benchmarks need no crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

/// [`PROBES`] keys `key(first + r)`, `r` random in `0..n`.
fn probes(first: usize, n: usize) -> Vec<Key> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..PROBES).map(|_| key(first + rng.below(n))).collect()
}

/// Benchmarks `op` on one probe key per iteration, cycling through `keys`.
fn per_key(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    ks: &mut Keyspace,
    keys: &[Key],
    mut op: impl FnMut(&mut Keyspace, &[u8]),
) {
    let mut next = 0;
    group.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter(|| {
            op(ks, &keys[next % PROBES]);
            next += 1;
        })
    });
}

/// Per-key operations on a keyspace of `n` keys, then active expiry of
/// [`DUE`] more keys set beside them.
fn operations(c: &mut Criterion) {
    for n in SIZES {
        let mut ks = preloaded(n);
        let hits = probes(0, n);
        let misses = probes(n, n);
        assert!(hits.iter().all(|k| get(&mut ks, k, NOW)));
        assert!(!misses.iter().any(|k| get(&mut ks, k, NOW)));

        let mut group = c.benchmark_group("keyspace");
        group.throughput(Throughput::Elements(1));
        per_key(&mut group, "get_hit", n, &mut ks, &hits, |ks, k| {
            get(ks, k, NOW);
        });
        per_key(&mut group, "get_miss", n, &mut ks, &misses, |ks, k| {
            get(ks, k, NOW);
        });
        per_key(&mut group, "set_overwrite", n, &mut ks, &hits, |ks, k| {
            set(ks, k, NOW)
        });
        per_key(&mut group, "remove_reinsert", n, &mut ks, &hits, |ks, k| {
            remove_reinsert(ks, k, NOW)
        });
        // The TTL benchmarks come last: after them the probed keys have one.
        per_key(
            &mut group,
            "set_with_deadline",
            n,
            &mut ks,
            &hits,
            |ks, k| set_with_deadline(ks, k, NOW + TTL, NOW),
        );
        per_key(&mut group, "set_deadline", n, &mut ks, &hits, |ks, k| {
            set_deadline(ks, k, NOW + TTL, NOW);
        });
        group.finish();
        assert_eq!(len(&ks), n);

        expiry(c, n, &mut ks);
    }
}

/// `expire_due` reclaiming [`DUE`] keys from a keyspace of `n` others, time
/// per key. Each round sets the due keys (untimed), deadlines spread over
/// [`DUE_SPREAD`] ms, then moves the clock past them and times the reclaim.
fn expiry(c: &mut Criterion, n: usize, ks: &mut Keyspace) {
    let due: Vec<Key> = (0..DUE).map(|i| key(n + i)).collect();
    let mut now = NOW;
    let mut round = |ks: &mut Keyspace| {
        for (i, k) in due.iter().enumerate() {
            set_with_deadline(ks, k, now + 1 + i as u64 % DUE_SPREAD, now);
        }
        now += DUE_SPREAD;
        let start = Instant::now();
        let expired = expire_due(ks, now);
        (start.elapsed(), expired)
    };
    assert_eq!(round(ks).1, DUE);
    assert_eq!(len(ks), n);

    let mut group = c.benchmark_group("keyspace_expire");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .throughput(Throughput::Elements(DUE as u64));
    group.bench_function(BenchmarkId::new("expire_due_10000", n), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| round(ks).0).sum())
    });
    group.finish();
}

/// SET of `n` new keys into a keyspace of `n`: the keyspace doubles, so
/// every segment grows once (the amortized cost of growth is included).
/// Building the preloaded keyspace is setup, untimed.
fn growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyspace_grow");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100));
    for n in SIZES {
        let new: Vec<Key> = (n..2 * n).map(key).collect();
        // Ten rounds or so. A round takes 2 to 3 µs of wall time per
        // preloaded key (the untimed preload and drop of the doubled
        // keyspace included), and criterion counts all of it against the
        // measurement time: a shorter one only brings a warning.
        group
            .measurement_time(Duration::from_micros(30 * n as u64))
            .throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("set_new_key", n), |b| {
            b.iter_batched(
                || preloaded(n),
                |mut ks| {
                    for k in &new {
                        set(&mut ks, k, NOW);
                    }
                    ks
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs, so that the whole `cargo bench` stays within a couple of
    // minutes; the slow benchmarks shorten their own warm-up.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = operations, growth
}
criterion_main!(benches);
