//! MONITOR, and what a monitoring client sees, as Redis 7.0 does it: the
//! command, which commands are shown (and which arguments redacted), the
//! text of each line, and which commands a monitoring client may still
//! send. Where the lines go is the server's business (its `monitor.rs`).
//!
//! Redis shows a command once it ran (`call()`), so commands it refused
//! before running them (unknown, wrong arity, unknown subcommand, NOAUTH,
//! OOM) are not shown; nor are commands flagged `admin` (CONFIG, DEBUG,
//! CLIENT LIST/KILL ..., MONITOR itself). Which commands and subcommands
//! those are, with their arity, comes from Redis's own COMMAND INFO
//! captured in `generated_docs.rs`, not from a list kept by hand. A
//! monitoring client is a replica to Redis, so commands flagged `readonly`,
//! `write` or `may_replicate` are refused to it.

use crate::{lookup, Client, ServerFacts};
use resp::{Args, ReplyEncoder};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// MONITOR: from now on every command any client runs is streamed to this
/// one (the server does the streaming). A client that already monitors
/// gets no reply at all, as in Redis.
pub fn monitor(_: &Args, client: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    if client.monitor {
        return;
    }
    client.monitor = true;
    enc.ok();
}

/// What MONITOR needs to know of a command or subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Traits {
    arity: i32,
    /// Flagged `admin`: never shown.
    admin: bool,
    /// Flagged `readonly`, `write` or `may_replicate`: refused to monitors.
    keyspace: bool,
}

/// A command's traits and its subcommands' (by lower-case name).
struct Entry {
    traits: Traits,
    subcommands: Vec<(&'static str, Traits)>,
}

/// Every command of the table, from its captured COMMAND INFO.
fn entries() -> &'static HashMap<&'static str, Entry> {
    static ENTRIES: OnceLock<HashMap<&'static str, Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        crate::generated_docs::CAPTURED
            .iter()
            .filter_map(|docs| {
                let mut rest = docs.info_resp2;
                let info = Item::parse(&mut rest)?;
                let (name, traits) = info.command()?;
                let subcommands = match info.at(9) {
                    Some(Item::Array(subs)) => subs
                        .iter()
                        .filter_map(Item::command)
                        .filter_map(|(full, traits)| Some((full.split_once('|')?.1, traits)))
                        .collect(),
                    _ => Vec::new(),
                };
                Some((
                    name,
                    Entry {
                        traits,
                        subcommands,
                    },
                ))
            })
            .collect()
    })
}

/// The command (or subcommand) Redis would run for `args`, if it would run
/// one: `None` when it would refuse it first (unknown command or
/// subcommand, wrong arity).
fn resolve(args: &Args) -> Option<Traits> {
    let spec = lookup(args.get(0))?;
    let entry = entries().get(spec.name)?;
    let traits = match args.iter().nth(1) {
        Some(sub) if !entry.subcommands.is_empty() => {
            let (_, traits) = entry
                .subcommands
                .iter()
                .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(sub))?;
            *traits
        }
        _ => entry.traits,
    };
    let argc = args.len() as i64;
    let arity = i64::from(traits.arity);
    let fits = if arity > 0 {
        argc == arity
    } else {
        argc >= -arity
    };
    fits.then_some(traits)
}

/// Whether a monitoring client may not run `args` (`-ERR Replica can't
/// interact with the keyspace`): commands that read or write keys.
pub fn refused_to_monitors(args: &Args) -> bool {
    resolve(args).is_some_and(|t| t.keyspace)
}

/// `args`' part of a MONITOR line (`"set" "k" "v"`, each argument quoted as
/// Redis's `sdscatrepr`, AUTH's and HELLO's passwords redacted), or `None`
/// if MONITOR does not show this command.
pub fn monitor_args(args: &Args) -> Option<Vec<u8>> {
    if resolve(args).is_none_or(|t| t.admin) {
        return None;
    }
    // CONFIG, whose values the slow log also redacts, is an admin command:
    // never shown.
    let redacted = crate::slowlog::redacted(args);
    let mut out = Vec::with_capacity(args.data_len() + 3 * args.len());
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if redacted.contains(&i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            resp::repr(arg, &mut out);
        }
    }
    Some(out)
}

