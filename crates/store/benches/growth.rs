//! Growth stalls: the latency of every single insert while one shard's
//! keyspace grows to millions of keys, segmented (Mayfly's keyspace) and as
//! one table (the baseline a non-segmented design would have).
//!
//! A hash table that doubles rehashes everything it holds in one insert;
//! the segmented keyspace rehashes 1/1024 of it at a time. This prints, for
//! each, the slowest insert, the 99.99th and 99.9th percentiles and the
//! total time. Run: `cargo bench -p store --bench growth [-- KEYS]`
//! (default 5,000,000 keys of 16 bytes with 32-byte values, as in
//! `scripts/bench`'s growth workload).

use std::time::Instant;
use store::Keyspace;

const NOW: u64 = 1_700_000_000_000;

fn main() {
    let keys: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let value = [b'v'; 32];
    println!("inserting {keys} keys (16-byte keys, 32-byte values) into one keyspace");
    for (name, mut ks) in [
        ("segmented (1024 tables)", Keyspace::new()),
        ("single table (baseline)", Keyspace::with_segments(1)),
    ] {
        let mut nanos = Vec::with_capacity(keys);
        let start = Instant::now();
        for i in 0..keys {
            let key = format!("key:{i:012}");
            let t = Instant::now();
            ks.set_string(key.as_bytes(), &value, None, NOW);
            nanos.push(t.elapsed().as_nanos() as u64);
        }
        let total = start.elapsed();
        nanos.sort_unstable();
        let at = |q: f64| nanos[((nanos.len() as f64 * q) as usize).min(nanos.len() - 1)];
        println!(
            "{name:<24} max {:>9.3} ms  p99.99 {:>8.3} ms  p99.9 {:>8.3} ms  total {:>6.2} s",
            nanos[nanos.len() - 1] as f64 / 1e6,
            at(0.9999) as f64 / 1e6,
            at(0.999) as f64 / 1e6,
            total.as_secs_f64(),
        );
    }
}
