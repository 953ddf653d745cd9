//! INFO: statistics gathered from every shard and from the process,
//! rendered in Redis 7.0's `# Section` / `field:value` format so that Redis
//! dashboards and exporters read them unchanged.
//!
//! Each section prints Redis's fields in Redis's order. A field is printed
//! where Mayfly has the same meaning, with a true value. Where Mayfly does
//! not do the thing a field measures (persistence, replication, Lua,
//! forks, modules, defragmentation, pub/sub) the field says what Redis says
//! when it does not do it either (`aof_enabled:0`, `role:master`,
//! `connected_slaves:0`, `used_memory_lua:0`). A field whose figure Mayfly
//! does not have is left out rather than invented: `redis_build_id`,
//! `atomicvar_api`, `used_memory_overhead`, `used_memory_dataset(_perc)`,
//! jemalloc's `allocator_*`, `rss_overhead_*`, `mem_clients_normal`,
//! `rdb_changes_since_last_save` (no change counter), `repl_backlog_size`
//! (no backlog), `expired_stale_perc`, `total_eviction_exceeded_time`,
//! `current_eviction_exceeded_time`, `reply_buffer_shrinks/expands`.
//! Mayfly's own fields come last in their section ([`MAYFLY_ONLY`]), and
//! `# Shards` is Mayfly's own section.

use crate::{REDIS_VERSION, SETTINGS};
use resp::Args;
use std::fmt::{Display, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Fields Mayfly prints that Redis has not (in the section named first).
pub const MAYFLY_ONLY: &[(&str, &str)] = &[("server", "mayfly_version"), ("server", "shards")];

/// Samples of an instantaneous metric Redis keeps (`STATS_METRIC_SAMPLES`).
const INSTANT_SAMPLES: usize = 16;
/// Seconds over which `client_recent_max_*_buffer` look back
/// (`CLIENTS_PEAK_MEM_USAGE_SLOTS`).
const PEAK_SLOTS: usize = 8;

/// One database's figures on one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Keys stored, as Redis counts them: expired keys that the timer
    /// wheel has not reclaimed yet included.
    pub keys: usize,
    /// Keys with a TTL.
    pub expires: usize,
    /// The sum of those keys' deadlines (unix ms), for `avg_ttl`.
    pub deadline_sum: u128,
}

/// CPU time used, as `getrusage(2)` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time in the kernel.
    pub system: Duration,
    /// Time in user space.
    pub user: Duration,
}

/// Redis's instantaneous metric (`trackInstantaneousMetric`): a counter
/// sampled every 100 ms; the rate is the mean of the last 16 samples' rates.
#[derive(Debug, Clone, Default)]
pub struct InstantMetric {
    samples: [u64; INSTANT_SAMPLES],
    next: usize,
    last_time: u64,
    last_count: u64,
}

impl InstantMetric {
    /// Records `count` (the counter's value) at `now_ms`.
    pub fn sample(&mut self, count: u64, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_time);
        let added = count.saturating_sub(self.last_count);
        self.samples[self.next] = added.saturating_mul(1000).checked_div(elapsed).unwrap_or(0);
        self.next = (self.next + 1) % INSTANT_SAMPLES;
        self.last_time = now_ms;
        self.last_count = count;
    }

    /// Per second, over the last 16 samples.
    pub fn per_second(&self) -> u64 {
        self.samples.iter().sum::<u64>() / INSTANT_SAMPLES as u64
    }

    /// Forgets every sample; the next one counts from `count` at `now_ms`.
    fn restart(&mut self, count: u64, now_ms: u64) {
        *self = InstantMetric {
            last_time: now_ms,
            last_count: count,
            ..InstantMetric::default()
        };
    }
}

/// The largest size seen in each of the last 8 seconds (Redis's
/// `ClientsPeakMemInput/Output`): [`RecentPeak::note`] raises the current
/// second's, and the shard's tick moves on each second.
#[derive(Debug, Clone, Default)]
pub struct RecentPeak {
    slots: [usize; PEAK_SLOTS],
    current: usize,
}

impl RecentPeak {
    /// A buffer of `bytes` was seen now.
    #[inline]
    pub fn note(&mut self, bytes: usize) {
        let slot = &mut self.slots[self.current];
        *slot = (*slot).max(bytes);
    }

    /// A second has passed: the oldest second is forgotten.
    pub fn next_second(&mut self) {
        self.current = (self.current + 1) % PEAK_SLOTS;
        self.slots[self.current] = 0;
    }

    /// The largest size of the last 8 seconds.
    pub fn max(&self) -> usize {
        self.slots.iter().copied().max().unwrap_or(0)
    }
}

