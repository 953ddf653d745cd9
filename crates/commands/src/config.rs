//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP over the few parameters
//! Mayfly has, answered with Redis 7.0's replies and errors. `loglevel` can be
//! changed at run time; the start-up options (`port`, `bind`, `databases`)
//! cannot; `save`, `appendonly`, `maxmemory` and `maxmemory-policy` state
//! what Mayfly does (no persistence, no memory limit, no eviction) and accept
//! only a value that says the same, since tools set them to exactly that.

use crate::client::{reply_help, subcommand};
use crate::error::reply_error;
use crate::{Client, CommandError, ServerFacts, ShardCtx};
use log::LevelFilter;
use resp::{Args, ReplyEncoder};

/// What CONFIG SET does with a parameter.
#[derive(Clone, Copy)]
enum Set {
    /// Refused before anything is validated: `can't set immutable config`.
    Immutable,
    /// Checked and applied.
    Apply(fn(&[u8]) -> Result<Change, String>),
}

/// A validated CONFIG SET value.
enum Change {
    /// The value Mayfly already has: nothing to do.
    Same,
    /// A new log level.
    LogLevel(LevelFilter),
}

struct Param {
    name: &'static str,
    get: fn(&ServerFacts) -> String,
    set: Set,
}

const IMMUTABLE: &str = "can't set immutable config";

/// Every parameter, in the order CONFIG GET lists them.
static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |f| f.bind.clone(),
        set: Set::Immutable,
    },
    Param {
        name: "port",
        get: |f| f.port.to_string(),
        set: Set::Immutable,
    },
    Param {
        name: "databases",
        get: |f| f.databases.to_string(),
        set: Set::Immutable,
    },
    Param {
        name: "loglevel",
        get: |_| log_level_name(log::max_level()).into(),
        set: Set::Apply(parse_log_level),
    },
    Param {
        name: "save",
        get: |_| String::new(),
        set: Set::Apply(check_save),
    },
    Param {
        name: "appendonly",
        get: |_| "no".into(),
        set: Set::Apply(check_appendonly),
    },
    Param {
        name: "maxmemory",
        get: |_| "0".into(),
        set: Set::Apply(check_maxmemory),
    },
    Param {
        name: "maxmemory-policy",
        get: |_| "noeviction".into(),
        set: Set::Apply(check_policy),
    },
];

/// Redis's log levels, most verbose first, and the `log` levels they map to.
const LOG_LEVELS: [(&str, LevelFilter); 4] = [
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

fn one_of(values: &[&str]) -> String {
    format!(
        "argument(s) must be one of the following: {}",
        values.join(", ")
    )
}

fn parse_log_level(value: &[u8]) -> Result<Change, String> {
    LOG_LEVELS
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(value))
        .map(|&(_, level)| Change::LogLevel(level))
        .ok_or_else(|| one_of(&LOG_LEVELS.map(|(name, _)| name)))
}

fn same_or_immutable(same: bool) -> Result<Change, String> {
    if same {
        Ok(Change::Same)
    } else {
        Err(IMMUTABLE.into())
    }
}

/// `save`: pairs of `<seconds> <changes>`; only "" (no snapshots) is Mayfly's.
fn check_save(value: &[u8]) -> Result<Change, String> {
    let text = String::from_utf8_lossy(value);
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if !words.len().is_multiple_of(2) || words.iter().any(|w| w.parse::<i64>().is_err()) {
        return Err("Invalid save parameters".into());
    }
    same_or_immutable(words.is_empty())
}

