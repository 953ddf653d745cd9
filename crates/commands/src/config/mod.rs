//! Mayfly's configuration, as Redis's: one table of options
//! ([`options::OPTIONS`]), the config file's syntax ([`syntax`]), start-up
//! from a file and the command line ([`load`]), CONFIG REWRITE's algorithm
//! ([`rewrite`]), and here the CONFIG command: GET, SET, RESETSTAT, REWRITE
//! and HELP, with Redis 7.0's replies and errors.
//!
//! Where Mayfly differs: `port` and `bind` cannot change at run time (each
//! shard owns its listeners, bound at start-up), and `save`, `appendonly`
//! and `maxmemory-policy` accept only the value that says what Mayfly does
//! (no persistence, no eviction).

pub mod load;
pub mod options;
pub mod rewrite;
pub mod syntax;
pub mod value;

pub use load::{start_up, ConfigError, Origin, Source};
pub use options::{lookup, ClusterMode, ConfigOption, ProtectedConfigs, Startup, OPTIONS};
pub use value::{Kind, Value};

use crate::client::{reply_help, subcommand};
use crate::error::reply_error;
use crate::table::{sub, SubcommandSpec};
use crate::{Client, CommandError, ServerFacts, ShardCtx};
use resp::{Args, ReplyEncoder};

/// CONFIG SET's reason for an option fixed at start-up.
pub const IMMUTABLE: &str = "can't set immutable config";

