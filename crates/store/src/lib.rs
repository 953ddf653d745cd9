//! One shard's data: the keyspace tables, values, the TTL timer wheel and
//! memory accounting.
//!
//! This crate is pure, single-threaded and synchronous: every function takes
//! the current time as an argument (unix milliseconds), so tests drive it with
//! a fake clock. It must never depend on sockets, glommio, the wire protocol
//! or the command table.

mod entry;
mod glob;
mod hash;
mod keyspace;
pub mod memory;
mod value;
mod wheel;

pub use entry::{Entry, EntryMut, EntryParts, ValueMut};
pub use glob::glob_match;
pub use hash::{hash_tag, key_hash, key_slot, shard_of, shard_of_hash, CLUSTER_SLOTS};
pub use keyspace::{ExpireOutcome, Keyspace, MAX_DEADLINE, SCAN_SEGMENT_FRACTION, SEGMENTS};
pub use value::{Encoding, Value, ValueRef};
pub use wheel::{Advance, TimerWheel};

/// A point in time: milliseconds since the unix epoch.
pub type UnixMillis = u64;

/// The current wall-clock time in unix milliseconds.
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMillis)
        .unwrap_or(0)
}

/// All databases (`SELECT 0..n`) of one shard. A database's keyspace is
/// created the first time it is used, so `--databases 100000` costs nothing
/// until the databases are, and the expiry tick visits only those in use.
pub struct Databases {
    dbs: Vec<Option<Box<Keyspace>>>,
    /// Segments per keyspace (see [`Keyspace::with_segments`]).
    segments: usize,
}

impl Databases {
    /// `count` databases, none created yet.
    pub fn new(count: usize) -> Self {
        Self::with_segments(count, SEGMENTS)
    }

    /// `count` databases of `segments` segments each (benchmarks only).
    pub fn with_segments(count: usize, segments: usize) -> Self {
        Self {
            dbs: (0..count).map(|_| None).collect(),
            segments,
        }
    }

    /// Number of databases.
    pub fn count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`, created empty if it was never used; callers validate
    /// `index < count()` (SELECT does).
    pub fn db(&mut self, index: usize) -> &mut Keyspace {
        let segments = self.segments;
        self.dbs[index].get_or_insert_with(|| Box::new(Keyspace::with_segments(segments)))
    }

    /// Swaps databases `a` and `b` (SWAPDB), created or not; callers
    /// validate both `< count()`.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    /// The databases in use, for FLUSHALL and active expiry.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Keyspace> {
        self.dbs.iter_mut().flatten().map(|db| &mut **db)
    }

    /// Bytes the shard's data holds on the heap: the list of databases and
    /// every database in use, with its tables and the heap blocks of its
    /// keys and values ([`Keyspace::memory_bytes`]). INFO's per-shard
    /// `keyspace_memory`.
    pub fn memory_bytes(&self) -> usize {
        let keyspaces: usize = self
            .iter()
            .map(|(_, db)| std::mem::size_of::<Keyspace>() + db.memory_bytes())
            .sum();
        self.dbs.capacity() * std::mem::size_of::<Option<Box<Keyspace>>>() + keyspaces
    }

    /// The databases in use with their indexes, read-only.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Keyspace)> {
        self.dbs
            .iter()
            .enumerate()
            .filter_map(|(i, db)| Some((i, &**db.as_ref()?)))
    }
}

#[cfg(test)]
mod databases_tests {
    use super::*;

    #[test]
    fn databases_are_created_on_first_use() {
        let mut dbs = Databases::new(100_000);
        assert_eq!(dbs.count(), 100_000);
        assert_eq!(dbs.iter().count(), 0);
        dbs.db(7).set(b"k", Value::String(b"v".to_vec()), None, 1);
        let used: Vec<usize> = dbs.iter().map(|(i, _)| i).collect();
        assert_eq!(used, vec![7]);
        assert_eq!(dbs.iter_mut().count(), 1);
        assert!(dbs.db(7).get(b"k", 1).is_some());
    }

    #[test]
    fn swap_exchanges_databases_created_or_not() {
        let mut dbs = Databases::new(16);
        dbs.db(1).set(b"k", Value::String(b"v".to_vec()), None, 1);
        dbs.swap(1, 5);
        assert!(dbs.db(1).get(b"k", 1).is_none());
        assert!(dbs.db(5).get(b"k", 1).is_some());
        dbs.swap(5, 5);
        assert!(dbs.db(5).get(b"k", 1).is_some());
    }
}

/// Helpers shared by this crate's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A tiny deterministic generator (xorshift64*), so tests need no crate.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }

        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform-ish in `0..n` (`n > 0`).
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A fixed "now" for tests: 2023-11-14, a multiple of 64 ms.
    pub(crate) const T0: u64 = 1_700_000_000_000;
}
