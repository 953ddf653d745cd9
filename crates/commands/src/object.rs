//! Introspection of one key: TYPE, OBJECT (ENCODING, REFCOUNT, IDLETIME,
//! FREQ, HELP), MEMORY (USAGE, HELP) and DEBUG OBJECT. None of them records
//! an access to the key, as in Redis.

use crate::client::subcommand;
use crate::error::reply_error;
use crate::number::{integer_arg, parse_i64};
use crate::table::{sub, SubcommandSpec};
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::{Encoding, Entry, UnixMillis, ValueRef};

/// Integers Redis keeps as shared objects (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;
/// The reference count Redis reports for a shared object (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis's LRU clock keeps 24 bits of seconds (`LRU_BITS`).
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// TYPE key: `string`, or `none` when missing.
pub(crate) fn type_(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let name = ctx
        .read_untouched(args.get(1))
        .map_or("none", |e| e.value().type_name());
    enc.simple(name);
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Replies a HELP text as Redis's `addReplyHelp` does: one status per line.
fn reply_help(enc: &mut ReplyEncoder, lines: &[&str]) {
    enc.array_len(lines.len());
    for line in lines {
        enc.simple(line);
    }
}

/// OBJECT's subcommands, their arities and flags.
pub(crate) const OBJECT_SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("encoding", 3).readonly(),
    sub("freq", 3).readonly(),
    sub("idletime", 3).readonly(),
    sub("refcount", 3).readonly(),
    sub("help", 2),
];

/// MEMORY's subcommands (those Mayfly has), their arities and flags.
pub(crate) const MEMORY_SUBCOMMANDS: &[SubcommandSpec] =
    &[sub("usage", -3).readonly(), sub("help", 2)];

/// OBJECT <ENCODING | REFCOUNT | IDLETIME | FREQ> key, OBJECT HELP
pub(crate) fn object(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let sub = match subcommand(args, "OBJECT", OBJECT_SUBCOMMANDS) {
        Ok(sub) => sub,
        Err(e) => return reply_error(enc, &e),
    };
    if sub == "help" {
        return reply_help(enc, OBJECT_HELP);
    }
    let now = ctx.now;
    let Some(entry) = ctx.read_untouched(args.get(2)) else {
        return enc.null();
    };
    match sub {
        "encoding" => enc.bulk(entry.encoding().name().as_bytes()),
        "refcount" => enc.integer(refcount(entry)),
        "idletime" => enc.integer(entry.idle_secs(now) as i64),
        _ => enc.error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust.",
        ),
    }
}

/// What OBJECT REFCOUNT says: Redis shares one object for each integer
/// 0..9999 stored with the `int` encoding; every other value has one owner.
fn refcount(entry: &Entry) -> i64 {
    let shared = entry.encoding() == Encoding::Int // not IntUnshared
        && match entry.value() {
            ValueRef::String(s) => parse_i64(s).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)),
        };
    if shared {
        SHARED_REFCOUNT
    } else {
        1
    }
}

/// MEMORY USAGE key [SAMPLES count], MEMORY HELP. USAGE reports the bytes
/// Mayfly holds for the key (its table slot, key and value allocations),
/// which are not Redis's numbers.
pub(crate) fn memory(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let sub = match subcommand(args, "MEMORY", MEMORY_SUBCOMMANDS) {
        Ok(sub) => sub,
        Err(e) => return reply_error(enc, &e),
    };
    if sub == "help" {
        return reply_help(enc, MEMORY_HELP);
    }
    if let Err(e) = memory_usage_options(args) {
        return reply_error(enc, &e);
    }
    let now = ctx.now;
    match ctx.keyspace().peek(args.get(2), now) {
        Some(entry) => enc.integer(entry.memory_usage() as i64),
        None => enc.null(),
    }
}