/// A whole MONITOR line: `+<secs>.<usecs> [<db> <addr>] <args>\r\n`, where
/// `time` is since the unix epoch and `args` is [`monitor_args`]'.
pub fn monitor_line(out: &mut Vec<u8>, time: Duration, db: usize, addr: &str, args: &[u8]) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "+{}.{:06} [{db} {addr}] ",
        time.as_secs(),
        time.subsec_micros()
    );
    out.extend_from_slice(args);
    out.extend_from_slice(b"\r\n");
}

/// A RESP2 reply as captured in `generated_docs.rs`, enough to read
/// COMMAND INFO entries.
enum Item {
    /// A simple or bulk string (static: the captured bytes).
    Text(&'static str),
    Integer(i64),
    Array(Vec<Item>),
}

impl Item {
    /// Parses one reply from the front of `input`.
    fn parse(input: &mut &'static [u8]) -> Option<Item> {
        let end = input.windows(2).position(|w| w == b"\r\n")?;
        let (line, rest) = (&input[..end], &input[end + 2..]);
        let (&kind, body) = line.split_first()?;
        *input = rest;
        let number = || std::str::from_utf8(body).ok()?.parse::<i64>().ok();
        match kind {
            b'+' => Some(Item::Text(std::str::from_utf8(body).ok()?)),
            b':' => Some(Item::Integer(number()?)),
            b'$' => {
                let len = usize::try_from(number()?).ok()?;
                let text = input.get(..len)?;
                *input = input.get(len + 2..)?;
                Some(Item::Text(std::str::from_utf8(text).ok()?))
            }
            b'*' => {
                let count = usize::try_from(number()?).ok()?;
                let items = (0..count)
                    .map(|_| Item::parse(input))
                    .collect::<Option<Vec<_>>>()?;
                Some(Item::Array(items))
            }
            _ => None,
        }
    }

    fn at(&self, index: usize) -> Option<&Item> {
        match self {
            Item::Array(items) => items.get(index),
            _ => None,
        }
    }