/// Counters one shard (one executor thread) keeps, plus a snapshot of its
/// keyspace and thread taken when INFO asks.
#[derive(Debug, Clone, Default)]
pub struct ShardStats {
    /// Per database in use, by index. Filled in by [`ShardStats::snapshot`].
    pub databases: Vec<(usize, DbStats)>,
    /// Keys deleted by expiry, lazily or by the timer wheel.
    pub expired_keys: u64,
    /// The keyspaces' expiry total at the last CONFIG RESETSTAT, subtracted
    /// from it in [`ShardStats::snapshot`].
    pub expired_keys_before_reset: u64,
    /// Times the expiry tick stopped at its budget with due keys left
    /// (Redis's `expired_time_cap_reached_count`).
    pub expire_cycles_cut: u64,
    /// Time spent in the expiry tick, in microseconds.
    pub expire_cycle_micros: u64,
    /// Reads that found their key.
    pub keyspace_hits: u64,
    /// Reads that did not.
    pub keyspace_misses: u64,
    /// Commands this thread's connections ran.
    pub commands_processed: u64,
    /// Commands and parts of multi-shard commands run on this shard's data,
    /// whichever thread's connection sent them.
    pub ops: u64,
    /// Connections this thread accepted.
    pub connections_received: u64,
    /// Connections open on this thread now.
    pub connected_clients: u64,
    /// Connections this thread refused because `maxclients` were connected.
    pub rejected_connections: u64,
    /// Bytes this thread's connections read.
    pub net_input_bytes: u64,
    /// Bytes they wrote.
    pub net_output_bytes: u64,
    /// Reads they did (each read that returned, end of stream included).
    pub reads_processed: u64,
    /// Writes of a batch's replies they did.
    pub writes_processed: u64,
    /// `instantaneous_ops_per_sec`'s samples of `commands_processed`.
    pub ops_rate: InstantMetric,
    /// `instantaneous_input_kbps`' samples of `net_input_bytes`.
    pub input_rate: InstantMetric,
    /// `instantaneous_output_kbps`' samples of `net_output_bytes`.
    pub output_rate: InstantMetric,
    /// Largest unparsed input a connection held, per second.
    pub input_peak: RecentPeak,
    /// Largest batch of replies a connection wrote, per second.
    pub output_peak: RecentPeak,
    /// Batches of plain jobs this shard received from other shards' connections:
    /// one per connection read and destination shard ("pipeline squashing").
    pub peer_batches: u64,
    /// The jobs in those batches.
    pub peer_jobs: u64,
    /// Mesh messages this shard sent to others (snapshot only).
    pub mesh_sent: u64,
    /// Mesh messages it received from others (snapshot only).
    pub mesh_received: u64,
    /// Bytes the shard's data holds: its databases' tables and the heap
    /// blocks of their keys and values (snapshot only; see
    /// `store::Databases::memory_bytes`). Exact whichever thread allocated
    /// or frees them; the process's other memory (connections, buffers,
    /// the mesh) is in `used_memory` only.
    pub keyspace_memory: usize,
    /// CPU time of its thread (snapshot only).
    pub cpu: CpuTime,
    /// Per-command calls, durations, failures and refusals, and error
    /// replies by code, of the commands this thread ran or refused.
    pub commands: crate::CommandStats,
}

impl ShardStats {
    /// A copy of the counters with the keyspace figures of `dbs` and the
    /// memory they hold. Reading them reclaims nothing, so INFO shows what
    /// active expiry has done.
    pub fn snapshot(&self, dbs: &store::Databases) -> ShardStats {
        let mut out = self.clone();
        out.keyspace_memory = dbs.memory_bytes();
        out.databases.clear();
        out.expired_keys = 0;
        for (index, db) in dbs.iter() {
            let stats = DbStats {
                keys: db.len(),
                expires: db.expires_len(),
                deadline_sum: db.deadline_sum(),
            };
            out.databases.push((index, stats));
            out.expired_keys += db.expired_total();
        }
        out.expired_keys = out
            .expired_keys
            .saturating_sub(self.expired_keys_before_reset);
        out
    }

    /// Counts one read of `bytes` by a connection that then holds
    /// `buffered` unparsed bytes.
    #[inline]
    pub fn count_read(&mut self, bytes: usize, buffered: usize) {
        self.net_input_bytes += bytes as u64;
        self.reads_processed += 1;
        self.input_peak.note(buffered);
    }

    /// Counts one write of `bytes`.
    #[inline]
    pub fn count_write(&mut self, bytes: usize) {
        self.net_output_bytes += bytes as u64;
        self.writes_processed += 1;
        self.output_peak.note(bytes);
    }

    /// Samples the instantaneous metrics (every 100 ms, as Redis).
    pub fn sample_rates(&mut self, now_ms: u64) {
        self.ops_rate.sample(self.commands_processed, now_ms);
        self.input_rate.sample(self.net_input_bytes, now_ms);
        self.output_rate.sample(self.net_output_bytes, now_ms);
    }

