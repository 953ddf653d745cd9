//! The command table: one declarative entry per command (name, arity, how it
//! is dispatched). Routing, arity checks, COMMAND and COMMAND DOCS all read
//! this one table; COMMAND's replies come from Redis's own metadata, captured
//! in `generated_docs.rs` in the same order.

use crate::{
    client, cluster, config, connection, counters, debug, expire, introspection, keyspace, latency,
    lcs, multikey, object, scan, slowlog, strings,
};
use crate::{Checks, Client, CommandError, ServerFacts, ShardCtx};
use resp::{Args, ReplyEncoder};

/// Runs on the connection's thread with the connection's state.
pub type ConnectionFn = fn(&Args, &mut Client, &ServerFacts, &mut ReplyEncoder);
/// Runs on the shard that owns `args[1]` and writes the reply.
pub type KeyFn = fn(&Args, &mut ShardCtx, &mut ReplyEncoder);
/// Runs on each shard with the subset of keys (`args[1..]`) it owns; the
/// partial counts are summed into one integer reply.
pub type CountFn = fn(&Args, &mut ShardCtx) -> i64;
/// Checks a broadcast command's arguments before it is sent anywhere.
pub type ValidateFn = fn(&Args, &Checks) -> Result<(), CommandError>;
/// Runs on every shard.
pub type BroadcastFn = fn(&Args, &mut ShardCtx) -> i64;

/// Which arguments of a command are keys: `args[first]`, `args[first + step]`
/// and so on, up to `args[last]` (`last` below 0 counts from the end: -1 is
/// the last argument), as Redis's key specs say.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange {
    /// Index of the first key.
    pub first: usize,
    /// Index of the last key; negative counts from the end.
    pub last: i32,
    /// Distance between keys (2 for key-value pairs).
    pub step: usize,
}

impl KeyRange {
    /// The keys of `args`.
    pub fn keys<'a>(&self, args: &'a Args) -> impl Iterator<Item = &'a [u8]> + 'a {
        let last = if self.last < 0 {
            args.len() as i64 + i64::from(self.last)
        } else {
            i64::from(self.last).min(args.len() as i64 - 1)
        };
        let end = (last + 1).max(self.first as i64) as usize;
        (self.first..end).step_by(self.step).map(|i| args.get(i))
    }
}

/// How a command whose keys live on several shards runs as a transaction
/// (the server holds the plan of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cross {
    /// MGET: every shard reads its keys; values go back in request order.
    Mget,
    /// MSET: every shard stores its pairs.
    Mset,
    /// MSETNX: every shard counts its existing keys; if none, every shard
    /// stores its pairs.
    Msetnx,
    /// RENAME (`nx`: RENAMENX): the source's entry moves to the destination.
    Rename {
        /// Only if the destination does not exist.
        nx: bool,
    },
    /// COPY: the source's entry is copied to the destination.
    Copy,
    /// LCS: both values are read, then compared.
    Lcs,
}

/// Commands that read every shard's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scatter {
    /// KEYS: every shard's matching keys, at one instant.
    Keys,
    /// RANDOMKEY: a shard chosen by its share of keys, then one of its keys.
    RandomKey,
    /// SCAN: the shard the cursor names.
    Scan,
}

/// Commands the server runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOp {
    /// CLIENT LIST: every shard's clients.
    ClientList,
    /// CLIENT KILL: closes clients on any shard.
    ClientKill,
    /// CONFIG RESETSTAT: every shard's counters and the process's.
    ResetStat,
    /// CONFIG SET: after the commands before it have run, so that the slow
    /// log and latency thresholds it sets apply to it and to the commands
    /// after it, as Redis checks them after every command.
    ConfigSet,
    /// DEBUG SLEEP: after the commands before it have run (it blocks its
    /// shard's thread, as Redis blocks its server).
    DebugSleep,
    /// SLOWLOG: every shard's slow log.
    SlowLog,
    /// LATENCY: every shard's latency samples.
    Latency,
    /// MONITOR: after the commands before it, so that the server plans the
    /// rest of the batch as a monitoring client's.
    Monitor,
}

