//! MONITOR, and what a monitoring client sees, as Redis 7.0 does it: the
//! command, which commands are shown (and which arguments redacted), the
//! text of each line, and which commands a monitoring client may still
//! send. Where the lines go is the server's business (its `monitor.rs`).
//!
//! Redis shows a command once it ran (`call()`), so commands it refused
//! before running them (unknown, wrong arity, unknown subcommand, NOAUTH,
//! OOM) are not shown; nor are commands flagged `admin` (CONFIG, DEBUG,
//! CLIENT LIST/KILL ..., MONITOR itself). A monitoring client is a replica
//! to Redis, so commands flagged `readonly`, `write` or `may_replicate` are
//! refused to it. Both read the [`CommandId`] the server resolved the
//! command to (its subcommand's, for a container) and the command table's
//! flags, which the table's tests check against Redis's captured COMMAND
//! INFO.

use crate::{Client, CommandId, ServerFacts};
use resp::{Args, ReplyEncoder};
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

/// Whether a monitoring client may not run `command` (`-ERR Replica
/// can't interact with the keyspace`): a command that reads or writes keys.
pub fn refused_to_monitors(command: CommandId) -> bool {
    command.touches_keyspace()
}

/// `args`' part of a MONITOR line (`"set" "k" "v"`, each argument quoted as
/// Redis's `sdscatrepr`, AUTH's and HELLO's passwords redacted), or `None`
/// if MONITOR does not show `command`, which `args` ran.
pub fn monitor_args(command: CommandId, args: &Args) -> Option<Vec<u8>> {
    if command.is_admin() {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testkit::command_of;

    /// How a monitor sees `parts` run: commands the server refuses before
    /// running them have no [`CommandId`], and are neither run nor shown.
    fn shown(parts: &[&str]) -> Option<String> {
        let args = Args::from_slices(parts);
        let line = monitor_args(command_of(parts)?, &args)?;
        Some(String::from_utf8(line).expect("ASCII"))
    }

    fn refused(parts: &[&str]) -> bool {
        command_of(parts).is_some_and(refused_to_monitors)
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
        for parts in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["DBSIZE"],
            &["TYPE", "k"],
            &["OBJECT", "ENCODING", "k"],
            &["KEYS", "*"],
        ] {
            assert!(refused(parts), "{parts:?}");
        }
        for parts in [
            &["PING"][..],
            &["INFO"],
            &["SELECT", "1"],
            &["CLIENT", "ID"],
            &["HELLO", "3"],
            &["RESET"],
            &["QUIT"],
            &["GET"], // refused for its arity first
        ] {
            assert!(!refused(parts), "{parts:?}");
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
        let parts = [&b"SET"[..], b"k\"\\\n\r\t\x07\x08", b"\x00\x7f\xff ~"];
        let line = monitor_args(command_of(&parts).expect("SET"), &Args::from_slices(&parts));
        assert_eq!(
            String::from_utf8(line.expect("shown")).expect("ASCII"),
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