    /// CONFIG RESETSTAT: zeroes the counters Redis's `resetServerStats`
    /// zeroes, and Mayfly's per-shard ones. The expiry total lives in the
    /// keyspaces: the caller records it in `expired_keys_before_reset`.
    pub fn reset_counters(&mut self, now_ms: u64) {
        self.keyspace_hits = 0;
        self.keyspace_misses = 0;
        self.commands_processed = 0;
        self.ops = 0;
        self.connections_received = 0;
        self.rejected_connections = 0;
        self.net_input_bytes = 0;
        self.net_output_bytes = 0;
        self.reads_processed = 0;
        self.writes_processed = 0;
        self.expire_cycles_cut = 0;
        self.expire_cycle_micros = 0;
        self.peer_batches = 0;
        self.peer_jobs = 0;
        self.commands.reset();
        self.ops_rate.restart(0, now_ms);
        self.input_rate.restart(0, now_ms);
        self.output_rate.restart(0, now_ms);
    }

    /// Keys over every database.
    pub fn keys(&self) -> usize {
        self.databases.iter().map(|(_, db)| db.keys).sum()
    }

    /// Keys with a TTL over every database.
    pub fn expires(&self) -> usize {
        self.databases.iter().map(|(_, db)| db.expires).sum()
    }
}

/// Process-wide facts for INFO.
#[derive(Debug, Clone, Default)]
pub struct ProcessStats {
    /// Mayfly's own version.
    pub mayfly_version: &'static str,
    /// `uname -s -r -m`, as Redis's `os:`.
    pub os: String,
    /// TCP port.
    pub port: u16,
    /// The time of this INFO, unix microseconds.
    pub now_us: u64,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// When the server started, unix seconds.
    pub started_unix: u64,
    /// Random id of this run (40 hex chars).
    pub run_id: String,
    /// This dataset's replication id (40 hex chars): random per start, as a
    /// Redis master's that never replicated.
    pub replid: String,
    /// Path of the executable.
    pub executable: String,
    /// Path of the configuration file; empty: none.
    pub config_file: String,
    /// Started by systemd with `NOTIFY_SOCKET` (Redis's `supervised systemd`).
    pub supervised_by_systemd: bool,
    /// `--cluster-mode emulated`.
    pub cluster_enabled: bool,
    /// Bytes allocated by the process.
    pub used_memory: usize,
    /// Highest `used_memory` seen.
    pub used_memory_peak: usize,
    /// `used_memory` once every shard was ready.
    pub used_memory_startup: usize,
    /// Resident set size.
    pub used_memory_rss: usize,
    /// Physical memory of the machine.
    pub total_system_memory: u64,
    /// CPU time of the whole process.
    pub cpu: CpuTime,
    /// CPU time of its terminated children (none: Mayfly never forks).
    pub cpu_children: CpuTime,
    /// CPU time of the thread that runs this INFO: a shard's, since every
    /// shard's thread does what Redis's main thread does for its clients.
    pub cpu_this_thread: CpuTime,
}

/// What every section renders from.
struct Report<'a> {
    shards: &'a [ShardStats],
    process: &'a ProcessStats,
    /// Every shard's command accounting, merged.
    commands: crate::CommandStats,
}

impl Report<'_> {
    fn sum(&self, f: impl Fn(&ShardStats) -> u64) -> u64 {
        self.shards.iter().map(f).sum()
    }
}

/// One INFO section.
struct Section {
    /// Its name in `INFO <name>`.
    name: &'static str,
    /// Another name that selects it (`module_list` for `modules`).
    alias: Option<&'static str>,
    /// Part of plain `INFO` and `INFO default`.
    default: bool,
    render: fn(&mut Text, &Report),
}

/// Every section, in Redis 7.0's order. `all` and `everything` print them
/// all; `commandstats`, `errorstats` (default) and `latencystats` come from
/// the command accounting (`cmdstats.rs`).
const SECTIONS: &[Section] = &[
    section("server", true, server),
    section("clients", true, clients),
    section("memory", true, memory),
    section("persistence", true, persistence),
    section("stats", true, stats),
    section("replication", true, replication),
    section("cpu", true, cpu),
    Section {
        alias: Some("module_list"),
        ..section("modules", true, modules)
    },
    section("commandstats", false, |t, r| {
        r.commands.render_commandstats(&mut t.0)
    }),
    section("errorstats", true, |t, r| {
        r.commands.render_errorstats(&mut t.0)
    }),
    section("latencystats", false, |t, r| {
        r.commands.render_latencystats(&mut t.0)
    }),
    section("cluster", true, cluster),
    section("keyspace", true, keyspace),
    // Mayfly's own, shown by default: its users look for it there.
    section("shards", true, shards),
];

