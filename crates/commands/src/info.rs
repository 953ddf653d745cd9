//! INFO: per-shard statistics, gathered from every shard, rendered in Redis's
//! `# Section` / `field:value` format.

use crate::REDIS_VERSION;
use resp::Args;
use std::fmt::Write;

/// Counters one shard (one executor thread) keeps, plus a snapshot of its
/// keyspace taken when INFO asks.
#[derive(Debug, Clone, Default)]
pub struct ShardStats {
    /// Per database: (keys stored, keys with a TTL), as Redis counts them:
    /// expired keys the timer wheel has not reclaimed yet are included.
    /// Filled in by [`ShardStats::snapshot`].
    pub databases: Vec<(usize, usize)>,
    /// Keys deleted by expiry, lazily or by the timer wheel.
    pub expired_keys: u64,
    /// The keyspaces' expiry total at the last CONFIG RESETSTAT, subtracted
    /// from it in [`ShardStats::snapshot`].
    pub expired_keys_before_reset: u64,
    /// Reads that found their key.
    pub keyspace_hits: u64,
    /// Reads that did not.
    pub keyspace_misses: u64,
    /// Commands this thread's connections ran.
    pub commands_processed: u64,
    /// Connections this thread accepted.
    pub connections_received: u64,
    /// Connections open on this thread now.
    pub connected_clients: u64,
    /// Connections this thread refused because `maxclients` were connected.
    pub rejected_connections: u64,
    /// Batches of plain jobs this shard received from other shards' connections:
    /// one per connection read and destination shard ("pipeline squashing").
    pub peer_batches: u64,
    /// The jobs in those batches.
    pub peer_jobs: u64,
    /// Per-command calls, durations, failures and refusals, and error
    /// replies by code, of the commands this thread ran or refused.
    pub commands: crate::CommandStats,
}

impl ShardStats {
    /// A copy of the counters with the keyspace figures of `dbs`. Reading
    /// them reclaims nothing, so INFO shows what active expiry has done.
    pub fn snapshot(&self, dbs: &store::Databases) -> ShardStats {
        let mut out = self.clone();
        out.databases = vec![(0, 0); dbs.count()];
        out.expired_keys = 0;
        for (index, db) in dbs.iter() {
            out.databases[index] = (db.len(), db.expires_len());
            out.expired_keys += db.expired_total();
        }
        out.expired_keys = out
            .expired_keys
            .saturating_sub(self.expired_keys_before_reset);
        out
    }
}

/// Process-wide facts for INFO.
#[derive(Debug, Clone, Default)]
pub struct ProcessStats {
    /// Mayfly's own version.
    pub mayfly_version: &'static str,
    /// TCP port.
    pub port: u16,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Random id of this run (40 hex chars).
    pub run_id: String,
    /// Path of the executable.
    pub executable: String,
    /// Bytes allocated by the process.
    pub used_memory: usize,
    /// Highest `used_memory` seen.
    pub used_memory_peak: usize,
    /// Resident set size.
    pub used_memory_rss: usize,
}

/// Every section, in Redis's order (`# Shards`, Mayfly's own, last).
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "stats",
    "commandstats",
    "errorstats",
    "latencystats",
    "keyspace",
    "shards",
];

/// The sections only `all`, `everything` or their own name ask for.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

/// Renders INFO for the sections asked in `args[1..]` (none: the default set;
/// `all`, `everything` and `default` as Redis).
pub fn render_info(args: &Args, shards: &[ShardStats], process: &ProcessStats) -> String {
    let default = SECTIONS.iter().filter(|s| !NOT_DEFAULT.contains(s));
    let mut wanted: Vec<&str> = Vec::new();
    if args.len() == 1 {
        wanted.extend(default.clone());
    }
    for arg in args.iter().skip(1) {
        let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match arg.as_str() {
            "all" | "everything" => wanted.extend_from_slice(SECTIONS),
            "default" => wanted.extend(default.clone()),
            other => {
                if let Some(s) = SECTIONS.iter().find(|s| **s == other) {
                    wanted.push(s);
                }
            }
        }
    }
    let mut out = String::new();
    for section in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        render_section(&mut out, section, shards, process);
    }
    out
}

