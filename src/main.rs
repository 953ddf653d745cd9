//! The `mayfly` binary: command line, logging, then the server.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: store::memory::CountingAllocator = store::memory::CountingAllocator;

/// Mayfly: a Redis-compatible, thread-per-core, shared-nothing in-memory data store.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Number of shards, one pinned executor thread each [default: the CPUs this process may run on].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Number of databases (SELECT 0..N-1).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    databases: u32,
    /// Hash tables per database per shard, a power of two up to 1024. For
    /// benchmarks only: 1 shows the growth stalls of a single table.
    #[arg(long, default_value_t = 1024, value_parser = segments)]
    keyspace_segments: usize,
    /// `emulated`: answer CLUSTER SLOTS, SHARDS, NODES, INFO, MYID and KEYSLOT
    /// as a one-node cluster owning all 16384 slots, for cluster-aware clients.
    #[arg(long, value_enum, default_value_t = ClusterMode::No)]
    cluster_mode: ClusterMode,
    /// Password clients must give with AUTH (or HELLO's AUTH option) before
    /// any other command, as the `default` user [default: none].
    #[arg(long, value_name = "PASSWORD")]
    requirepass: Option<String>,
    /// Log level: error, warn, info, debug or trace (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    loglevel: log::LevelFilter,
    /// Most clients connected at once.
    #[arg(long, default_value_t = 10_000)]
    maxclients: u64,
    /// Close a client after it has been idle this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
    /// Seconds of idleness before TCP keepalive probes (0: off).
    #[arg(long, default_value_t = 300)]
    tcp_keepalive: u64,
    /// Memory limit (e.g. 1gb, 512mb; 0: none). Above it, commands that
    /// may add memory get Redis's OOM error.
    #[arg(long, default_value = "0", value_parser = memory)]
    maxmemory: u64,
    /// Largest bulk string a request may carry (e.g. 512mb).
    #[arg(long, default_value = "512mb", value_parser = memory)]
    proto_max_bulk_len: u64,
    /// Largest unparsed query a client may send (e.g. 1gb).
    #[arg(long, default_value = "1gb", value_parser = memory)]
    client_query_buffer_limit: u64,
    /// Microseconds a command must take to enter the slow log (negative: never).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    slowlog_log_slower_than: i64,
    /// Entries the slow log keeps.
    #[arg(long, default_value_t = 128)]
    slowlog_max_len: u64,
    /// Milliseconds an event must take to be recorded by LATENCY (0: off).
    #[arg(long, default_value_t = 0)]
    latency_monitor_threshold: u64,
}

/// Parses a memory amount as Redis does: digits and an optional unit.
fn memory(text: &str) -> Result<u64, String> {
    server::memory_value(text.as_bytes()).ok_or_else(|| {
        "must be a number of bytes with an optional unit (k, kb, m, mb, g, gb)".into()
    })
}

/// `--cluster-mode`: Redis Cluster commands off, or a one-node emulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClusterMode {
    // CLUSTER replies "cluster support disabled", as a standalone Redis.
    No,
    // One node owning every slot.
    Emulated,
}

/// Parses `--keyspace-segments`: a power of two in 1..=1024.
fn segments(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n.is_power_of_two() && n <= store::SEGMENTS => Ok(n),
        _ => Err(format!(
            "must be a power of two from 1 to {}",
            store::SEGMENTS
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The logger passes every level and `log`'s max level filters, so that
    // CONFIG SET loglevel can change it at run time (unless RUST_LOG rules).
    let from_env = std::env::var_os("RUST_LOG").is_some();
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Trace)
        .parse_env("RUST_LOG")
        .format_timestamp_millis()
        .init();
    if !from_env {
        log::set_max_level(cli.loglevel);
    }
    let settings = &server::SETTINGS;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    settings.maxclients.store(cli.maxclients, relaxed);
    settings.timeout.store(cli.timeout, relaxed);
    settings.tcp_keepalive.store(cli.tcp_keepalive, relaxed);
    settings.maxmemory.store(cli.maxmemory, relaxed);
    settings
        .proto_max_bulk_len
        .store(cli.proto_max_bulk_len, relaxed);
    settings
        .client_query_buffer_limit
        .store(cli.client_query_buffer_limit, relaxed);
    settings
        .slowlog_log_slower_than
        .store(cli.slowlog_log_slower_than, relaxed);
    settings.slowlog_max_len.store(cli.slowlog_max_len, relaxed);
    settings
        .latency_monitor_threshold
        .store(cli.latency_monitor_threshold, relaxed);
    let config = server::Config {
        bind: cli.bind,
        port: cli.port,
        threads: cli
            .threads
            .map(usize::from)
            .unwrap_or_else(server::cpu::available),
        databases: cli.databases as usize,
        keyspace_segments: cli.keyspace_segments,
        cluster_emulated: cli.cluster_mode == ClusterMode::Emulated,
        requirepass: cli.requirepass.and_then(server::Password::new),
    };
    match server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