/// How the results of a broadcast command are combined into one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Reply the sum of the shards' integers.
    Sum,
    /// Reply `+OK`.
    Ok,
}

/// Where and how a command runs.
#[derive(Clone, Copy)]
pub enum Dispatch {
    /// On the connection's thread; reads or changes connection state.
    Connection(ConnectionFn),
    /// On the shard that owns the key in `args[1]`.
    Key(KeyFn),
    /// On the shard that owns the key in `args[2]` (a subcommand's key, as in
    /// `OBJECT ENCODING key`); without one (`OBJECT HELP`), on any shard.
    SubKey(KeyFn),
    /// Keys `args[1..]` split by owning shard; replies the sum of the counts.
    KeysCount(CountFn),
    /// A command over several keys: `whole` runs it on one shard when all its
    /// keys live there; otherwise it runs as a transaction as `cross` says.
    Multi {
        /// Argument check, done before the keys are looked at.
        validate: ValidateFn,
        /// Where the keys are.
        keys: KeyRange,
        /// The whole command on one shard.
        whole: KeyFn,
        /// The plan across shards.
        cross: Cross,
    },
    /// On every shard, combined as `combine` says.
    AllShards {
        /// Argument check, done once before the broadcast.
        validate: ValidateFn,
        /// The per-shard operation.
        op: BroadcastFn,
        /// How replies combine.
        combine: Combine,
    },
    /// INFO: gathers every shard's statistics, then renders them.
    Info,
    /// Reads every shard (SCAN: the one its cursor names) and combines
    /// what they return.
    Scatter {
        /// Argument check, done before anything is sent.
        validate: ValidateFn,
        /// Which command.
        kind: Scatter,
    },
    /// Needs state only the server has (every shard's clients, process
    /// counters): the server runs it.
    Server(ServerOp),
    /// A command whose subcommands (`args[1]`) run in different places
    /// (DEBUG, CONFIG): the first route whose name matches, else `otherwise`.
    Sub {
        /// Subcommand names (lower case) and where each runs.
        routes: &'static [(&'static str, Dispatch)],
        /// Where any other subcommand (and HELP, and errors) runs.
        otherwise: &'static Dispatch,
    },
}

/// One command.
pub struct CommandSpec {
    /// Lower-case name, as Redis reports it.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// How it runs.
    pub dispatch: Dispatch,
    /// Redis's `no-auth` flag: allowed before the client authenticated.
    pub no_auth: bool,
    /// Redis's `denyoom` flag: may add memory, so refused above `maxmemory`.
    pub deny_oom: bool,
    /// Redis's `fast` flag: its latency samples are `fast-command` events,
    /// the others' `command` events (LATENCY).
    pub fast: bool,
    /// Redis's `admin` flag: MONITOR does not show it.
    pub admin: bool,
    /// Redis's `readonly` flag: it reads keys.
    pub readonly: bool,
    /// Redis's `write` flag: it writes keys.
    pub write: bool,
    /// For a container command (CONFIG, CLIENT ...): its subcommands, with
    /// their arities and flags. The server checks them before anything
    /// runs (an unknown subcommand or a wrong count is refused, as Redis's
    /// `processCommand` refuses them), and each has its own statistics
    /// (`cmdstat_config|get`).
    pub subcommands: &'static [SubcommandSpec],
}

/// One subcommand of a container command (`get` of CONFIG GET). Redis
/// flags none of Mayfly's subcommands `fast`, `no_auth`, `denyoom`,
/// `write` or `may_replicate` (the table's tests check it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubcommandSpec {
    /// Lower-case name, without its container's.
    pub name: &'static str,
    /// Redis arity, counted from the container's name (CONFIG GET: -3).
    pub arity: i32,
    /// Redis's `admin` flag: MONITOR does not show it.
    pub admin: bool,
    /// Redis's `readonly` flag: it reads keys.
    pub readonly: bool,
}

