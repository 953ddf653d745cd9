//! DEBUG SLEEP and DEBUG HELP, and DEBUG's error for anything it does not
//! know. The server routes DEBUG's subcommands (OBJECT and SET-ACTIVE-EXPIRE
//! live with the keyspace); these are the connection-side ones.

use crate::client::reply_help;
use crate::{Checks, Client, CommandError, ServerFacts};
use resp::{Args, ReplyEncoder};
use std::time::Duration;

/// Redis 7.0's DEBUG HELP, cut down to the subcommands Mayfly has.
const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

/// DEBUG's reply to an unknown subcommand or a wrong argument count:
/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try DEBUG HELP.`
pub fn debug_subcommand_error(args: &Args) -> CommandError {
    crate::error::subcommand_syntax_error(args)
}

/// DEBUG with a subcommand Mayfly does not have.
pub(crate) fn debug_unknown(args: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    enc.error(&debug_subcommand_error(args).to_string());
}

/// DEBUG SET-ACTIVE-EXPIRE takes exactly one argument.
pub(crate) fn validate_active_expire(args: &Args, _: &Checks) -> Result<(), CommandError> {
    if args.len() == 3 {
        Ok(())
    } else {
        Err(debug_subcommand_error(args))
    }
}

/// DEBUG SET-ACTIVE-EXPIRE 0|1 on one shard: turns the timer wheel off or
/// on. Like Redis's `atoi`, anything but a non-zero number means off.
pub(crate) fn set_active_expire(args: &Args, ctx: &mut crate::ShardCtx) -> i64 {
    ctx.settings.active_expire = leading_int(args.get(2)) != 0;
    0
}

/// C's `atoi`: optional blanks and sign, then digits, anything after ignored.
fn leading_int(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| {
            n.wrapping_mul(10).wrapping_add(i64::from(c - b'0'))
        });
    if negative {
        n.wrapping_neg()
    } else {
        n
    }
}

/// DEBUG HELP (exactly two arguments; the router checks).
pub fn debug_help(_: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    reply_help(enc, HELP);
}

/// DEBUG SLEEP seconds: blocks the calling thread (its shard) for that long,
/// as Redis blocks its whole server, then replies OK. Any other argument
/// count gets DEBUG's subcommand error.
pub fn debug_sleep(args: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    if args.len() != 3 {
        enc.error(&debug_subcommand_error(args).to_string());
        return;
    }
    std::thread::sleep(sleep_duration(args.get(2)));
    enc.ok();
}

/// Seconds as Redis reads them with `strtod` and no error check: the longest
/// decimal prefix (after spaces), so `abc` is 0 and `1x` is 1; zero for
/// negative, infinite or NaN values.
fn sleep_duration(arg: &[u8]) -> Duration {
    // No number worth sleeping for is longer; keeps this linear in effect.
    let text = String::from_utf8_lossy(&arg[..arg.len().min(64)]);
    let text = text.trim_start();
    let prefix = (0..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| text[..end].parse::<f64>().ok())
        .unwrap_or(0.0);
    Duration::try_from_secs_f64(prefix).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::facts;
    use resp::Protocol;

    fn run(f: crate::table::ConnectionFn, parts: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        f(
            &Args::from_slices(parts),
            &mut Client::new(1),
            &facts(),
            &mut ReplyEncoder::new(&mut out, Protocol::Resp2),
        );
        out
    }

    #[test]
    fn sleep_parses_like_strtod() {
        assert_eq!(sleep_duration(b"0"), Duration::ZERO);
        assert_eq!(sleep_duration(b"abc"), Duration::ZERO);
        assert_eq!(sleep_duration(b"-1"), Duration::ZERO);
        assert_eq!(sleep_duration(b"inf"), Duration::ZERO);
        assert_eq!(sleep_duration(b"nan"), Duration::ZERO);
        assert_eq!(sleep_duration(b" 1x"), Duration::from_secs(1));
        assert_eq!(sleep_duration(b"1e-3"), Duration::from_millis(1));
        assert_eq!(sleep_duration(b"0.25"), Duration::from_millis(250));
    }

    #[test]
    fn sleep_replies_ok_and_checks_arguments() {
        assert_eq!(run(debug_sleep, &["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
        assert_eq!(
            run(debug_sleep, &["DEBUG", "SLEEP"]),
            b"-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(
            run(debug_sleep, &["debug", "sleep", "0", "x"]),
            b"-ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.\r\n"
        );
    }

    #[test]
    fn help_text() {
        let out = run(debug_help, &["DEBUG", "HELP"]);
        assert!(out.starts_with(b"*11\r\n+DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+OBJECT <key>\r\n"));
        assert!(out.ends_with(b"+SLEEP <seconds>\r\n+    Stop the server for <seconds>. Decimals allowed.\r\n+HELP\r\n+    Prints this help.\r\n"));
    }
}