const fn section(name: &'static str, default: bool, render: fn(&mut Text, &Report)) -> Section {
    Section {
        name,
        alias: None,
        default,
        render,
    }
}

/// Renders INFO for the sections asked in `args[1..]`, selected as Redis
/// 7.0's `genInfoSectionDict` does: none or `default` is the default set,
/// `all` and `everything` are every section (Mayfly has no modules to add
/// theirs), other names pick their section whatever their case, and
/// unknown names pick nothing. Sections come in Redis's order, each once.
pub fn render_info(args: &Args, shards: &[ShardStats], process: &ProcessStats) -> String {
    let mut all = false;
    let mut default = args.len() == 1;
    let mut named: Vec<String> = Vec::new();
    for arg in args.iter().skip(1) {
        let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match arg.as_str() {
            "default" => default = true,
            "all" | "everything" => all = true,
            _ => named.push(arg),
        }
    }
    let report = Report {
        shards,
        process,
        commands: crate::CommandStats::merged(shards.iter().map(|s| &s.commands)),
    };
    let mut text = Text(String::new());
    for s in SECTIONS {
        let picked = named
            .iter()
            .any(|n| n == s.name || Some(n.as_str()) == s.alias);
        if all || (default && s.default) || picked {
            if !text.0.is_empty() {
                text.0.push_str("\r\n");
            }
            (s.render)(&mut text, &report);
        }
    }
    text.0
}

/// INFO text being written.
struct Text(String);

impl Text {
    fn header(&mut self, title: &str) {
        self.0.push_str("# ");
        self.0.push_str(title);
        self.0.push_str("\r\n");
    }

    fn field(&mut self, name: &str, value: impl Display) {
        // `write!` into a String cannot fail.
        let _ = write!(self.0, "{name}:{value}\r\n");
    }

    /// Fields whose value is the same whenever Mayfly runs.
    fn fixed(&mut self, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            self.field(name, value);
        }
    }
}

fn server(t: &mut Text, r: &Report) {
    let p = r.process;
    t.header("Server");
    t.field("redis_version", REDIS_VERSION);
    // What Redis says when it was not built from a git checkout.
    t.fixed(&[("redis_git_sha1", "00000000"), ("redis_git_dirty", "0")]);
    let mode = if p.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    t.field("redis_mode", mode);
    t.field("os", &p.os);
    t.field("arch_bits", usize::BITS);
    // std's Instant is clock_gettime(CLOCK_MONOTONIC).
    t.field("monotonic_clock", "POSIX clock_gettime");
    t.field("multiplexing_api", "io_uring");
    // Redis's figure when not built by GCC.
    t.field("gcc_version", "0.0.0");
    t.field("process_id", std::process::id());
    let supervised = if p.supervised_by_systemd {
        "systemd"
    } else {
        "no"
    };
    t.field("process_supervised", supervised);
    t.field("run_id", &p.run_id);
    t.field("tcp_port", p.port);
    t.field("server_time_usec", p.now_us);
    t.field("uptime_in_seconds", p.uptime_seconds);
    t.field("uptime_in_days", p.uptime_seconds / 86400);
    // Each shard's tick (expiry, idle clients, rates) runs every 10 ms.
    t.fixed(&[("hz", "100"), ("configured_hz", "100")]);
    // Redis's LRU clock: seconds, 24 bits; keys' access times use the same.
    t.field("lru_clock", (p.now_us / 1_000_000) & ((1 << 24) - 1));
    t.field("executable", &p.executable);
    t.field("config_file", &p.config_file);
    // Every shard does its own I/O: there are no I/O threads.
    t.field("io_threads_active", 0);
    t.field("mayfly_version", p.mayfly_version);
    t.field("shards", r.shards.len());
}

fn clients(t: &mut Text, r: &Report) {
    t.header("Clients");
    t.field("connected_clients", r.sum(|s| s.connected_clients));
    // No cluster bus, even with --cluster-mode emulated.
    t.field("cluster_connections", 0);
    t.field("maxclients", SETTINGS.maxclients.load(Relaxed));
    let peak = |f: fn(&ShardStats) -> &RecentPeak| r.shards.iter().map(|s| f(s).max()).max();
    t.field(
        "client_recent_max_input_buffer",
        peak(|s| &s.input_peak).unwrap_or(0),
    );
    t.field(
        "client_recent_max_output_buffer",
        peak(|s| &s.output_peak).unwrap_or(0),
    );
    // No blocking commands, no client tracking.
    t.fixed(&[
        ("blocked_clients", "0"),
        ("tracking_clients", "0"),
        ("clients_in_timeout_table", "0"),
    ]);
}