/// A subcommand without flags; `.admin()` and `.readonly()` add them.
pub(crate) const fn sub(name: &'static str, arity: i32) -> SubcommandSpec {
    SubcommandSpec {
        name,
        arity,
        admin: false,
        readonly: false,
    }
}

impl SubcommandSpec {
    /// Marks the subcommand `admin`.
    pub(crate) const fn admin(self) -> Self {
        SubcommandSpec {
            admin: true,
            ..self
        }
    }

    /// Marks the subcommand `readonly`.
    pub(crate) const fn readonly(self) -> Self {
        SubcommandSpec {
            readonly: true,
            ..self
        }
    }
}

impl CommandSpec {
    /// Where `args` runs: the dispatch, or for a command with subcommands,
    /// the route its subcommand takes (never [`Dispatch::Sub`]).
    pub fn route(&self, args: &Args) -> Dispatch {
        let mut dispatch = self.dispatch;
        while let Dispatch::Sub { routes, otherwise } = dispatch {
            let sub = args.iter().nth(1).unwrap_or_default();
            dispatch = routes
                .iter()
                .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(sub))
                .map_or(*otherwise, |(_, d)| *d);
        }
        dispatch
    }

    /// Checks the argument count against the arity.
    pub fn check_arity(&self, argc: usize) -> Result<(), CommandError> {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if (arity > 0 && argc != arity) || argc < -arity {
            Err(CommandError::WrongArity(self.name.to_string()))
        } else {
            Ok(())
        }
    }
}

/// Redis's own COMMAND INFO / COMMAND DOCS replies for one command.
pub struct CapturedDocs {
    /// The command name.
    pub name: &'static str,
    /// COMMAND INFO entry, RESP2.
    pub info_resp2: &'static [u8],
    /// COMMAND INFO entry, RESP3.
    pub info_resp3: &'static [u8],
    /// COMMAND DOCS value (without the name), RESP2.
    pub docs_resp2: &'static [u8],
    /// COMMAND DOCS value (without the name), RESP3.
    pub docs_resp3: &'static [u8],
}

const fn spec(name: &'static str, arity: i32, dispatch: Dispatch) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        dispatch,
        no_auth: false,
        deny_oom: false,
        fast: false,
        admin: false,
        readonly: false,
        write: false,
        subcommands: &[],
    }
}

impl CommandSpec {
    /// Marks the command `no-auth`.
    const fn no_auth(self) -> Self {
        CommandSpec {
            no_auth: true,
            ..self
        }
    }

    /// Marks the command `denyoom`.
    const fn deny_oom(self) -> Self {
        CommandSpec {
            deny_oom: true,
            ..self
        }
    }

    /// Marks the command `fast`.
    const fn fast(self) -> Self {
        CommandSpec { fast: true, ..self }
    }

    /// Marks the command `admin`.
    const fn admin(self) -> Self {
        CommandSpec {
            admin: true,
            ..self
        }
    }

    /// Marks the command `readonly`.
    const fn readonly(self) -> Self {
        CommandSpec {
            readonly: true,
            ..self
        }
    }

    /// Marks the command `write`.
    const fn write(self) -> Self {
        CommandSpec {
            write: true,
            ..self
        }
    }

    /// Makes the command a container of `subcommands`.
    const fn subcommands(self, subcommands: &'static [SubcommandSpec]) -> Self {
        CommandSpec {
            subcommands,
            ..self
        }
    }
}

const fn multi(
    validate: ValidateFn,
    (first, last, step): (usize, i32, usize),
    whole: KeyFn,
    cross: Cross,
) -> Dispatch {
    Dispatch::Multi {
        validate,
        keys: KeyRange { first, last, step },
        whole,
        cross,
    }
}

