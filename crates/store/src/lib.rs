//! One shard's data: the keyspace tables, values, the TTL timer wheel and
//! memory accounting.
//!
//! This crate is pure, single-threaded and synchronous: every function takes
//! the current time as an argument (unix milliseconds), so tests drive it with
//! a fake clock. It must never depend on sockets, glommio, the wire protocol
//! or the command table.

mod hash;
mod keyspace;
pub mod memory;
mod value;
mod wheel;

pub use hash::{key_hash, shard_of};
pub use keyspace::{Entry, ExpireOutcome, Keyspace};
pub use value::Value;
pub use wheel::TimerWheel;

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
        Self { dbs: (0..count).map(|_| Keyspace::new()).collect() }
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
