//! Every option Mayfly takes, in one declarative table ([`OPTIONS`]) that
//! the config file loader, the command line, CONFIG GET/SET/REWRITE,
//! `mayfly --help` and the test of `config/mayfly.conf` all read: each
//! entry's name (Redis's), default as a config file writes it, one-line
//! doc, value kind, whether CONFIG SET may change it at run time, and where
//! its value lives.

use super::value::{Bounds, Kind, Value};
use crate::settings::{self, SETTINGS};
use log::LevelFilter;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};

/// A check of a value beyond its kind's: the reason it is refused.
pub type Check = fn(&Value) -> Result<(), String>;

/// A step that runs once a new value is stored (Redis's apply functions):
/// the reason it failed.
pub type ApplyStep = fn() -> Result<(), String>;

/// One option.
#[derive(Debug)]
pub struct ConfigOption {
    /// Its name, in lower case, as in a config file, on the command line
    /// (`--name`) and in CONFIG GET/SET.
    pub name: &'static str,
    /// Its default, as written in a config file.
    pub default: &'static str,
    /// What it does, in one line (`mayfly --help`).
    pub doc: &'static str,
    /// How its value is written and checked.
    pub kind: Kind,
    /// Where its value lives, and so whether CONFIG SET may change it.
    pub access: Access,
    /// A check beyond the kind's (a power of two, say): the reason a value
    /// is refused.
    pub check: Option<Check>,
}

/// Where an option's value lives.
#[derive(Debug)]
pub enum Access {
    /// Fixed when the server starts, kept in [`Startup`]: CONFIG SET
    /// replies `can't set immutable config`.
    Startup {
        /// Reads the value.
        get: fn(&Startup) -> Value,
        /// Stores a checked value.
        set: fn(&mut Startup, &Value),
    },
    /// A process-wide number read where its limit applies, changed by
    /// CONFIG SET; `apply` runs after a change (Redis's apply functions)
    /// and may refuse it.
    Number {
        /// The number (unsigned options hold their bits).
        cell: &'static AtomicU64,
        /// Runs after the value changed; an error undoes the change.
        apply: Option<ApplyStep>,
    },
    /// A process-wide signed number changed by CONFIG SET.
    Signed(&'static AtomicI64),
    /// Process-wide state that CONFIG SET changes with its own code.
    Live {
        /// Reads the current value.
        get: fn() -> Value,
        /// Changes it, or says why not (Redis's reason).
        set: fn(&Value) -> Result<(), String>,
        /// Redis's `PROTECTED_CONFIG`: CONFIG SET only with
        /// `enable-protected-configs` allowing it.
        protected: bool,
    },
    /// Something Mayfly always does (no persistence, no eviction): the
    /// default is accepted, any other valid value refused as immutable,
    /// since tools set these to exactly what Mayfly does.
    Fixed,
}

/// `cluster-mode`: Redis Cluster commands off, or a one-node emulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterMode {
    /// CLUSTER replies "cluster support disabled", as a standalone Redis.
    No,
    /// One node owning every slot, for cluster-aware clients.
    Emulated,
}

/// `enable-protected-configs`: who may CONFIG SET a protected option (`dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedConfigs {
    /// Nobody.
    No,
    /// Every client.
    Yes,
    /// Clients connected from the loopback address.
    Local,
}

/// The options fixed at start-up, as the config file and the command line
/// left them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// `port`.
    pub port: u16,
    /// `bind`: addresses as written (`-` in front: skip it if unavailable).
    pub bind: Vec<String>,
    /// `threads`: shards to run; 0: one per CPU the process may use.
    pub threads: usize,
    /// `databases`.
    pub databases: usize,
    /// `keyspace-segments`.
    pub keyspace_segments: usize,
    /// `cluster-mode`.
    pub cluster_mode: ClusterMode,
    /// `logfile`: empty for stderr.
    pub logfile: Vec<u8>,
    /// `pidfile`: empty for none.
    pub pidfile: Vec<u8>,
    /// `enable-protected-configs`.
    pub protected_configs: ProtectedConfigs,
}

