//! Mayfly's commands: the declarative command table and one module per command
//! family (strings, counters, lcs, object, keyspace, expire, connection, client, config, debug,
//! introspection, slowlog, latency, monitor), each parsing
//! its arguments with Redis 7's exact errors and executing on one shard's data.
//!
//! This crate decides *what* a command does; the `server` crate decides
//! *where* it runs (which shard, over which channel). It depends on `resp` for
//! arguments and reply encoding and on `store` for the data, and must never
//! depend on sockets, glommio or the server.

mod client;
mod cluster;
mod cmdstats;
pub mod config;
mod connection;
mod counters;
mod debug;
mod error;
mod expire;
mod generated_docs;
mod histogram;
mod info;
mod introspection;
mod keyspace;
mod latency;
mod lcs;
mod long_double;
mod monitor;
mod multikey;
mod number;
mod object;
mod scan;
pub mod settings;
mod slowlog;
mod strings;
mod table;

pub use client::client as client_command;
pub use client::{
    client_query, ClientInfo, ClientQuery, ClientType, KillFilter, ListFilter, ReplyMode,
};
pub use cmdstats::{
    command_done, error_code, CommandId, CommandMetrics, CommandStats, Refusal, Stopwatch,
};
pub use config::config as config_command;
pub use config::reset_stats;
pub use connection::{Client, Password, ServerFacts};
pub use debug::{debug_help, debug_sleep, debug_subcommand_error};
pub use error::{subcommand_syntax_error, CommandError};
pub use histogram::{bucket_upper_bound, LatencyHistogram};
pub use info::{
    human_bytes, render_info, CpuTime, DbStats, InstantMetric, ProcessStats, RecentPeak,
    ShardStats, MAYFLY_ONLY,
};
pub use keyspace::{parse_copy, put_key, take_key, CopyArgs, Take};
pub use latency::{
    add_sample_if_needed, latency_part, latency_reply, Event as LatencyEvent, LatencyPart,
};
pub use lcs::lcs_reply;
pub use monitor::{monitor as monitor_command, monitor_args, monitor_line, refused_to_monitors};
pub use multikey::{mget_part, mset_part, msetnx_existing};
pub use object::debug_object;
pub use scan::{
    keys_part, next_cursor, parse_scan, pick_weighted, random_u64, randomkey_part, reply_scan,
    scan_part, split_cursor, ScanArgs,
};
pub use settings::{Settings, SETTINGS};
pub use slowlog::record as slowlog_record;
pub use slowlog::{redacted as redacted_args, slowlog_part, slowlog_reply, SlowLogPart};
pub use table::{
    cross_protocol_attack, lookup, unknown_command_error, BroadcastFn, Combine, CommandSpec,
    CountFn, Cross, Dispatch, KeyFn, KeyRange, Scatter, ServerOp, SubcommandSpec, TABLE,
};

use store::{Databases, UnixMillis};

/// The Redis version Mayfly is compatible with, reported by HELLO and INFO.
pub const REDIS_VERSION: &str = "7.0.15";

/// What an argument check may know besides the arguments.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// The number of databases.
    pub databases: usize,
    /// The client's selected database.
    pub db: usize,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            databases: usize::MAX,
            db: 0,
        }
    }
}

/// What a command running on a shard may touch: that shard's databases, the
/// database the client selected, the time of the batch, and the shard's stats.
pub struct ShardCtx<'a> {
    /// The shard's databases.
    pub dbs: &'a mut Databases,
    /// The client's selected database.
    pub db: usize,
    /// The wall-clock time of the batch being executed (read once per batch).
    pub now: UnixMillis,
    /// The shard's counters.
    pub stats: &'a mut ShardStats,
    /// The shard's run-time switches.
    pub settings: &'a mut ShardSettings,
}

/// A shard's run-time switches.
#[derive(Debug, Clone)]
pub struct ShardSettings {
    /// Whether the timer wheel reclaims expired keys (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: bool,
}

impl Default for ShardSettings {
    fn default() -> Self {
        Self {
            active_expire: true,
        }
    }
}

impl ShardCtx<'_> {
    /// The selected database.
    pub fn keyspace(&mut self) -> &mut store::Keyspace {
        self.dbs.db(self.db)
    }
}

#[cfg(test)]
mod testkit;

impl ShardCtx<'_> {
    /// Looks `key` up for reading, counting a keyspace hit or miss and
    /// recording an access (OBJECT IDLETIME restarts from 0).
    pub fn read(&mut self, key: &[u8]) -> Option<&store::Entry> {
        let found = self.dbs.db(self.db).get(key, self.now);
        count_lookup(self.stats, found.is_some());
        found
    }

    /// Looks `key` up for reading without recording an access (Redis's
    /// `LOOKUP_NOTOUCH`: TYPE, EXISTS, TTL, OBJECT), counting a hit or miss.
    pub fn read_untouched(&mut self, key: &[u8]) -> Option<&store::Entry> {
        let found = self.dbs.db(self.db).peek(key, self.now);
        count_lookup(self.stats, found.is_some());
        found
    }
}

fn count_lookup(stats: &mut ShardStats, hit: bool) {
    if hit {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
    }
}