/// Every command Mayfly implements.
pub static TABLE: &[CommandSpec] = &[
    // connection
    spec("ping", -1, Dispatch::Connection(connection::ping)).fast(),
    spec("echo", 2, Dispatch::Connection(connection::echo)).fast(),
    spec("auth", -2, Dispatch::Connection(connection::auth))
        .no_auth()
        .fast(),
    spec("hello", -1, Dispatch::Connection(connection::hello))
        .no_auth()
        .fast(),
    spec("quit", -1, Dispatch::Connection(connection::quit))
        .no_auth()
        .fast(),
    spec("select", 2, Dispatch::Connection(connection::select)).fast(),
    spec(
        "client",
        -2,
        Dispatch::Sub {
            routes: &[
                ("list", Dispatch::Server(ServerOp::ClientList)),
                ("kill", Dispatch::Server(ServerOp::ClientKill)),
            ],
            otherwise: &Dispatch::Connection(client::client),
        },
    )
    .subcommands(client::SUBCOMMANDS),
    spec("reset", 1, Dispatch::Connection(client::reset))
        .no_auth()
        .fast(),
    // cluster (emulated: one node owning every slot)
    spec("cluster", -2, Dispatch::Connection(cluster::cluster))
        .subcommands(cluster::REDIS_SUBCOMMANDS),
    spec("readonly", 1, Dispatch::Connection(cluster::readonly)).fast(),
    spec("readwrite", 1, Dispatch::Connection(cluster::readonly)).fast(),
    // strings
    spec("get", 2, Dispatch::Key(strings::get))
        .readonly()
        .fast(),
    spec("set", -3, Dispatch::Key(strings::set))
        .write()
        .deny_oom(),
    spec("setex", 4, Dispatch::Key(strings::setex))
        .write()
        .deny_oom(),
    spec("psetex", 4, Dispatch::Key(strings::psetex))
        .write()
        .deny_oom(),
    spec("setnx", 3, Dispatch::Key(strings::setnx))
        .write()
        .deny_oom()
        .fast(),
    spec("getset", 3, Dispatch::Key(strings::getset))
        .write()
        .deny_oom()
        .fast(),
    spec("getdel", 2, Dispatch::Key(strings::getdel))
        .write()
        .fast(),
    spec("getex", -2, Dispatch::Key(strings::getex))
        .write()
        .fast(),
    spec("append", 3, Dispatch::Key(strings::append))
        .write()
        .deny_oom()
        .fast(),
    spec("setrange", 4, Dispatch::Key(strings::setrange))
        .write()
        .deny_oom(),
    spec("getrange", 4, Dispatch::Key(strings::getrange)).readonly(),
    spec("substr", 4, Dispatch::Key(strings::getrange)).readonly(),
    spec("strlen", 2, Dispatch::Key(strings::strlen))
        .readonly()
        .fast(),
    spec("incr", 2, Dispatch::Key(counters::incr))
        .write()
        .deny_oom()
        .fast(),
    spec("decr", 2, Dispatch::Key(counters::decr))
        .write()
        .deny_oom()
        .fast(),
    spec("incrby", 3, Dispatch::Key(counters::incrby))
        .write()
        .deny_oom()
        .fast(),
    spec("decrby", 3, Dispatch::Key(counters::decrby))
        .write()
        .deny_oom()
        .fast(),
    spec("incrbyfloat", 3, Dispatch::Key(counters::incrbyfloat))
        .write()
        .deny_oom()
        .fast(),
    spec(
        "lcs",
        -3,
        multi(keyspace::no_arguments, (1, 2, 1), lcs::lcs, Cross::Lcs),
    )
    .readonly(),
    spec(
        "mget",
        -2,
        multi(
            keyspace::no_arguments,
            (1, -1, 1),
            multikey::mget,
            Cross::Mget,
        ),
    )
    .readonly()
    .fast(),
    spec(
        "mset",
        -3,
        multi(
            multikey::validate_pairs,
            (1, -1, 2),
            multikey::mset,
            Cross::Mset,
        ),
    )
    .write()
    .deny_oom(),
    spec(
        "msetnx",
        -3,
        multi(
            multikey::validate_pairs,
            (1, -1, 2),
            multikey::msetnx,
            Cross::Msetnx,
        ),
    )
    .write()
    .deny_oom(),
    // keyspace
    spec("del", -2, Dispatch::KeysCount(keyspace::del)).write(),
    spec("exists", -2, Dispatch::KeysCount(keyspace::exists))
        .readonly()
        .fast(),
    spec("unlink", -2, Dispatch::KeysCount(keyspace::del))
        .write()
        .fast(),
    spec("touch", -2, Dispatch::KeysCount(keyspace::touch))
        .readonly()
        .fast(),
    spec("move", 3, Dispatch::Key(keyspace::move_key))
        .write()
        .fast(),
    spec(
        "rename",
        3,
        multi(
            keyspace::no_arguments,
            (1, 2, 1),
            keyspace::rename,
            Cross::Rename { nx: false },
        ),
    )
    .write(),
    spec(
        "renamenx",
        3,
        multi(
            keyspace::no_arguments,
            (1, 2, 1),
            keyspace::renamenx,
            Cross::Rename { nx: true },
        ),
    )
    .write()
    .fast(),
    spec(
        "copy",
        -3,
        multi(
            keyspace::validate_copy,
            (1, 2, 1),
            keyspace::copy,
            Cross::Copy,
        ),
    )
    .write()
    .deny_oom(),
    spec(
        "keys",
        2,
        Dispatch::Scatter {
            validate: keyspace::no_arguments,
            kind: Scatter::Keys,
        },
    )
    .readonly(),
    spec(
        "randomkey",
        1,
        Dispatch::Scatter {
            validate: keyspace::no_arguments,
            kind: Scatter::RandomKey,
        },
    )
    .readonly(),
    spec(
        "scan",
        -2,
        Dispatch::Scatter {
            validate: scan::validate_scan,
            kind: Scatter::Scan,
        },
    )
    .readonly(),
    spec("type", 2, Dispatch::Key(object::type_))
        .readonly()
        .fast(),
    spec("object", -2, Dispatch::SubKey(object::object)).subcommands(object::OBJECT_SUBCOMMANDS),
    spec("memory", -2, Dispatch::SubKey(object::memory)).subcommands(object::MEMORY_SUBCOMMANDS),
    spec(
        "dbsize",
        1,
        Dispatch::AllShards {
            validate: keyspace::no_arguments,
            op: keyspace::dbsize,
            combine: Combine::Sum,
        },
    )
    .readonly()
    .fast(),
    spec(
        "flushdb",
        -1,
        Dispatch::AllShards {
            validate: keyspace::flush_mode,
            op: keyspace::flushdb,
            combine: Combine::Ok,
        },
    )
    .write(),
    spec(
        "flushall",
        -1,
        Dispatch::AllShards {
            validate: keyspace::flush_mode,
            op: keyspace::flushall,
            combine: Combine::Ok,
        },
    )
    .write(),
    spec(
        "swapdb",
        3,
        Dispatch::AllShards {
            validate: keyspace::validate_swapdb,
            op: keyspace::swapdb,
            combine: Combine::Ok,
        },
    )
    .write()
    .fast(),
    // expire
    spec("expire", -3, Dispatch::Key(expire::expire))
        .write()
        .fast(),
    spec("pexpire", -3, Dispatch::Key(expire::pexpire))
        .write()
        .fast(),
    spec("expireat", -3, Dispatch::Key(expire::expireat))
        .write()
        .fast(),
    spec("pexpireat", -3, Dispatch::Key(expire::pexpireat))
        .write()
        .fast(),
    spec("ttl", 2, Dispatch::Key(expire::ttl)).readonly().fast(),
    spec("pttl", 2, Dispatch::Key(expire::pttl))
        .readonly()
        .fast(),
    spec("expiretime", 2, Dispatch::Key(expire::expiretime))
        .readonly()
        .fast(),
    spec("pexpiretime", 2, Dispatch::Key(expire::pexpiretime))
        .readonly()
        .fast(),
    spec("persist", 2, Dispatch::Key(expire::persist))
        .write()
        .fast(),
    // server
    spec("command", -1, Dispatch::Connection(introspection::command))
        .subcommands(introspection::SUBCOMMANDS),
    spec("info", -1, Dispatch::Info),
    spec(
        "config",
        -2,
        Dispatch::Sub {
            routes: &[
                ("resetstat", Dispatch::Server(ServerOp::ResetStat)),
                ("set", Dispatch::Server(ServerOp::ConfigSet)),
            ],
            otherwise: &Dispatch::Connection(config::config),
        },
    )
    .subcommands(config::SUBCOMMANDS),
    spec(
        "debug",
        -2,
        Dispatch::Sub {
            routes: &[
                ("object", Dispatch::SubKey(object::debug_object)),
                ("sleep", Dispatch::Server(ServerOp::DebugSleep)),
                (
                    "set-active-expire",
                    Dispatch::AllShards {
                        validate: debug::validate_active_expire,
                        op: debug::set_active_expire,
                        combine: Combine::Ok,
                    },
                ),
                ("help", Dispatch::Connection(debug::debug_help)),
            ],
            otherwise: &Dispatch::Connection(debug::debug_unknown),
        },
    )
    .admin(),
    spec("time", 1, Dispatch::Connection(client::time)).fast(),
    spec("slowlog", -2, Dispatch::Server(ServerOp::SlowLog)).subcommands(slowlog::SUBCOMMANDS),
    spec("latency", -2, Dispatch::Server(ServerOp::Latency)).subcommands(latency::SUBCOMMANDS),
    spec("monitor", 1, Dispatch::Server(ServerOp::Monitor)).admin(),
];