/// `[SAMPLES count]`, repeatable; a negative count is a syntax error. The
/// count only matters for nested values, which Mayfly sizes exactly.
fn memory_usage_options(args: &Args) -> Result<(), CommandError> {
    let mut j = 3;
    while j < args.len() {
        if args.get(j).eq_ignore_ascii_case(b"SAMPLES") && j + 1 < args.len() {
            if integer_arg(args.get(j + 1))? < 0 {
                return Err(CommandError::Syntax);
            }
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(())
}

/// DEBUG OBJECT key, in Redis's line format with Mayfly's values: the
/// entry's address, Redis's refcount and encoding, the RDB length of the
/// value (without LZF compression, which Mayfly does not do), and the
/// access clock.
pub fn debug_object(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    if args.len() != 3 {
        return enc.error(&crate::debug_subcommand_error(args).to_string());
    }
    let now: UnixMillis = ctx.now;
    let Some(entry) = ctx.keyspace().peek(args.get(2), now) else {
        return enc.error("ERR no such key");
    };
    let line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry as *const Entry,
        refcount(entry),
        entry.encoding().name(),
        serialized_length(entry),
        entry.access_secs() & LRU_CLOCK_MAX,
        entry.idle_secs(now),
    );
    enc.simple(&line);
}

/// Bytes the value takes in an RDB file, uncompressed: small integers as
/// 8, 16 or 32-bit integers, other strings with a length prefix.
fn serialized_length(entry: &Entry) -> usize {
    match entry.value() {
        ValueRef::String(s) => {
            let as_int = (s.len() <= 11 || entry.encoding().is_int())
                .then(|| parse_i64(s))
                .flatten();
            match as_int {
                Some(n) if i8::try_from(n).is_ok() => 2,
                Some(n) if i16::try_from(n).is_ok() => 3,
                Some(n) if i32::try_from(n).is_ok() => 5,
                _ => rdb_length_prefix(s.len()) + s.len(),
            }
        }
    }
}

/// Bytes of an RDB length prefix (`rdbSaveLen`).
fn rdb_length_prefix(len: usize) -> usize {
    match len {
        0..64 => 1,
        64..16384 => 2,
        _ if len <= u32::MAX as usize => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    fn encoding(h: &mut Harness, key: &str) -> String {
        let out = h.run(&["OBJECT", "ENCODING", key]);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodings_follow_redis() {
        // Each line was checked against redis-server 7.0.15.
        let mut h = Harness::new();
        let long = "x".repeat(45);
        let cases: &[(&[&str], &str, &str)] = &[
            (&["SET", "k", "123"], "k", "int"),
            (&["SET", "k", "-5"], "k", "int"),
            (&["SET", "k", "00123"], "k", "embstr"),
            (&["SET", "k", "9223372036854775808"], "k", "embstr"),
            (&["SET", "k", "abc"], "k", "embstr"),
            (&["SET", "k", &long], "k", "raw"),
            (&["APPEND", "k", "x"], "k", "raw"),
            (&["SET", "k", "5"], "k", "int"),
            (&["APPEND", "k", ""], "k", "raw"),
            (&["APPEND", "a1", "12"], "a1", "int"),
            (&["APPEND", "a2", "x"], "a2", "embstr"),
            (&["SETRANGE", "r", "0", "12"], "r", "raw"),
            (&["INCR", "r"], "r", "int"),
            (&["SET", "s", "5"], "s", "int"),
            (&["SETRANGE", "s", "0", ""], "s", "int"),
            (&["SETRANGE", "s", "0", "6"], "s", "raw"),
            (&["INCRBYFLOAT", "s", "1"], "s", "embstr"),
            (&["GETSET", "s", "7"], "s", "int"),
            (&["SETEX", "s", "100", "hello"], "s", "embstr"),
            (&["PSETEX", "s", "100000", "77"], "s", "int"),
            (&["SETNX", "n", "42"], "n", "int"),
        ];
        for (cmd, key, enc) in cases {
            h.run(cmd);
            let want = format!("${}\r\n{enc}\r\n", enc.len());
            assert_eq!(encoding(&mut h, key), want, "after {cmd:?}");
        }
        assert_eq!(h.run(&["OBJECT", "ENCODING", "nokey"]), b"$-1\r\n");
    }

    #[test]
    fn refcount_of_shared_integers() {
        let mut h = Harness::new();
        for (value, refcount) in [
            ("0", ":2147483647\r\n"),
            ("9999", ":2147483647\r\n"),
            ("10000", ":1\r\n"),
            ("-1", ":1\r\n"),
            ("abc", ":1\r\n"),
        ] {
            h.run(&["SET", "k", value]);
            assert_eq!(h.run(&["OBJECT", "REFCOUNT", "k"]), refcount.as_bytes());
        }
        h.run(&["SETRANGE", "r", "0", "12"]);
        assert_eq!(h.run(&["OBJECT", "REFCOUNT", "r"]), b":1\r\n");
        assert_eq!(h.run(&["OBJECT", "REFCOUNT", "nokey"]), b"$-1\r\n");
    }

    #[test]
    fn idletime_counts_from_the_last_access() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        h.now += 5_000;
        assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), b":5\r\n");
        // Neither OBJECT, TYPE, EXISTS nor TTL touch the key.
        for cmd in [&["TYPE", "k"][..], &["EXISTS", "k"], &["TTL", "k"]] {
            h.run(cmd);
        }
        h.now += 2_000;
        assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), b":7\r\n");
        h.run(&["GET", "k"]);
        assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), b":0\r\n");
        h.now += 3_000;
        h.run(&["APPEND", "k", "x"]);
        assert_eq!(h.run(&["OBJECT", "idletime", "k"]), b":0\r\n");
        assert_eq!(h.run(&["OBJECT", "IDLETIME", "nokey"]), b"$-1\r\n");
    }

    #[test]
    fn object_errors_and_help() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        assert_eq!(
            h.run(&["OBJECT", "FREQ", "k"]),
            &b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
               Please note that when switching between policies at runtime LRU and LFU data \
               will take some time to adjust.\r\n"[..]
        );
        assert_eq!(h.run(&["OBJECT", "FREQ", "nokey"]), b"$-1\r\n");
        for (args, reply) in [
            (
                &["OBJECT", "foo", "k"][..],
                &b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"[..],
            ),
            (
                &["OBJECT", "encoding"],
                b"-ERR wrong number of arguments for 'object|encoding' command\r\n",
            ),
            (
                &["OBJECT", "ENCODING", "k", "x"],
                b"-ERR wrong number of arguments for 'object|encoding' command\r\n",
            ),
            (
                &["OBJECT", "HELP", "x"],
                b"-ERR wrong number of arguments for 'object|help' command\r\n",
            ),
            (
                &["OBJECT"],
                b"-ERR wrong number of arguments for 'object' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
        let help = h.run(&["OBJECT", "help"]);
        assert!(help.starts_with(
            b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
              +ENCODING <key>\r\n"
        ));
        assert!(help.ends_with(b"+HELP\r\n+    Prints this help.\r\n"));
    }

    #[test]
    fn type_of_keys() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["TYPE", "k"]), b"+string\r\n");
        assert_eq!(h.run(&["TYPE", "nokey"]), b"+none\r\n");
        assert_eq!(
            h.run(&["TYPE"]),
            b"-ERR wrong number of arguments for 'type' command\r\n"
        );
    }

    #[test]
    fn memory_usage_and_help() {
        let mut h = Harness::new();
        h.run(&["SET", "key", "hello"]);
        // A small key and value are stored inside the entry: its size only.
        let usage = format!(":{}\r\n", std::mem::size_of::<store::Entry>());
        assert_eq!(h.run(&["MEMORY", "USAGE", "key"]), usage.as_bytes());
        assert_eq!(
            h.run(&["MEMORY", "usage", "key", "SAMPLES", "0"]),
            usage.as_bytes()
        );
        assert_eq!(h.run(&["MEMORY", "USAGE", "nokey"]), b"$-1\r\n");
        for (args, reply) in [
            (
                &["MEMORY", "USAGE", "key", "SAMPLES"][..],
                &b"-ERR syntax error\r\n"[..],
            ),
            (
                &["MEMORY", "USAGE", "nokey", "SAMPLES", "-1"],
                b"-ERR syntax error\r\n",
            ),
            (
                &["MEMORY", "USAGE", "key", "SAMPLES", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["MEMORY", "USAGE", "key", "x"], b"-ERR syntax error\r\n"),
            (
                &["MEMORY", "USAGE"],
                b"-ERR wrong number of arguments for 'memory|usage' command\r\n",
            ),
            (
                &["MEMORY", "foo"],
                b"-ERR unknown subcommand 'foo'. Try MEMORY HELP.\r\n",
            ),
            (
                &["MEMORY", "HELP", "x"],
                b"-ERR wrong number of arguments for 'memory|help' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
        let help = h.run(&["MEMORY", "HELP"]);
        assert!(help.starts_with(
            b"*14\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
    }

    #[test]
    fn debug_object_line() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "hello"]);
        h.run(&["SET", "i", "123"]);
        h.run(&["SET", "big", "12345678"]);
        h.now += 3_000;
        let line = |h: &mut Harness, key: &str| {
            let out = h.run_key_fn(super::debug_object, &["DEBUG", "OBJECT", key]);
            String::from_utf8(out).unwrap()
        };
        let lru = (h.now / 1000 - 3) & 0xff_ffff;
        let k = line(&mut h, "k");
        assert!(k.starts_with("+Value at:0x"), "{k}");
        assert!(
            k.ends_with(&format!(
                " refcount:1 encoding:embstr serializedlength:6 lru:{lru} lru_seconds_idle:3\r\n"
            )),
            "{k}"
        );
        assert!(line(&mut h, "i").contains(" refcount:2147483647 encoding:int serializedlength:2 "));
        assert!(line(&mut h, "big").contains(" refcount:1 encoding:int serializedlength:5 "));
        assert_eq!(line(&mut h, "nokey"), "-ERR no such key\r\n");
    }
}