fn check_appendonly(value: &[u8]) -> Result<Change, String> {
    if value.eq_ignore_ascii_case(b"no") {
        Ok(Change::Same)
    } else if value.eq_ignore_ascii_case(b"yes") {
        Err(IMMUTABLE.into())
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn check_maxmemory(value: &[u8]) -> Result<Change, String> {
    let bytes = memory_value(value).ok_or("argument must be a memory value")?;
    same_or_immutable(bytes == 0)
}

fn check_policy(value: &[u8]) -> Result<Change, String> {
    const POLICIES: [&str; 8] = [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];
    if !POLICIES
        .iter()
        .any(|p| p.as_bytes().eq_ignore_ascii_case(value))
    {
        return Err(one_of(&POLICIES));
    }
    same_or_immutable(value.eq_ignore_ascii_case(b"noeviction"))
}

/// Redis's `memtoull`: digits with an optional unit (b, k, kb, m, mb, g, gb;
/// k = 1000, kb = 1024), case-insensitive.
pub fn memory_value(value: &[u8]) -> Option<u64> {
    let digits = value.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = value[digits..].to_ascii_lowercase();
    let scale: u64 = match &unit[..] {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = std::str::from_utf8(&value[..digits]).ok()?.parse().ok()?;
    n.checked_mul(scale)
}

pub(crate) const SUBCOMMANDS: &[(&str, i32)] = &[
    ("get", -3),
    ("set", -4),
    ("resetstat", 2),
    ("rewrite", 2),
    ("help", 2),
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
pub fn config(args: &Args, _: &mut Client, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    let result = match subcommand(args, "CONFIG", SUBCOMMANDS) {
        Ok("get") => {
            get(args, facts, enc);
            Ok(())
        }
        Ok("set") => set(args).map(|()| enc.ok()),
        Ok("resetstat") => {
            enc.ok();
            Ok(())
        }
        Ok("rewrite") => Err(CommandError::Other(
            "ERR The server is running without a config file".into(),
        )),
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
/// the parameters' own names. Each parameter appears once.
fn get(args: &Args, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    let mut found: Vec<(&[u8], &Param)> = Vec::new();
    for pattern in args.iter().skip(2) {
        let is_glob = pattern.iter().any(|c| b"[*?".contains(c));
        for param in PARAMS {
            if found.iter().any(|(_, p)| p.name == param.name) {
                continue;
            }
            if !is_glob && param.name.as_bytes().eq_ignore_ascii_case(pattern) {
                found.push((pattern, param));
            } else if is_glob
                && store::glob_match(&pattern.to_ascii_lowercase(), param.name.as_bytes())
            {
                found.push((param.name.as_bytes(), param));
            }
        }
    }
    enc.map_len(found.len());
    for (name, param) in found {
        enc.bulk(name);
        enc.bulk((param.get)(facts).as_bytes());
    }
}

/// CONFIG SET name value [name value ...], checked as Redis 7.0 does: first
/// every name (unknown, immutable, repeated), then every value, then applied.
fn set(args: &Args) -> Result<(), CommandError> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let failed = |name: &[u8], why: &str| {
        CommandError::Other(format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            String::from_utf8_lossy(name)
        ))
    };
    let mut chosen: Vec<(&Param, &[u8])> = Vec::new();
    let mut first_error = None;
    for pair in 0..(args.len() - 2) / 2 {
        let name = args.get(2 + 2 * pair);
        let Some(param) = PARAMS
            .iter()
            .find(|p| p.name.as_bytes().eq_ignore_ascii_case(name))
        else {
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
        if matches!(param.set, Set::Immutable) {
            first_error = Some(failed(name, IMMUTABLE));
        } else if chosen.iter().any(|(p, _)| p.name == param.name) {
            first_error = Some(failed(name, "duplicate parameter"));
        }
        chosen.push((param, args.get(3 + 2 * pair)));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut changes = Vec::with_capacity(chosen.len());
    for (param, value) in chosen {
        if let Set::Apply(check) = param.set {
            changes.push(check(value).map_err(|why| failed(param.name.as_bytes(), &why))?);
        }
    }
    for change in changes {
        if let Change::LogLevel(level) = change {
            log::set_max_level(level);
        }
    }
    Ok(())
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
        assert!(out.starts_with(b"*16\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n"));
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
            err(&["CONFIG", "SET", "maxmemory", "1mb"]),
            failed("maxmemory", "can't set immutable config")
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
    fn loglevel_round_trips() {
        let before = log::max_level();
        let (out, _) = run_connection_on(&[
            &["CONFIG", "SET", "loglevel", "VERBOSE"],
            &["CONFIG", "GET", "loglevel"],
        ]);
        log::set_max_level(before);
        assert_eq!(
            text(&out),
            "+OK\r\n*2\r\n$8\r\nloglevel\r\n$7\r\nverbose\r\n"
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