fn memory(t: &mut Text, r: &Report) {
    let p = r.process;
    t.header("Memory");
    let bytes = |t: &mut Text, name: &str, n: usize| {
        t.field(name, n);
        t.field(&format!("{name}_human"), human_bytes(n as u64));
    };
    bytes(t, "used_memory", p.used_memory);
    bytes(t, "used_memory_rss", p.used_memory_rss);
    bytes(t, "used_memory_peak", p.used_memory_peak);
    t.field(
        "used_memory_peak_perc",
        format_args!("{:.2}%", percent(p.used_memory, p.used_memory_peak)),
    );
    t.field("used_memory_startup", p.used_memory_startup);
    t.field("total_system_memory", p.total_system_memory);
    t.field(
        "total_system_memory_human",
        human_bytes(p.total_system_memory),
    );
    // No Lua, no functions: their memory is 0.
    t.fixed(&[
        ("used_memory_lua", "0"),
        ("used_memory_vm_eval", "0"),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", "0"),
        ("number_of_cached_scripts", "0"),
        ("number_of_functions", "0"),
        ("number_of_libraries", "0"),
        ("used_memory_vm_functions", "0"),
        ("used_memory_vm_total", "0"),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", "0"),
        ("used_memory_scripts", "0"),
        ("used_memory_scripts_human", "0B"),
    ]);
    let maxmemory = SETTINGS.maxmemory.load(Relaxed);
    t.field("maxmemory", maxmemory);
    t.field("maxmemory_human", human_bytes(maxmemory));
    // Above maxmemory, commands that may add memory are refused.
    t.field("maxmemory_policy", "noeviction");
    let ratio = if p.used_memory > 0 {
        p.used_memory_rss as f64 / p.used_memory as f64
    } else {
        0.0
    };
    t.field("mem_fragmentation_ratio", format_args!("{ratio:.2}"));
    t.field(
        "mem_fragmentation_bytes",
        p.used_memory_rss as i64 - p.used_memory as i64,
    );
    // No replication, no AOF, no cluster bus; keys are freed at once
    // (UNLINK too), and nothing is defragmented.
    t.fixed(&[
        ("mem_not_counted_for_evict", "0"),
        ("mem_replication_backlog", "0"),
        ("mem_total_replication_buffers", "0"),
        ("mem_clients_slaves", "0"),
        ("mem_cluster_links", "0"),
        ("mem_aof_buffer", "0"),
        // The system allocator, counted by store::memory::CountingAllocator.
        ("mem_allocator", "libc"),
        ("active_defrag_running", "0"),
        ("lazyfree_pending_objects", "0"),
        ("lazyfreed_objects", "0"),
    ]);
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn persistence(t: &mut Text, r: &Report) {
    // Mayfly does not persist: what a Redis that never saved says, with
    // the start time as the last save time, as Redis's.
    t.header("Persistence");
    t.fixed(&[
        ("loading", "0"),
        ("async_loading", "0"),
        ("current_cow_peak", "0"),
        ("current_cow_size", "0"),
        ("current_cow_size_age", "0"),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", "0"),
        ("current_save_keys_total", "0"),
        ("rdb_bgsave_in_progress", "0"),
    ]);
    t.field("rdb_last_save_time", r.process.started_unix);
    t.fixed(&[
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", "-1"),
        ("rdb_current_bgsave_time_sec", "-1"),
        ("rdb_saves", "0"),
        ("rdb_last_cow_size", "0"),
        ("rdb_last_load_keys_expired", "0"),
        ("rdb_last_load_keys_loaded", "0"),
        ("aof_enabled", "0"),
        ("aof_rewrite_in_progress", "0"),
        ("aof_rewrite_scheduled", "0"),
        ("aof_last_rewrite_time_sec", "-1"),
        ("aof_current_rewrite_time_sec", "-1"),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", "0"),
        ("aof_rewrites_consecutive_failures", "0"),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", "0"),
        ("module_fork_in_progress", "0"),
        ("module_fork_last_cow_size", "0"),
    ]);
}

fn stats(t: &mut Text, r: &Report) {
    t.header("Stats");
    t.field(
        "total_connections_received",
        r.sum(|s| s.connections_received),
    );
    t.field("total_commands_processed", r.sum(|s| s.commands_processed));
    t.field(
        "instantaneous_ops_per_sec",
        r.sum(|s| s.ops_rate.per_second()),
    );
    t.field("total_net_input_bytes", r.sum(|s| s.net_input_bytes));
    t.field("total_net_output_bytes", r.sum(|s| s.net_output_bytes));
    t.fixed(&[
        ("total_net_repl_input_bytes", "0"),
        ("total_net_repl_output_bytes", "0"),
    ]);
    let kbps = |bytes: u64| format!("{:.2}", bytes as f64 / 1024.0);
    t.field(
        "instantaneous_input_kbps",
        kbps(r.sum(|s| s.input_rate.per_second())),
    );
    t.field(
        "instantaneous_output_kbps",
        kbps(r.sum(|s| s.output_rate.per_second())),
    );
    t.fixed(&[
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
    ]);
    t.field("rejected_connections", r.sum(|s| s.rejected_connections));
    t.fixed(&[
        ("sync_full", "0"),
        ("sync_partial_ok", "0"),
        ("sync_partial_err", "0"),
    ]);
    t.field("expired_keys", r.sum(|s| s.expired_keys));
    t.field(
        "expired_time_cap_reached_count",
        r.sum(|s| s.expire_cycles_cut),
    );
    t.field(
        "expire_cycle_cpu_milliseconds",
        r.sum(|s| s.expire_cycle_micros) / 1000,
    );
    // noeviction, and clients are never evicted.
    t.fixed(&[("evicted_keys", "0"), ("evicted_clients", "0")]);
    t.field("keyspace_hits", r.sum(|s| s.keyspace_hits));
    t.field("keyspace_misses", r.sum(|s| s.keyspace_misses));
    // No pub/sub, forks, MIGRATE, replicas, defragmentation or tracking.
    t.fixed(&[
        ("pubsub_channels", "0"),
        ("pubsub_patterns", "0"),
        ("pubsubshard_channels", "0"),
        ("latest_fork_usec", "0"),
        ("total_forks", "0"),
        ("migrate_cached_sockets", "0"),
        ("slave_expires_tracked_keys", "0"),
        ("active_defrag_hits", "0"),
        ("active_defrag_misses", "0"),
        ("active_defrag_key_hits", "0"),
        ("active_defrag_key_misses", "0"),
        ("total_active_defrag_time", "0"),
        ("current_active_defrag_time", "0"),
        ("tracking_total_keys", "0"),
        ("tracking_total_items", "0"),
        ("tracking_total_prefixes", "0"),
        // Errors in replication or AOF streams: neither exists.
        ("unexpected_error_replies", "0"),
    ]);
    t.field("total_error_replies", r.commands.error_replies());
    // No RESTORE: no payload is ever sanitized.
    t.field("dump_payload_sanitizations", 0);
    t.field("total_reads_processed", r.sum(|s| s.reads_processed));
    t.field("total_writes_processed", r.sum(|s| s.writes_processed));
    t.fixed(&[
        ("io_threaded_reads_processed", "0"),
        ("io_threaded_writes_processed", "0"),
    ]);
}

fn replication(t: &mut Text, r: &Report) {
    // A master without replicas that never was a replica.
    t.header("Replication");
    t.fixed(&[
        ("role", "master"),
        ("connected_slaves", "0"),
        ("master_failover_state", "no-failover"),
    ]);
    t.field("master_replid", &r.process.replid);
    t.fixed(&[
        ("master_replid2", "0000000000000000000000000000000000000000"),
        ("master_repl_offset", "0"),
        ("second_repl_offset", "-1"),
        ("repl_backlog_active", "0"),
        ("repl_backlog_first_byte_offset", "0"),
        ("repl_backlog_histlen", "0"),
    ]);
}

fn cpu(t: &mut Text, r: &Report) {
    let p = r.process;
    t.header("CPU");
    let time = |t: &mut Text, name: &str, d: Duration| {
        t.field(
            name,
            format_args!("{}.{:06}", d.as_secs(), d.subsec_micros()),
        );
    };
    time(t, "used_cpu_sys", p.cpu.system);
    time(t, "used_cpu_user", p.cpu.user);
    time(t, "used_cpu_sys_children", p.cpu_children.system);
    time(t, "used_cpu_user_children", p.cpu_children.user);
    time(t, "used_cpu_sys_main_thread", p.cpu_this_thread.system);
    time(t, "used_cpu_user_main_thread", p.cpu_this_thread.user);
}

fn modules(t: &mut Text, _: &Report) {
    t.header("Modules");
}

fn cluster(t: &mut Text, r: &Report) {
    t.header("Cluster");
    t.field("cluster_enabled", u8::from(r.process.cluster_enabled));
}

fn keyspace(t: &mut Text, r: &Report) {
    t.header("Keyspace");
    let mut totals: Vec<(usize, DbStats)> = Vec::new();
    for &(index, db) in r.shards.iter().flat_map(|s| &s.databases) {
        let total = match totals.iter_mut().find(|(i, _)| *i == index) {
            Some((_, total)) => total,
            None => {
                totals.push((index, DbStats::default()));
                &mut totals.last_mut().expect("just pushed").1
            }
        };
        total.keys += db.keys;
        total.expires += db.expires;
        total.deadline_sum += db.deadline_sum;
    }
    totals.sort_by_key(|(index, _)| *index);
    for (index, db) in totals.iter().filter(|(_, db)| db.keys > 0) {
        t.field(
            &format!("db{index}"),
            format_args!(
                "keys={},expires={},avg_ttl={}",
                db.keys,
                db.expires,
                avg_ttl(db, r.process.now_us / 1000)
            ),
        );
    }
}

/// The mean time to live of a database's keys with a TTL, in ms: exact,
/// from the sum of their deadlines (Redis estimates it by sampling). Keys
/// past their deadline that active expiry has not reclaimed yet (within
/// about 10 ms) count as 0, and so does a database without TTLs.
fn avg_ttl(db: &DbStats, now_ms: u64) -> u64 {
    if db.expires == 0 {
        return 0;
    }
    let mean = db.deadline_sum / db.expires as u128;
    u64::try_from(mean.saturating_sub(u128::from(now_ms))).unwrap_or(u64::MAX)
}

/// Mayfly's own section: one `shardN:` line per shard. `keyspace_memory`
/// is the bytes the shard's data holds ([`ShardStats::keyspace_memory`]),
/// a name of its own: Redis's `used_memory_dataset` is `used_memory` less
/// the overhead, the main tables included, which Mayfly's figure counts.
fn shards(t: &mut Text, r: &Report) {
    t.header("Shards");
    t.field("shards", r.shards.len());
    for (i, s) in r.shards.iter().enumerate() {
        t.field(
            &format!("shard{i}"),
            format_args!(
                "keys={},expires={},ops={},keyspace_memory={},mesh_sent={},mesh_received={},\
                 peer_batches={},peer_jobs={},connected_clients={},used_cpu_sys={:.6},\
                 used_cpu_user={:.6}",
                s.keys(),
                s.expires(),
                s.ops,
                s.keyspace_memory,
                s.mesh_sent,
                s.mesh_received,
                s.peer_batches,
                s.peer_jobs,
                s.connected_clients,
                s.cpu.system.as_secs_f64(),
                s.cpu.user.as_secs_f64(),
            ),
        );
    }
}

/// Redis's `bytesToHuman`: `123B`, `1.50K`, `2.00M` ... up to petabytes,
/// then bytes again.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    let mut scale = 1u128;
    for unit in UNITS {
        scale <<= 10;
        if (scale..scale << 10).contains(&u128::from(n)) {
            return format!("{:.2}{unit}", n as f64 / scale as f64);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(keys: usize, expires: usize) -> DbStats {
        DbStats {
            keys,
            expires,
            deadline_sum: 0,
        }
    }

    fn stats(dbs: Vec<(usize, DbStats)>) -> ShardStats {
        ShardStats {
            databases: dbs,
            connected_clients: 1,
            ..Default::default()
        }
    }

    fn info(args: &[&str], shards: &[ShardStats]) -> String {
        let mut all = vec!["INFO"];
        all.extend_from_slice(args);
        render_info(&Args::from_slices(&all), shards, &ProcessStats::default())
    }

    fn headers(text: &str) -> Vec<&str> {
        text.lines().filter(|l| l.starts_with('#')).collect()
    }

    #[test]
    fn sections_are_separated_by_blank_lines() {
        let shards = [
            stats(vec![(0, db(2, 1)), (1, db(0, 0))]),
            stats(vec![(0, db(3, 0)), (1, db(1, 1))]),
        ];
        assert_eq!(
            info(&["cluster", "keyspace"], &shards),
            "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n\
             db0:keys=5,expires=1,avg_ttl=0\r\ndb1:keys=1,expires=1,avg_ttl=0\r\n"
        );
    }

    #[test]
    fn sections_are_chosen_as_redis_chooses_them() {
        let shards = [stats(vec![])];
        let default = [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace",
            "# Shards",
        ];
        assert_eq!(headers(&info(&[], &shards)), default);
        assert_eq!(headers(&info(&["default"], &shards)), default);
        let mut all = default.to_vec();
        all.splice(8..9, ["# Commandstats", "# Errorstats", "# Latencystats"]);
        assert_eq!(headers(&info(&["ALL"], &shards)), all);
        assert_eq!(headers(&info(&["everything"], &shards)), all);
        assert_eq!(
            headers(&info(
                &["latencystats", "errorstats", "commandstats"],
                &shards
            )),
            ["# Commandstats", "# Errorstats", "# Latencystats"]
        );
        // Redis's order and each once, whatever the order and case asked.
        assert_eq!(
            headers(&info(&["KEYSPACE", "server", "Server", "nosuch"], &shards)),
            ["# Server", "# Keyspace"]
        );
        assert_eq!(headers(&info(&["module_list"], &shards)), ["# Modules"]);
        assert_eq!(info(&["modules"], &shards), "# Modules\r\n");
        assert_eq!(info(&["nosuch"], &shards), "");
        assert_eq!(headers(&info(&["default", "shards"], &shards)), default);
    }

    #[test]
    fn shards_section_lists_each_shard() {
        let mut one = stats(vec![(0, db(2, 1))]);
        one.ops = 7;
        one.keyspace_memory = 5;
        one.mesh_sent = 3;
        one.mesh_received = 4;
        one.cpu.user = Duration::from_micros(1_500_000);
        let two = stats(vec![(3, db(3, 0))]);
        assert_eq!(
            info(&["SHARDS"], &[one, two]),
            "# Shards\r\nshards:2\r\n\
             shard0:keys=2,expires=1,ops=7,keyspace_memory=5,mesh_sent=3,mesh_received=4,\
             peer_batches=0,peer_jobs=0,connected_clients=1,used_cpu_sys=0.000000,\
             used_cpu_user=1.500000\r\n\
             shard1:keys=3,expires=0,ops=0,keyspace_memory=0,mesh_sent=0,mesh_received=0,\
             peer_batches=0,peer_jobs=0,connected_clients=1,used_cpu_sys=0.000000,\
             used_cpu_user=0.000000\r\n"
        );
    }

    #[test]
    fn avg_ttl_is_the_mean_time_left() {
        let now = 1_000_000;
        let ttl = |deadlines: &[u64]| {
            let db = DbStats {
                keys: deadlines.len() + 1,
                expires: deadlines.len(),
                deadline_sum: deadlines.iter().map(|&d| u128::from(d)).sum(),
            };
            avg_ttl(&db, now)
        };
        assert_eq!(ttl(&[]), 0);
        assert_eq!(ttl(&[now + 1000, now + 3000]), 2000);
        assert_eq!(ttl(&[now - 10]), 0, "past its deadline");
        let text = render_info(
            &Args::from_slices(&["INFO", "keyspace"]),
            &[stats(vec![(
                0,
                DbStats {
                    keys: 3,
                    expires: 2,
                    deadline_sum: u128::from(2 * now + 10_000),
                },
            )])],
            &ProcessStats {
                now_us: now * 1000,
                ..ProcessStats::default()
            },
        );
        assert_eq!(text, "# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=5000\r\n");
    }

    #[test]
    fn instantaneous_rates_average_sixteen_samples() {
        let mut m = InstantMetric::default();
        m.restart(0, 0);
        // 100 per 100 ms, sixteen times: 1000 per second.
        for i in 1..=16 {
            m.sample(i * 100, i * 100);
        }
        assert_eq!(m.per_second(), 1000);
        // Eight idle samples halve it.
        for i in 17..=24 {
            m.sample(1600, i * 100);
        }
        assert_eq!(m.per_second(), 500);
        // A counter reset does not wrap around.
        m.sample(0, 2500);
        assert_eq!(m.per_second(), 500 * 7 / 8);
    }

    #[test]
    fn recent_peaks_forget_after_eight_seconds() {
        let mut peak = RecentPeak::default();
        peak.note(100);
        peak.note(40);
        assert_eq!(peak.max(), 100);
        for _ in 0..7 {
            peak.next_second();
            peak.note(10);
        }
        assert_eq!(peak.max(), 100);
        peak.next_second();
        assert_eq!(peak.max(), 10);
    }

    #[test]
    fn memory_and_cpu_figures_as_redis_prints_them() {
        let process = ProcessStats {
            used_memory: 1000,
            used_memory_rss: 2500,
            used_memory_peak: 4000,
            cpu: CpuTime {
                system: Duration::from_micros(1_000_002),
                user: Duration::from_micros(30),
            },
            ..ProcessStats::default()
        };
        let text = render_info(
            &Args::from_slices(&["INFO", "memory", "cpu"]),
            &[],
            &process,
        );
        for line in [
            "used_memory:1000\r\nused_memory_human:1000B\r\n",
            "used_memory_peak_perc:25.00%\r\n",
            "mem_fragmentation_ratio:2.50\r\nmem_fragmentation_bytes:1500\r\n",
            "used_cpu_sys:1.000002\r\nused_cpu_user:0.000030\r\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
    }

    #[test]
    fn human_bytes_as_redis() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.00M");
        assert_eq!(human_bytes(5 << 30), "5.00G");
        assert_eq!(human_bytes(2 << 40), "2.00T");
        assert_eq!(human_bytes(3 << 50), "3.00P");
        assert_eq!(human_bytes(u64::MAX), "18446744073709551615B");
    }
}