impl Default for Startup {
    /// Every option at its table default.
    fn default() -> Self {
        let mut startup = Startup {
            port: 0,
            bind: Vec::new(),
            threads: 0,
            databases: 0,
            keyspace_segments: 0,
            cluster_mode: ClusterMode::No,
            logfile: Vec::new(),
            pidfile: Vec::new(),
            protected_configs: ProtectedConfigs::No,
        };
        for option in OPTIONS {
            if let (Access::Startup { set, .. }, Ok(value)) =
                (&option.access, option.default_value())
            {
                set(&mut startup, &value);
            }
        }
        startup
    }
}

/// Redis's log levels, most verbose first, and the `log` levels they map to.
pub const LOG_LEVELS: [(&str, LevelFilter); 4] = [
    ("debug", LevelFilter::Trace),
    ("verbose", LevelFilter::Debug),
    ("notice", LevelFilter::Info),
    ("warning", LevelFilter::Warn),
];

/// The Redis name of a `log` level (error and off count as `warning`).
fn log_level_name(level: LevelFilter) -> &'static str {
    LOG_LEVELS
        .iter()
        .find(|(_, l)| *l == level)
        .map_or("warning", |(name, _)| name)
}

const INT_MAX: i128 = i32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;

fn text(bytes: &[u8]) -> Value {
    Value::Text(bytes.to_vec())
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

/// Every option, in the order `mayfly --help` lists them and CONFIG
/// REWRITE appends them.
pub static OPTIONS: &[ConfigOption] = &[
    ConfigOption {
        name: "port",
        default: "6379",
        doc: "TCP port to accept connections on, 1 to 65535 (Redis's range is 0 to \
              65535, 0 meaning no TCP listener: Mayfly refuses 0, as it listens only on TCP)",
        kind: Kind::Integer(Bounds::signed(0, 65535)),
        access: Access::Startup {
            get: |s| int(s.port),
            set: |s, v| s.port = v.integer() as u16,
        },
        check: Some(|v| match v.integer() {
            0 => {
                Err("port 0 (no TCP listener) is not supported: Mayfly listens only on TCP".into())
            }
            _ => Ok(()),
        }),
    },
    ConfigOption {
        name: "bind",
        default: "127.0.0.1",
        doc: "addresses to listen on, IPv4 or IPv6 (`*` and `::*`: every address); \
              one starting with `-` is skipped if unavailable",
        kind: Kind::Addresses,
        access: Access::Startup {
            get: |s| Value::Words(s.bind.iter().map(|a| a.as_bytes().to_vec()).collect()),
            set: |s, v| {
                s.bind = v
                    .words()
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect()
            },
        },
        check: None,
    },
    ConfigOption {
        name: "threads",
        default: "0",
        doc: "shards, one pinned thread each; 0: one per CPU the process may use",
        kind: Kind::Integer(Bounds::signed(0, 1024)),
        access: Access::Startup {
            get: |s| int(s.threads),
            set: |s, v| s.threads = v.integer() as usize,
        },
        check: None,
    },
    ConfigOption {
        name: "databases",
        default: "16",
        doc: "databases for SELECT (0 to N-1), at most 1000000 (Redis takes up to \
              2147483647; each costs every shard a slot, so Mayfly keeps a lower bound)",
        kind: Kind::Integer(Bounds::signed(1, 1_000_000)),
        access: Access::Startup {
            get: |s| int(s.databases),
            set: |s, v| s.databases = v.integer() as usize,
        },
        check: None,
    },
    ConfigOption {
        name: "requirepass",
        default: "",
        doc: "the default user's password: until a connection gives it (AUTH, HELLO ... AUTH), \
              every command but AUTH, HELLO, QUIT and RESET gets NOAUTH; empty: none",
        kind: Kind::Text {
            empty_is_none: true,
        },
        access: Access::Live {
            get: || Value::Text(settings::requirepass()),
            set: |v| {
                settings::set_requirepass(v.text());
                Ok(())
            },
            protected: false,
        },
        check: None,
    },
    ConfigOption {
        name: "maxclients",
        default: "10000",
        doc: "most clients connected at once (the open files limit is raised to fit)",
        kind: Kind::Integer(Bounds::unsigned(1, u32::MAX as i128)),
        access: Access::Number {
            cell: &SETTINGS.maxclients,
            apply: Some(apply_maxclients),
        },
        check: None,
    },
    ConfigOption {
        name: "timeout",
        default: "0",
        doc: "close a client idle for this many seconds; 0: never",
        kind: Kind::Integer(Bounds::signed(0, INT_MAX)),
        access: Access::Number {
            cell: &SETTINGS.timeout,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "tcp-keepalive",
        default: "300",
        doc: "seconds of idleness before TCP keepalive probes (new connections); 0: off",
        kind: Kind::Integer(Bounds::signed(0, INT_MAX)),
        access: Access::Number {
            cell: &SETTINGS.tcp_keepalive,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "loglevel",
        default: "notice",
        doc: "least important log lines written: debug, verbose, notice or warning \
              (RUST_LOG overrides it)",
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        access: Access::Live {
            get: || Value::Choice(log_level_name(log::max_level())),
            set: |v| {
                if let Some(&(_, level)) = LOG_LEVELS.iter().find(|(n, _)| *n == v.choice()) {
                    log::set_max_level(level);
                }
                Ok(())
            },
            protected: false,
        },
        check: None,
    },
    ConfigOption {
        name: "logfile",
        default: "",
        doc: "file the log is appended to; empty: standard error",
        kind: Kind::Text {
            empty_is_none: false,
        },
        access: Access::Startup {
            get: |s| text(&s.logfile),
            set: |s, v| s.logfile = v.text().to_vec(),
        },
        check: None,
    },
    ConfigOption {
        name: "dir",
        default: "./",
        doc: "working directory (relative logfile and pidfile paths start there)",
        kind: Kind::Text {
            empty_is_none: false,
        },
        access: Access::Live {
            get: || {
                let cwd = std::env::current_dir().unwrap_or_default();
                Value::Text(cwd.into_os_string().into_vec())
            },
            set: |v| {
                std::env::set_current_dir(OsStr::from_bytes(v.text()))
                    .map_err(|e| super::os_reason(&e))
            },
            protected: true,
        },
        check: None,
    },
    ConfigOption {
        name: "pidfile",
        default: "",
        doc: "file the process id is written to once listening, removed at exit; empty: none",
        kind: Kind::Text {
            empty_is_none: true,
        },
        access: Access::Startup {
            get: |s| text(&s.pidfile),
            set: |s, v| s.pidfile = v.text().to_vec(),
        },
        check: None,
    },
    ConfigOption {
        name: "maxmemory",
        default: "0",
        doc: "memory limit (e.g. 512mb, 1gb); above it commands that may add memory \
              get Redis's OOM error; 0: none",
        kind: Kind::Memory(Bounds::unsigned(0, u64::MAX as i128)),
        access: Access::Number {
            cell: &SETTINGS.maxmemory,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "maxmemory-policy",
        default: "noeviction",
        doc: "what happens above maxmemory; Mayfly never evicts: only noeviction",
        kind: Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        access: Access::Fixed,
        check: None,
    },
    ConfigOption {
        name: "proto-max-bulk-len",
        default: "512mb",
        doc: "largest bulk string a request may carry",
        kind: Kind::Memory(Bounds::signed(1024 * 1024, LONG_MAX)),
        access: Access::Number {
            cell: &SETTINGS.proto_max_bulk_len,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "client-query-buffer-limit",
        default: "1gb",
        doc: "largest unparsed query a client may send",
        kind: Kind::Memory(Bounds::unsigned(1024 * 1024, LONG_MAX)),
        access: Access::Number {
            cell: &SETTINGS.client_query_buffer_limit,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "slowlog-log-slower-than",
        default: "10000",
        doc: "microseconds a command must take to enter the slow log; -1: never",
        kind: Kind::Integer(Bounds::signed(-1, i64::MAX as i128)),
        access: Access::Signed(&SETTINGS.slowlog_log_slower_than),
        check: None,
    },
    ConfigOption {
        name: "slowlog-max-len",
        default: "128",
        doc: "entries the slow log keeps",
        kind: Kind::Integer(Bounds::unsigned(0, LONG_MAX)),
        access: Access::Number {
            cell: &SETTINGS.slowlog_max_len,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "latency-monitor-threshold",
        default: "0",
        doc: "milliseconds an event must take to be recorded by LATENCY; 0: off",
        kind: Kind::Integer(Bounds::signed(0, i64::MAX as i128)),
        access: Access::Number {
            cell: &SETTINGS.latency_monitor_threshold,
            apply: None,
        },
        check: None,
    },
    ConfigOption {
        name: "save",
        default: "",
        doc: "snapshot points; Mayfly keeps no snapshots: only \"\"",
        kind: Kind::SavePoints,
        access: Access::Fixed,
        check: None,
    },
    ConfigOption {
        name: "appendonly",
        default: "no",
        doc: "append-only file; Mayfly keeps none: only no",
        kind: Kind::YesNo,
        access: Access::Fixed,
        check: None,
    },
    ConfigOption {
        name: "enable-protected-configs",
        default: "no",
        doc: "whether CONFIG SET may change protected options (dir): no, yes, \
              or local (clients on the loopback address)",
        kind: Kind::Enum(&["no", "yes", "local"]),
        access: Access::Startup {
            get: |s| {
                Value::Choice(match s.protected_configs {
                    ProtectedConfigs::No => "no",
                    ProtectedConfigs::Yes => "yes",
                    ProtectedConfigs::Local => "local",
                })
            },
            set: |s, v| {
                s.protected_configs = match v.choice() {
                    "yes" => ProtectedConfigs::Yes,
                    "local" => ProtectedConfigs::Local,
                    _ => ProtectedConfigs::No,
                }
            },
        },
        check: None,
    },
    ConfigOption {
        name: "keyspace-segments",
        default: "1024",
        doc: "hash tables per database per shard, a power of two; for benchmarks only \
              (1 shows a single table's growth stalls)",
        kind: Kind::Integer(Bounds::signed(1, store::SEGMENTS as i128)),
        access: Access::Startup {
            get: |s| int(s.keyspace_segments),
            set: |s, v| s.keyspace_segments = v.integer() as usize,
        },
        check: Some(|v| {
            if (v.integer() as u64).is_power_of_two() {
                Ok(())
            } else {
                Err("argument must be a power of two".into())
            }
        }),
    },
    ConfigOption {
        name: "cluster-mode",
        default: "no",
        doc: "emulated: answer CLUSTER commands as a one-node cluster owning every slot, \
              for cluster-aware clients",
        kind: Kind::Enum(&["no", "emulated"]),
        access: Access::Startup {
            get: |s| {
                Value::Choice(match s.cluster_mode {
                    ClusterMode::No => "no",
                    ClusterMode::Emulated => "emulated",
                })
            },
            set: |s, v| {
                s.cluster_mode = match v.choice() {
                    "emulated" => ClusterMode::Emulated,
                    _ => ClusterMode::No,
                }
            },
        },
        check: None,
    },
];

/// CONFIG SET maxclients' apply step, as Redis's `updateMaxclients`: the
/// open files limit is raised to fit; where it cannot be, the change fails
/// with the number of clients that would fit.
fn apply_maxclients() -> Result<(), String> {
    let wanted = SETTINGS.maxclients.load(Relaxed);
    settings::adjust_open_files_limit()?;
    let fitted = SETTINGS.maxclients.load(Relaxed);
    if fitted != wanted {
        return Err(format!(
            "The operating system is not able to handle the specified number of clients, \
             try with {fitted}"
        ));
    }
    Ok(())
}

/// The option called `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static ConfigOption> {
    OPTIONS
        .iter()
        .find(|o| o.name.as_bytes().eq_ignore_ascii_case(name))
}

impl ConfigOption {
    /// Checks `args`, the arguments after the name on a config line (a
    /// multi-argument option given one non-empty argument splits it, so
    /// `--bind "a b"` is `bind a b`), and returns the value or the reason
    /// it is refused (Redis's texts).
    pub fn parse(&self, args: &[Vec<u8>]) -> Result<Value, String> {
        let value = match args {
            [one] if self.kind.multi_arg() && !one.is_empty() => {
                let words = super::syntax::split_args(one)
                    .ok_or("Unbalanced quotes in configuration line")?;
                self.kind.parse(&words)?
            }
            _ => self.kind.parse(args)?,
        };
        if let Some(check) = self.check {
            check(&value)?;
        }
        if matches!(self.access, Access::Fixed) && Ok(&value) != self.default_value().as_ref() {
            return Err(super::IMMUTABLE.into());
        }
        Ok(value)
    }

    /// The default, checked (the table's tests make sure it is valid).
    pub fn default_value(&self) -> Result<Value, String> {
        let words = super::syntax::split_args(self.default.as_bytes()).unwrap_or_default();
        let args = if words.is_empty() {
            vec![Vec::new()]
        } else {
            words
        };
        self.kind.parse(&args)
    }

    /// The current value: from `startup` if fixed at start-up, else from
    /// the process's state.
    pub fn current(&self, startup: &Startup) -> Value {
        match &self.access {
            Access::Startup { get, .. } => get(startup),
            Access::Number { cell, .. } => Value::Integer(cell.load(Relaxed) as i64),
            Access::Signed(cell) => Value::Integer(cell.load(Relaxed)),
            Access::Live { get, .. } => get(),
            Access::Fixed => self.default_value().unwrap_or(Value::Words(Vec::new())),
        }
    }

    /// Whether CONFIG SET may change it at run time (the values of a fixed
    /// option other than its default are still refused).
    pub fn settable(&self) -> bool {
        !matches!(self.access, Access::Startup { .. })
    }

    /// Redis's `PROTECTED_CONFIG`.
    pub fn protected(&self) -> bool {
        matches!(
            self.access,
            Access::Live {
                protected: true,
                ..
            }
        )
    }

    /// Stores a checked value in the process's state (not in [`Startup`]);
    /// the reason it failed otherwise. Runs no apply step.
    pub fn store(&self, value: &Value) -> Result<(), String> {
        match &self.access {
            Access::Number { cell, .. } => cell.store(value.integer() as u64, Relaxed),
            Access::Signed(cell) => cell.store(value.integer(), Relaxed),
            Access::Live { set, .. } => set(value)?,
            Access::Startup { .. } | Access::Fixed => {}
        }
        Ok(())
    }

    /// The apply step that runs after CONFIG SET changed the value, if any.
    pub fn apply(&self) -> Option<ApplyStep> {
        match self.access {
            Access::Number { apply, .. } => apply,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid() {
        for option in OPTIONS {
            let value = option
                .default_value()
                .unwrap_or_else(|e| panic!("{}'s default: {e}", option.name));
            if let Some(check) = option.check {
                assert_eq!(check(&value), Ok(()), "{}", option.name);
            }
            assert_eq!(option.name, option.name.to_ascii_lowercase());
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, option) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[..i].iter().all(|o| o.name != option.name),
                "{} twice",
                option.name
            );
        }
    }

    #[test]
    fn startup_defaults() {
        let s = Startup::default();
        assert_eq!(s.port, 6379);
        assert_eq!(s.bind, ["127.0.0.1"]);
        assert_eq!((s.threads, s.databases, s.keyspace_segments), (0, 16, 1024));
        assert_eq!(s.cluster_mode, ClusterMode::No);
        assert_eq!(s.protected_configs, ProtectedConfigs::No);
        assert!(s.logfile.is_empty() && s.pidfile.is_empty());
    }

    #[test]
    fn the_settings_start_at_the_table_defaults() {
        for name in [
            "maxclients",
            "timeout",
            "tcp-keepalive",
            "maxmemory",
            "proto-max-bulk-len",
            "client-query-buffer-limit",
            "slowlog-log-slower-than",
            "slowlog-max-len",
            "latency-monitor-threshold",
        ] {
            let option = lookup(name.as_bytes()).expect("an option");
            let current = match &option.access {
                Access::Number { cell, .. } => cell.load(Relaxed) as i64,
                Access::Signed(cell) => cell.load(Relaxed),
                other => panic!("{name} is {other:?}"),
            };
            assert_eq!(
                Ok(Value::Integer(current)),
                option.default_value(),
                "{name}"
            );
        }
    }

    #[test]
    fn checks_beyond_the_kind() {
        let segments = lookup(b"KEYSPACE-SEGMENTS").expect("an option");
        assert_eq!(segments.parse(&[b"64".to_vec()]), Ok(Value::Integer(64)));
        assert_eq!(
            segments.parse(&[b"3".to_vec()]),
            Err("argument must be a power of two".into())
        );
        assert_eq!(
            segments.parse(&[b"2048".to_vec()]),
            Err("argument must be between 1 and 1024 inclusive".into())
        );
        let bind = lookup(b"bind").expect("an option");
        assert_eq!(
            bind.parse(&[b"127.0.0.1 -::1".to_vec()]),
            Ok(Value::Words(vec![b"127.0.0.1".to_vec(), b"-::1".to_vec()]))
        );
        let appendonly = lookup(b"appendonly").expect("an option");
        assert_eq!(appendonly.parse(&[b"NO".to_vec()]), Ok(Value::YesNo(false)));
        assert_eq!(
            appendonly.parse(&[b"yes".to_vec()]),
            Err("can't set immutable config".into())
        );
    }
}
