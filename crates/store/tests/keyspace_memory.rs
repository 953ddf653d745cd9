//! `Databases::memory_bytes` against the counting allocator: after every
//! operation of a random workload, the bytes the shard's data is said to
//! hold are exactly the bytes allocated since the databases were created.
//!
//! Its own binary, without libtest's harness (`harness = false` in
//! Cargo.toml): one thread, so that nothing else allocates between two
//! readings of the allocator's total.

use store::memory::{allocated_bytes, CountingAllocator};
use store::{Databases, Encoding, EntryParts, Value};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A fixed "now": 2023-11-14.
const T0: u64 = 1_700_000_000_000;

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn main() {
    // Keys and value bytes made before the first reading, kept to the end.
    let keys: Vec<Vec<u8>> = (0..2_000u64)
        .map(|id| match id % 4 {
            0 => format!("a-key-too-long-to-share-its-entry-with-any-value:{id:08}"),
            _ => format!("k{id}"),
        })
        .map(String::into_bytes)
        .collect();
    let bytes = vec![b'7'; 4096];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = T0;

    let base = allocated_bytes();
    let mut dbs = Databases::with_segments(4, 64);
    let check = |dbs: &Databases, step: usize| {
        let allocated = allocated_bytes() - base;
        assert_eq!(dbs.memory_bytes(), allocated, "step {step}");
    };
    check(&dbs, 0);
    let mut peak = 0;
    for step in 1..=100_000 {
        now += rng.below(3);
        let db = rng.below(4) as usize;
        let key = &keys[rng.below(keys.len() as u64) as usize];
        // Grow for the first half, then mostly delete.
        let growing = step < 50_000;
        match rng.below(100) {
            0..=29 if growing => {
                let len = [1, 10, 40, 48, 100, 1000, 4000][rng.below(7) as usize];
                let deadline = (rng.below(3) == 0).then(|| now + 1 + rng.below(2_000));
                if rng.below(2) == 0 {
                    dbs.db(db).set_string(key, &bytes[..len], deadline, now);
                } else {
                    let mut v = Vec::with_capacity(len + rng.below(100) as usize);
                    v.extend_from_slice(&bytes[..len]);
                    dbs.db(db).set(key, Value::String(v), deadline, now);
                }
            }
            30..=39 => {
                if let Some(mut e) = dbs.db(db).get_mut(key, now) {
                    {
                        let Value::String(v) = &mut *e.value_mut();
                        let n = rng.below(200) as usize;
                        v.extend_from_slice(&bytes[..n]);
                        if rng.below(4) == 0 {
                            v.shrink_to_fit();
                        }
                    }
                    e.set_encoding(Encoding::Raw);
                }
            }
            40..=46 => {
                if let Some(mut e) = dbs.db(db).get_mut(key, now) {
                    let n = [1, 20, 45, 60, 300][rng.below(5) as usize];
                    e.set_string(&bytes[..n]);
                }
            }
            47..=69 => drop(dbs.db(db).remove(key, now)),
            70..=76 => {
                let deadline = (rng.below(4) != 0).then(|| now + rng.below(500));
                dbs.db(db).set_deadline(key, deadline, now);
            }
            77..=82 => {
                let (to, dst) = (rng.below(4) as usize, &keys[rng.below(2000) as usize]);
                if let Some(entry) = dbs.db(db).remove(key, now) {
                    drop(dbs.db(to).insert_parts(dst, entry.into_parts(), now));
                }
            }
            83..=86 if growing => {
                let dst = &keys[rng.below(2000) as usize];
                let parts = dbs.db(db).get(key, now).map(|e| EntryParts {
                    value: e.value().to_owned(),
                    deadline: e.deadline(),
                    encoding: e.encoding().of_copy(),
                    access_secs: e.access_secs(),
                });
                if let Some(parts) = parts {
                    drop(dbs.db(rng.below(4) as usize).insert_parts(dst, parts, now));
                }
            }
            87..=89 => dbs.swap(db, rng.below(4) as usize),
            90..=95 => {
                dbs.db(db)
                    .expire_due(now, [1, 50, usize::MAX][rng.below(3) as usize]);
            }
            96 => drop(dbs.db(db).peek(key, now)),
            97 if step % 1000 == 0 => dbs.db(db).clear(),
            _ => {}
        }
        check(&dbs, step);
        peak = peak.max(dbs.memory_bytes());
    }
    let heap: usize = dbs.iter().map(|(_, ks)| ks.heap_bytes()).sum();
    assert!(peak > 1 << 20, "the workload held {peak} bytes at most");
    assert!(heap > 0, "it ends with keys on the heap");
    for ks in dbs.iter_mut() {
        ks.clear();
    }
    check(&dbs, usize::MAX);
    drop(dbs);
    assert_eq!(allocated_bytes(), base, "everything freed");
    println!("keyspace memory matched the allocator at every step (peak {peak} bytes)");
}