/// Finds a command by name, case-insensitively.
///
/// Every request pays for this, so it does not scan [`TABLE`]: an index
/// built from it on first use buckets the commands by length and first and
/// last letter, and a name is compared only with the one or two commands
/// of its bucket.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: std::sync::OnceLock<Vec<Vec<u16>>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut buckets = vec![Vec::new(); LOOKUP_BUCKETS];
        for (i, spec) in TABLE.iter().enumerate() {
            buckets[lookup_bucket(spec.name.as_bytes())].push(i as u16);
        }
        buckets
    });
    index[lookup_bucket(name)]
        .iter()
        .map(|&i| &TABLE[usize::from(i)])
        .find(|c| c.name.len() == name.len() && c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Buckets of [`lookup`]'s index (a power of two).
const LOOKUP_BUCKETS: usize = 512;

/// The index bucket of a command name, whatever its case.
fn lookup_bucket(name: &[u8]) -> usize {
    let (Some(first), Some(last)) = (name.first(), name.last()) else {
        return 0;
    };
    let mix = name.len() * 1021
        + usize::from(first.to_ascii_lowercase()) * 31
        + usize::from(last.to_ascii_lowercase());
    mix & (LOOKUP_BUCKETS - 1)
}

/// Redis's reply to an unknown command:
/// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `.
pub fn unknown_command_error(args: &Args) -> CommandError {
    let name = String::from_utf8_lossy(truncate(args.get(0), 128));
    let mut rest = String::new();
    for arg in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push('\'');
        rest.push_str(&String::from_utf8_lossy(truncate(arg, room)));
        rest.push_str("' ");
    }
    CommandError::Other(format!(
        "ERR unknown command '{name}', with args beginning with: {rest}"
    ))
}