fn render_section(out: &mut String, section: &str, shards: &[ShardStats], p: &ProcessStats) {
    let sum = |f: fn(&ShardStats) -> u64| shards.iter().map(f).sum::<u64>();
    // `write!` into a String cannot fail.
    let mut line = |args: std::fmt::Arguments| {
        let _ = out.write_fmt(args);
        out.push_str("\r\n");
    };
    match section {
        "server" => {
            line(format_args!("# Server"));
            line(format_args!("redis_version:{REDIS_VERSION}"));
            line(format_args!("redis_mode:standalone"));
            line(format_args!(
                "os:{} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            ));
            line(format_args!("arch_bits:{}", usize::BITS));
            line(format_args!("multiplexing_api:io_uring"));
            line(format_args!("process_id:{}", std::process::id()));
            line(format_args!("run_id:{}", p.run_id));
            line(format_args!("tcp_port:{}", p.port));
            let usec = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            line(format_args!("server_time_usec:{usec}"));
            line(format_args!("uptime_in_seconds:{}", p.uptime_seconds));
            line(format_args!("uptime_in_days:{}", p.uptime_seconds / 86400));
            line(format_args!("executable:{}", p.executable));
            line(format_args!("mayfly_version:{}", p.mayfly_version));
            line(format_args!("shards:{}", shards.len()));
        }
        "clients" => {
            line(format_args!("# Clients"));
            line(format_args!(
                "connected_clients:{}",
                sum(|s| s.connected_clients)
            ));
            line(format_args!("blocked_clients:0"));
        }
        "memory" => {
            line(format_args!("# Memory"));
            line(format_args!("used_memory:{}", p.used_memory));
            line(format_args!(
                "used_memory_human:{}",
                human_bytes(p.used_memory)
            ));
            line(format_args!("used_memory_rss:{}", p.used_memory_rss));
            line(format_args!(
                "used_memory_rss_human:{}",
                human_bytes(p.used_memory_rss)
            ));
            line(format_args!("used_memory_peak:{}", p.used_memory_peak));
            line(format_args!(
                "used_memory_peak_human:{}",
                human_bytes(p.used_memory_peak)
            ));
            let maxmemory = crate::SETTINGS
                .maxmemory
                .load(std::sync::atomic::Ordering::Relaxed) as usize;
            line(format_args!("maxmemory:{maxmemory}"));
            line(format_args!("maxmemory_human:{}", human_bytes(maxmemory)));
            line(format_args!("mem_allocator:libc"));
        }
        "stats" => {
            line(format_args!("# Stats"));
            line(format_args!(
                "total_connections_received:{}",
                sum(|s| s.connections_received)
            ));
            line(format_args!(
                "total_commands_processed:{}",
                sum(|s| s.commands_processed)
            ));
            line(format_args!(
                "rejected_connections:{}",
                sum(|s| s.rejected_connections)
            ));
            line(format_args!("expired_keys:{}", sum(|s| s.expired_keys)));
            line(format_args!("evicted_keys:0"));
            line(format_args!("keyspace_hits:{}", sum(|s| s.keyspace_hits)));
            line(format_args!(
                "keyspace_misses:{}",
                sum(|s| s.keyspace_misses)
            ));
            line(format_args!(
                "total_error_replies:{}",
                sum(|s| s.commands.error_replies())
            ));
        }
        "commandstats" | "errorstats" | "latencystats" => {
            let merged = crate::CommandStats::merged(shards.iter().map(|s| &s.commands));
            match section {
                "commandstats" => merged.render_commandstats(out),
                "errorstats" => merged.render_errorstats(out),
                _ => merged.render_latencystats(out),
            }
        }
        "keyspace" => {
            line(format_args!("# Keyspace"));
            let dbs = shards.iter().map(|s| s.databases.len()).max().unwrap_or(0);
            for db in 0..dbs {
                let (keys, expires) = shards
                    .iter()
                    .filter_map(|s| s.databases.get(db))
                    .fold((0, 0), |(k, e), &(k2, e2)| (k + k2, e + e2));
                if keys > 0 {
                    line(format_args!(
                        "db{db}:keys={keys},expires={expires},avg_ttl=0"
                    ));
                }
            }
        }
        _ => {
            line(format_args!("# Shards"));
            line(format_args!("shards:{}", shards.len()));
            for (i, s) in shards.iter().enumerate() {
                let keys: usize = s.databases.iter().map(|d| d.0).sum();
                let expires: usize = s.databases.iter().map(|d| d.1).sum();
                line(format_args!(
                    "shard{i}:keys={keys},expires={expires},peer_batches={},peer_jobs={}",
                    s.peer_batches, s.peer_jobs
                ));
            }
        }
    }
}

/// Redis's `bytesToHuman`: `123B`, `1.50K`, `2.00M` ...
fn human_bytes(n: usize) -> String {
    let n = n as f64;
    const UNITS: [(&str, f64); 5] = [
        ("P", 1024f64 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("T", 1024f64 * 1024.0 * 1024.0 * 1024.0),
        ("G", 1024f64 * 1024.0 * 1024.0),
        ("M", 1024f64 * 1024.0),
        ("K", 1024f64),
    ];
    for (unit, size) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(dbs: Vec<(usize, usize)>) -> ShardStats {
        ShardStats {
            databases: dbs,
            connected_clients: 1,
            ..Default::default()
        }
    }

    #[test]
    fn sections_are_separated_by_blank_lines() {
        let shards = [stats(vec![(2, 1), (0, 0)]), stats(vec![(3, 0), (1, 1)])];
        let text = render_info(
            &Args::from_slices(&["INFO", "clients", "keyspace"]),
            &shards,
            &ProcessStats::default(),
        );
        assert_eq!(
            text,
            "# Clients\r\nconnected_clients:2\r\nblocked_clients:0\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\ndb1:keys=1,expires=1,avg_ttl=0\r\n"
        );
    }

    #[test]
    fn shards_section_lists_each_shard() {
        let shards = [stats(vec![(2, 1)]), stats(vec![(3, 0)])];
        let text = render_info(
            &Args::from_slices(&["INFO", "SHARDS"]),
            &shards,
            &ProcessStats::default(),
        );
        assert_eq!(
            text,
            "# Shards\r\nshards:2\r\n\
             shard0:keys=2,expires=1,peer_batches=0,peer_jobs=0\r\n\
             shard1:keys=3,expires=0,peer_batches=0,peer_jobs=0\r\n"
        );
    }

    #[test]
    fn unknown_section_is_empty_and_default_has_all() {
        let shards = [stats(vec![])];
        assert_eq!(
            render_info(
                &Args::from_slices(&["INFO", "foo"]),
                &shards,
                &ProcessStats::default()
            ),
            ""
        );
        let all = render_info(
            &Args::from_slices(&["INFO"]),
            &shards,
            &ProcessStats::default(),
        );
        for s in [
            "# Server",
            "# Clients",
            "# Memory",
            "# Stats",
            "# Keyspace",
            "# Shards",
        ] {
            assert!(all.contains(s), "{s}");
        }
    }

    #[test]
    fn command_sections_only_where_redis_has_them() {
        let headers = |args: &[&str]| -> Vec<String> {
            render_info(
                &Args::from_slices(args),
                &[stats(vec![])],
                &ProcessStats::default(),
            )
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
        };
        let default = headers(&["INFO"]);
        assert_eq!(
            default,
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Stats",
                "# Errorstats",
                "# Keyspace",
                "# Shards"
            ]
        );
        assert_eq!(headers(&["INFO", "default"]), default);
        let all = [
            "# Server",
            "# Clients",
            "# Memory",
            "# Stats",
            "# Commandstats",
            "# Errorstats",
            "# Latencystats",
            "# Keyspace",
            "# Shards",
        ];
        assert_eq!(headers(&["INFO", "all"]), all);
        assert_eq!(headers(&["INFO", "EVERYTHING"]), all);
        assert_eq!(
            headers(&["INFO", "latencystats", "errorstats", "commandstats"]),
            ["# Commandstats", "# Errorstats", "# Latencystats"]
        );
    }

    #[test]
    fn human_bytes_as_redis() {
        assert_eq!(human_bytes(1000), "1000B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.00M");
    }
}
