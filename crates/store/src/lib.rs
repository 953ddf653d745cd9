//! One shard's data: the keyspace tables, values, the TTL timer wheel and
//! memory accounting.
//!
//! This crate is pure, single-threaded and synchronous: every function takes
//! the current time as an argument (unix milliseconds), so tests drive it with
//! a fake clock. It must never depend on sockets, glommio, the wire protocol
//! or the command table.

mod hash;
mod key;
mod keyspace;
pub mod memory;
mod value;
mod wheel;

pub use hash::{hash_tag, key_hash, shard_of, shard_of_hash};
pub use keyspace::{Entry, ExpireOutcome, Keyspace, MAX_DEADLINE};
pub use value::Value;
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

/// All databases (`SELECT 0..n`) of one shard.
pub struct Databases {
    dbs: Vec<Keyspace>,
}

impl Databases {
    /// `count` empty databases.
    pub fn new(count: usize) -> Self {
        Self {
            dbs: (0..count).map(|_| Keyspace::new()).collect(),
        }
    }

    /// Number of databases.
    pub fn count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`; callers validate `index < count()` (SELECT does).
    pub fn db(&mut self, index: usize) -> &mut Keyspace {
        &mut self.dbs[index]
    }

    /// All databases, for INFO and active expiry.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Keyspace> {
        self.dbs.iter_mut()
    }

    /// All databases, read-only.
    pub fn iter(&self) -> impl Iterator<Item = &Keyspace> {
        self.dbs.iter()
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