/// Whether a command named `name` is an HTTP request line or header sent
/// to the RESP port (`POST`, `Host:`), which Redis takes for a
/// cross-protocol scripting attack and answers by closing the connection.
pub fn cross_protocol_attack(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

fn truncate(s: &[u8], max: usize) -> &[u8] {
    &s[..s.len().min(max)]
}

/// Redis's captured docs for `spec`.
pub(crate) fn captured_docs(spec: &CommandSpec) -> Option<&'static CapturedDocs> {
    crate::generated_docs::CAPTURED
        .iter()
        .find(|d| d.name == spec.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_command_and_only_those() {
        for spec in TABLE {
            let upper = spec.name.to_ascii_uppercase();
            assert_eq!(lookup(upper.as_bytes()).map(|c| c.name), Some(spec.name));
            assert_eq!(
                lookup(spec.name.as_bytes()).map(|c| c.name),
                Some(spec.name)
            );
        }
        assert!(lookup(b"").is_none());
        assert!(lookup(b"gett").is_none());
        assert!(lookup(b"ge").is_none());
        assert!(lookup(b"g\xc5t").is_none());
        let crowded = (0..LOOKUP_BUCKETS)
            .map(|b| {
                TABLE
                    .iter()
                    .filter(|c| lookup_bucket(c.name.as_bytes()) == b)
                    .count()
            })
            .max();
        assert!(crowded <= Some(3), "a bucket holds {crowded:?} commands");
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"gets").is_none());
    }

    #[test]
    fn every_command_has_captured_docs_with_its_arity() {
        for spec in TABLE {
            let docs = captured_docs(spec).unwrap_or_else(|| panic!("{} has no docs", spec.name));
            // The entry starts *10, then the name, then `:<arity>`.
            let arity = format!(":{}\r\n", spec.arity);
            let text = String::from_utf8_lossy(docs.info_resp2);
            let after_name = text.splitn(4, "\r\n").nth(3).unwrap_or_default();
            assert!(
                after_name.starts_with(&arity[..arity.len() - 2]),
                "{}: {}",
                spec.name,
                text
            );
        }
        assert_eq!(crate::generated_docs::CAPTURED.len(), TABLE.len());
    }

    /// `(name, arity, flags)` of the COMMAND INFO entry (RESP2) whose name
    /// line starts `text`: its own flags, not its subcommands'.
    fn captured_entry(text: &str) -> (&str, i32, Vec<&str>) {
        let mut lines = text.split("\r\n");
        let name = lines.next().unwrap_or_default();
        let number = |line: Option<&str>, kind: char| -> i64 {
            let digits = line.and_then(|l| l.strip_prefix(kind));
            digits.and_then(|n| n.parse().ok()).expect("a number")
        };
        let arity = number(lines.next(), ':') as i32;
        let count = number(lines.next(), '*') as usize;
        let flags = lines.take(count).map(|f| f.trim_start_matches('+'));
        (name, arity, flags.collect())
    }

    /// The captured COMMAND INFO entry of `spec`, as text.
    fn captured_info(spec: &CommandSpec) -> &'static str {
        let docs = captured_docs(spec).unwrap_or_else(|| panic!("{} has no docs", spec.name));
        std::str::from_utf8(docs.info_resp2).expect("ASCII")
    }

    /// Redis's flags that Mayfly models, each as `(name, whether set)`:
    /// they must be exactly those of `redis` among them.
    fn assert_flags(what: &str, redis: &[&str], ours: &[(&str, bool)]) {
        for &(flag, set) in ours {
            assert_eq!(set, redis.contains(&flag), "{what}: {flag} in {redis:?}");
        }
    }

    #[test]
    fn flags_are_redis_ones() {
        for spec in TABLE {
            // `*10`, the name's length, then the entry from its name.
            let info = captured_info(spec)
                .splitn(3, "\r\n")
                .nth(2)
                .unwrap_or_default();
            let (name, _, flags) = captured_entry(info);
            assert_eq!(name, spec.name);
            assert_flags(
                spec.name,
                &flags,
                &[
                    ("no_auth", spec.no_auth),
                    ("denyoom", spec.deny_oom),
                    ("fast", spec.fast),
                    ("admin", spec.admin),
                    ("readonly", spec.readonly),
                    ("write", spec.write),
                    // MONITOR would refuse it: the table would need the flag.
                    ("may_replicate", false),
                ],
            );
        }
    }

    /// `(name, arity, flags)` of the subcommands in a captured COMMAND INFO.
    fn captured_subcommands(spec: &CommandSpec) -> Vec<(&'static str, i32, Vec<&'static str>)> {
        let text = captured_info(spec);
        let prefix = format!("\r\n{}|", spec.name);
        text.match_indices(&prefix)
            .map(|(at, _)| {
                let (name, arity, flags) = captured_entry(&text[at + 2..]);
                (name.split('|').nth(1).unwrap_or_default(), arity, flags)
            })
            .collect()
    }

    #[test]
    fn subcommands_are_redis_ones_with_their_arities_and_flags() {
        // Redis 7.2's, which Mayfly has already.
        const NEWER: &[&str] = &["client|no-touch", "client|setinfo"];
        for spec in TABLE {
            let captured = captured_subcommands(spec);
            assert_eq!(
                spec.subcommands.is_empty(),
                captured.is_empty(),
                "{} is a container in Redis: {captured:?}",
                spec.name
            );
            for sub in spec.subcommands {
                let full = format!("{}|{}", spec.name, sub.name);
                if NEWER.contains(&full.as_str()) {
                    continue;
                }
                let found = captured.iter().find(|(name, _, _)| *name == sub.name);
                let (_, redis_arity, flags) =
                    found.unwrap_or_else(|| panic!("{full} is not Redis's"));
                assert_eq!(sub.arity, *redis_arity, "{full}");
                assert_flags(
                    &full,
                    flags,
                    &[
                        ("no_auth", false),
                        ("denyoom", false),
                        ("fast", false),
                        ("admin", sub.admin),
                        ("readonly", sub.readonly),
                        ("write", false),
                        ("may_replicate", false),
                    ],
                );
            }
        }
    }

    /// The subcommands a captured reply names (`<command>|<sub>`), in order.
    fn named_subcommands(spec: &CommandSpec, raw: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(raw);
        let prefix = format!("\r\n{}|", spec.name);
        text.match_indices(&prefix)
            .map(|(at, _)| {
                let rest = &text[at + prefix.len()..];
                rest[..rest.find("\r\n").unwrap_or(rest.len())].to_string()
            })
            .collect()
    }

    #[test]
    fn captured_docs_advertise_only_the_subcommands_mayfly_has_sorted() {
        for spec in TABLE {
            let docs = captured_docs(spec).expect("docs");
            for raw in [
                docs.info_resp2,
                docs.info_resp3,
                docs.docs_resp2,
                docs.docs_resp3,
            ] {
                let named = named_subcommands(spec, raw);
                for sub in &named {
                    assert!(
                        spec.subcommands.iter().any(|s| s.name == sub),
                        "{}|{sub} is advertised but not in the table",
                        spec.name
                    );
                }
                let mut sorted = named.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(named, sorted, "{}", spec.name);
            }
        }
    }

    #[test]
    fn arity_errors_name_the_command() {
        let set = lookup(b"set").unwrap();
        assert_eq!(set.check_arity(3), Ok(()));
        assert_eq!(
            set.check_arity(2).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'set' command"
        );
        assert!(lookup(b"get").unwrap().check_arity(3).is_err());
    }

    #[test]
    fn unknown_command_lists_args() {
        let args = Args::from_slices(&["FOO", "a", "b"]);
        assert_eq!(
            unknown_command_error(&args).to_string(),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
        );
        let args = Args::from_slices(&["foo"]);
        assert_eq!(
            unknown_command_error(&args).to_string(),
            "ERR unknown command 'foo', with args beginning with: "
        );
    }
}