    /// A COMMAND INFO entry's name and traits.
    fn command(&self) -> Option<(&'static str, Traits)> {
        let (Some(Item::Text(name)), Some(&Item::Integer(arity)), Some(Item::Array(flags))) =
            (self.at(0), self.at(1), self.at(2))
        else {
            return None;
        };
        let flagged = |wanted: &[&str]| {
            flags
                .iter()
                .any(|f| matches!(f, Item::Text(f) if wanted.contains(f)))
        };
        let traits = Traits {
            arity: i32::try_from(arity).ok()?,
            admin: flagged(&["admin"]),
            keyspace: flagged(&["readonly", "write", "may_replicate"]),
        };
        Some((name, traits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(parts: &[&str]) -> Option<String> {
        monitor_args(&Args::from_slices(parts)).map(|b| String::from_utf8(b).expect("ASCII"))
    }

    #[test]
    fn every_command_has_its_traits() {
        for spec in crate::TABLE {
            assert!(entries().contains_key(spec.name), "{}", spec.name);
        }
        let client = &entries()["client"];
        let list = client.subcommands.iter().find(|(n, _)| *n == "list");
        assert_eq!(
            list.map(|(_, t)| *t),
            Some(Traits {
                arity: -2,
                admin: true,
                keyspace: false
            })
        );
        assert_eq!(entries()["get"].traits.arity, 2);
        assert!(entries()["get"].traits.keyspace);
        assert!(!entries()["ping"].traits.keyspace);
    }

    #[test]
    fn admin_and_refused_commands_are_not_shown() {
        assert_eq!(
            shown(&["SET", "k", "v"]).as_deref(),
            Some(r#""SET" "k" "v""#)
        );
        assert_eq!(
            shown(&["client", "ID"]).as_deref(),
            Some(r#""client" "ID""#)
        );
        assert_eq!(
            shown(&["CONFIG", "HELP"]).as_deref(),
            Some(r#""CONFIG" "HELP""#)
        );
        for hidden in [
            &["CLIENT", "LIST"][..],
            &["client", "kill", "id", "1"],
            &["CONFIG", "GET", "port"],
            &["DEBUG", "HELP"],
            &["MONITOR"],
            // Refused before running: unknown, unknown subcommand, arity.
            &["NOSUCH"],
            &["CLIENT", "FOO"],
            &["CONFIG", "GET"],
            &["GET"],
            &["OBJECT", "FOO", "k"],
        ] {
            assert_eq!(shown(hidden), None, "{hidden:?}");
        }
    }

    #[test]
    fn keyspace_commands_are_refused_to_monitors() {
        for refused in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["DBSIZE"],
            &["TYPE", "k"],
            &["OBJECT", "ENCODING", "k"],
            &["KEYS", "*"],
        ] {
            assert!(
                refused_to_monitors(&Args::from_slices(refused)),
                "{refused:?}"
            );
        }
        for allowed in [
            &["PING"][..],
            &["INFO"],
            &["SELECT", "1"],
            &["CLIENT", "ID"],
            &["HELLO", "3"],
            &["RESET"],
            &["QUIT"],
            &["GET"], // refused for its arity first
        ] {
            assert!(
                !refused_to_monitors(&Args::from_slices(allowed)),
                "{allowed:?}"
            );
        }
    }

    #[test]
    fn passwords_are_redacted_as_redis_does() {
        for (parts, line) in [
            (&["AUTH", "pw"][..], r#""AUTH" "(redacted)""#),
            (&["auth", "u", "pw"], r#""auth" "(redacted)" "(redacted)""#),
            (&["AUTH", "a", "b", "c"], r#""AUTH" "a" "b" "c""#),
            (
                &["HELLO", "3", "AUTH", "u", "pw"],
                r#""HELLO" "3" "AUTH" "(redacted)" "(redacted)""#,
            ),
            (
                &["HELLO", "2", "SETNAME", "n", "auth", "u", "pw", "FOO"],
                r#""HELLO" "2" "SETNAME" "n" "auth" "(redacted)" "(redacted)" "FOO""#,
            ),
            (
                &["HELLO", "2", "FOO", "AUTH", "u", "pw"],
                r#""HELLO" "2" "FOO" "AUTH" "u" "pw""#,
            ),
            (&["HELLO", "2", "AUTH", "u"], r#""HELLO" "2" "AUTH" "u""#),
            (
                &["HELLO", "9", "AUTH", "u", "pw"],
                r#""HELLO" "9" "AUTH" "u" "pw""#,
            ),
        ] {
            assert_eq!(shown(parts).as_deref(), Some(line), "{parts:?}");
        }
    }

    #[test]
    fn arguments_are_quoted_as_sdscatrepr() {
        let args = Args::from_slices(&[&b"SET"[..], b"k\"\\\n\r\t\x07\x08", b"\x00\x7f\xff ~"]);
        assert_eq!(
            String::from_utf8(monitor_args(&args).expect("shown")).expect("ASCII"),
            r#""SET" "k\"\\\n\r\t\a\b" "\x00\x7f\xff ~""#
        );
        let mut line = Vec::new();
        monitor_line(
            &mut line,
            Duration::from_micros(1_339_518_083_000_042),
            3,
            "127.0.0.1:60866",
            br#""keys" "*""#,
        );
        assert_eq!(
            line,
            b"+1339518083.000042 [3 127.0.0.1:60866] \"keys\" \"*\"\r\n"
        );
    }

    #[test]
    fn a_second_monitor_gets_no_reply() {
        let (out, client) = crate::testkit::run_connection_on(&[&["MONITOR"], &["MONITOR"]]);
        assert_eq!(out, b"+OK\r\n");
        assert!(client.monitor);
        let (out, client) = crate::testkit::run_connection_on(&[&["MONITOR"], &["RESET"]]);
        assert_eq!(out, b"+OK\r\n+RESET\r\n");
        assert!(!client.monitor, "RESET ends monitoring");
    }
}