/// An I/O error's reason as C's `strerror` words it (Redis's texts), without
/// Rust's " (os error N)".
pub fn os_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// CONFIG's subcommands, their arities and flags.
pub(crate) const SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("get", -3).admin(),
    sub("set", -4).admin(),
    sub("resetstat", 2).admin(),
    sub("rewrite", 2).admin(),
    sub("help", 2),
];

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// CONFIG subcommand [arguments]. CONFIG RESETSTAT only replies here: the
/// server intercepts it to run [`reset_stats`] on every shard.
pub fn config(args: &Args, client: &mut Client, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    let result = match subcommand(args, "CONFIG", SUBCOMMANDS) {
        Ok("get") => {
            get(args, facts, enc);
            Ok(())
        }
        Ok("set") => {
            let result = set(args, client, facts).map(|()| enc.ok());
            // A lower slowlog-max-len drops the oldest entries now.
            crate::slowlog::trim();
            result
        }
        Ok("resetstat") => {
            enc.ok();
            Ok(())
        }
        Ok("rewrite") => rewrite_file(facts).map(|()| enc.ok()),
        Ok(_) => {
            reply_help(enc, HELP);
            Ok(())
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        reply_error(enc, &e);
    }
}

/// CONFIG GET pattern [pattern ...]: a name without glob characters matches
/// exactly (case-insensitively) and is replied as given; a pattern replies
/// the options' own names. Each option appears once. (Redis replies in its
/// hash table's order; Mayfly in the table's.)
fn get(args: &Args, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    let mut found: Vec<(&[u8], &ConfigOption)> = Vec::new();
    for pattern in args.iter().skip(2) {
        let is_glob = pattern.iter().any(|c| b"[*?".contains(c));
        let lowered = pattern.to_ascii_lowercase();
        for option in OPTIONS {
            if found.iter().any(|(_, o)| o.name == option.name) {
                continue;
            }
            if !is_glob && option.name.as_bytes().eq_ignore_ascii_case(pattern) {
                found.push((pattern, option));
            } else if is_glob && store::glob_match(&lowered, option.name.as_bytes()) {
                found.push((option.name.as_bytes(), option));
            }
        }
    }
    enc.map_len(found.len());
    for (name, option) in found {
        enc.bulk(name);
        enc.bulk(&option.kind.show(&option.current(&facts.options)));
    }
}

/// Whether `client` may CONFIG SET a protected option (`dir`), as Redis's
/// `allowProtectedAction`.
fn protected_allowed(client: &Client, facts: &ServerFacts) -> bool {
    match facts.options.protected_configs {
        ProtectedConfigs::Yes => true,
        ProtectedConfigs::No => false,
        ProtectedConfigs::Local => client.addr.parse::<std::net::SocketAddr>().is_ok_and(|a| {
            a.ip() == std::net::Ipv4Addr::LOCALHOST || a.ip() == std::net::Ipv6Addr::LOCALHOST
        }),
    }
}

/// CONFIG SET name value [name value ...], as Redis 7.0's `configSetCommand`:
/// first every name (unknown, immutable, protected, repeated), then each
/// value in turn is checked and set (a failure restores the ones set
/// before it), then the apply steps run (a failure restores them all).
fn set(args: &Args, client: &Client, facts: &ServerFacts) -> Result<(), CommandError> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let failed = |name: &[u8], why: &str| {
        CommandError::Other(format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            String::from_utf8_lossy(name)
        ))
    };
    let mut chosen: Vec<(&'static ConfigOption, &[u8])> = Vec::new();
    let mut first_error = None;
    for pair in 0..(args.len() - 2) / 2 {
        let name = args.get(2 + 2 * pair);
        let Some(option) = lookup(name) else {
            if first_error.is_none() {
                return Err(CommandError::Other(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    String::from_utf8_lossy(name)
                )));
            }
            continue;
        };
        if first_error.is_some() {
            continue;
        }
        if !option.settable() {
            first_error = Some(failed(name, IMMUTABLE));
        } else if option.protected() && !protected_allowed(client, facts) {
            first_error = Some(failed(name, "can't set protected config"));
        } else if chosen.iter().any(|(o, _)| o.name == option.name) {
            first_error = Some(failed(name, "duplicate parameter"));
        }
        chosen.push((option, args.get(3 + 2 * pair)));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut previous: Vec<(&'static ConfigOption, Value)> = Vec::with_capacity(chosen.len());
    let mut applies: Vec<(options::ApplyStep, &'static ConfigOption)> = Vec::new();
    let restore = |previous: &[(&'static ConfigOption, Value)]| {
        for (option, old) in previous.iter().rev() {
            let _ = option.store(old);
        }
    };
    for (option, text) in chosen {
        let old = option.current(&facts.options);
        let changed = option.parse(&[text.to_vec()]).and_then(|new| {
            if new == old {
                return Ok(false);
            }
            option.store(&new).map(|()| true)
        });
        match changed {
            Ok(changed) => {
                // Each option has its own apply step (Redis shares some
                // between options and runs a shared one once).
                if let Some(apply) = option.apply().filter(|_| changed) {
                    applies.push((apply, option));
                }
                previous.push((option, old));
            }
            Err(why) => {
                restore(&previous);
                return Err(failed(option.name.as_bytes(), &why));
            }
        }
    }
    for &(apply, option) in &applies {
        if let Err(why) = apply() {
            log::warn!(
                "Failed applying new configuration. Possibly related to new {} setting. \
                 Restoring previous settings.",
                option.name
            );
            restore(&previous);
            for (apply, _) in &applies {
                let _ = apply();
            }
            return Err(failed(option.name.as_bytes(), &why));
        }
    }
    Ok(())
}

/// CONFIG REWRITE: the config file the server started with, rewritten with
/// every option's current value ([`rewrite::rewrite`]).
fn rewrite_file(facts: &ServerFacts) -> Result<(), CommandError> {
    let Some(path) = facts.config_file.as_deref() else {
        return Err(CommandError::Other(
            "ERR The server is running without a config file".into(),
        ));
    };
    let old = match std::fs::read(path) {
        Ok(old) => Ok(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    let written = old.and_then(|old| {
        let new = rewrite::rewrite(&old, |option| option.current(&facts.options));
        rewrite::write_atomically(path, &new)
    });
    match written {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success.");
            Ok(())
        }
        Err(e) => {
            let reason = os_reason(&e);
            log::warn!("CONFIG REWRITE failed: {reason}");
            Err(CommandError::Other(format!(
                "ERR Rewriting config file: {reason}"
            )))
        }
    }
}

/// CONFIG RESETSTAT's work on one shard: zeroes the counters INFO's stats
/// section reports (connected clients and key counts stay).
pub fn reset_stats(ctx: &mut ShardCtx) {
    let stats = &mut *ctx.stats;
    stats.reset_counters(ctx.now);
    stats.expired_keys_before_reset = ctx.dbs.iter().map(|(_, db)| db.expired_total()).sum();
}

#[cfg(test)]
mod tests {
    use crate::testkit::{run_connection, run_connection_on, Harness};

    fn text(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    #[test]
    fn get_names_and_patterns() {
        assert_eq!(
            text(&run_connection(&["CONFIG", "GET", "PORT"]).0),
            "*2\r\n$4\r\nPORT\r\n$4\r\n6379\r\n"
        );
        assert_eq!(
            text(&run_connection(&["CONFIG", "GET", "save", "appendonly", "nosuch"]).0),
            "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        assert_eq!(
            text(&run_connection(&["CONFIG", "GET", "*MEM*", "maxmemory"]).0),
            "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
        );
        let (out, _) = run_connection_on(&[&["HELLO", "3"], &["CONFIG", "GET", "databases"]]);
        assert!(text(&out).ends_with("%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"));
        let (out, _) = run_connection(&["CONFIG", "GET", "*"]);
        let all = format!(
            "*{}\r\n$4\r\nport\r\n$4\r\n6379\r\n",
            2 * super::OPTIONS.len()
        );
        assert!(text(&out).starts_with(&all), "{}", text(&out));
        assert_eq!(
            text(&run_connection(&["CONFIG", "GET", "bind", "cluster-mode", "keyspace-*"]).0),
            "*6\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n$12\r\ncluster-mode\r\n$2\r\nno\r\n\
             $17\r\nkeyspace-segments\r\n$4\r\n1024\r\n"
        );
        assert_eq!(
            text(&run_connection(&["CONFIG", "GET"]).0),
            "-ERR wrong number of arguments for 'config|get' command\r\n"
        );
    }

    #[test]
    fn set_errors_as_redis() {
        let err = |parts: &[&str]| text(&run_connection(parts).0);
        let failed = |name: &str, why: &str| {
            format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - {why}\r\n")
        };
        assert_eq!(
            err(&["CONFIG", "SET", "foo", "bar"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
        );
        assert_eq!(
            err(&["CONFIG", "SET", "loglevel", "notice", "foo", "bar"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
        );
        assert_eq!(
            err(&["CONFIG", "SET", "port"]),
            "-ERR wrong number of arguments for 'config|set' command\r\n"
        );
        assert_eq!(
            err(&["CONFIG", "SET", "port", "1", "x"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            err(&["CONFIG", "SET", "DATABASES", "3", "foo", "bar"]),
            failed("DATABASES", "can't set immutable config")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "loglevel", "foo", "databases", "3"]),
            failed("databases", "can't set immutable config")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "loglevel", "notice", "LOGLEVEL", "x"]),
            failed("LOGLEVEL", "duplicate parameter")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "LOGLEVEL", "foo"]),
            failed(
                "loglevel",
                "argument(s) must be one of the following: debug, verbose, notice, warning"
            )
        );
        assert_eq!(
            err(&["CONFIG", "SET", "maxmemory", "-1"]),
            failed("maxmemory", "argument must be a memory value")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
            failed("maxmemory-policy", "can't set immutable config")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "keyspace-segments", "1"]),
            failed("keyspace-segments", "can't set immutable config")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "Dir", "/tmp"]),
            failed("Dir", "can't set protected config")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "timeout", "-1"]),
            failed(
                "timeout",
                "argument must be between 0 and 2147483647 inclusive"
            )
        );
        assert_eq!(
            err(&["CONFIG", "SET", "appendonly", "maybe"]),
            failed("appendonly", "argument must be 'yes' or 'no'")
        );
        assert_eq!(
            err(&["CONFIG", "SET", "save", "foo"]),
            failed("save", "Invalid save parameters")
        );
        assert!(err(&["CONFIG", "SET", "maxmemory-policy", "foo"]).contains(
            "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
        ));
    }

    #[test]
    fn set_accepts_what_mayfly_does() {
        assert_eq!(
            run_connection(&[
                "CONFIG",
                "SET",
                "save",
                "",
                "appendonly",
                "NO",
                "maxmemory",
                "0mb",
                "maxmemory-policy",
                "NoEviction"
            ])
            .0,
            b"+OK\r\n"
        );
    }

    #[test]
    fn loglevel_round_trips_and_a_later_error_restores_it() {
        // The only test that changes a process-wide option: others run at once.
        let before = log::max_level();
        let (out, _) = run_connection_on(&[
            &["CONFIG", "SET", "loglevel", "VERBOSE"],
            &["CONFIG", "GET", "loglevel"],
            &["CONFIG", "SET", "loglevel", "warning", "maxclients", "x"],
            &["CONFIG", "GET", "loglevel"],
        ]);
        log::set_max_level(before);
        assert_eq!(
            text(&out),
            "+OK\r\n*2\r\n$8\r\nloglevel\r\n$7\r\nverbose\r\n\
             -ERR CONFIG SET failed (possibly related to argument 'maxclients') - \
             argument couldn't be parsed into an integer\r\n\
             *2\r\n$8\r\nloglevel\r\n$7\r\nverbose\r\n"
        );
    }

    #[test]
    fn other_subcommands() {
        assert_eq!(run_connection(&["CONFIG", "RESETSTAT"]).0, b"+OK\r\n");
        assert_eq!(
            text(&run_connection(&["CONFIG", "RESETSTAT", "x"]).0),
            "-ERR wrong number of arguments for 'config|resetstat' command\r\n"
        );
        assert_eq!(
            text(&run_connection(&["CONFIG", "foo"]).0),
            "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"
        );
        assert_eq!(
            text(&run_connection(&["CONFIG", "REWRITE"]).0),
            "-ERR The server is running without a config file\r\n"
        );
        let (out, _) = run_connection(&["CONFIG", "HELP"]);
        assert!(out.starts_with(b"*11\r\n+CONFIG <subcommand>"));
    }

    #[test]
    fn reset_stats_zeroes_counters() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        h.run(&["GET", "k"]);
        h.run(&["GET", "nope"]);
        let stats = h.reset_stats();
        assert_eq!((stats.keyspace_hits, stats.keyspace_misses), (0, 0));
        assert_eq!(stats.expired_keys, 0);
    }
}
