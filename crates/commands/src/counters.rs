//! Counter commands on string values: INCR, DECR, INCRBY, DECRBY and
//! INCRBYFLOAT. A counter is a string holding a number; changing it keeps
//! the key's TTL, and a missing key counts from 0.

use crate::error::reply_error;
use crate::long_double::LongDouble;
use crate::number::{integer_arg, parse_i64};
use crate::strings::string_bytes;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::{Encoding, Value};

/// INCR key
pub(crate) fn incr(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    incr_decr(ctx, args.get(1), 1, enc);
}

/// DECR key
pub(crate) fn decr(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    incr_decr(ctx, args.get(1), -1, enc);
}

/// INCRBY key increment
pub(crate) fn incrby(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    match integer_arg(args.get(2)) {
        Ok(by) => incr_decr(ctx, args.get(1), by, enc),
        Err(e) => reply_error(enc, &e),
    }
}

/// DECRBY key decrement
pub(crate) fn decrby(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    match integer_arg(args.get(2)) {
        // Negating the smallest integer would overflow.
        Ok(i64::MIN) => enc.error("ERR decrement would overflow"),
        Ok(by) => incr_decr(ctx, args.get(1), -by, enc),
        Err(e) => reply_error(enc, &e),
    }
}

/// Redis's `incrDecrCommand`: adds `by` to the integer at `key`.
fn incr_decr(ctx: &mut ShardCtx, key: &[u8], by: i64, enc: &mut ReplyEncoder) {
    let now = ctx.now;
    let db = ctx.keyspace();
    let result = match db.get_mut(key, now) {
        None => {
            db.set_string(key, Decimal::of(by).as_bytes(), None, now);
            Ok(by)
        }
        Some(mut entry) => {
            let result = string_bytes(entry.value()).and_then(|s| add(s, by));
            if let Ok(n) = result {
                entry.set_string(Decimal::of(n).as_bytes());
                entry.set_encoding(Encoding::Int);
            }
            result
        }
    };
    match result {
        Ok(n) => enc.integer(n),
        Err(e) => reply_error(enc, &e),
    }
}

/// `by` added to the integer written in `s`.
fn add(s: &[u8], by: i64) -> Result<i64, CommandError> {
    let old = parse_i64(s).ok_or(CommandError::NotAnInteger)?;
    old.checked_add(by)
        .ok_or_else(|| CommandError::Other("ERR increment or decrement would overflow".into()))
}

/// An integer's decimal text, formatted on the stack.
struct Decimal {
    bytes: [u8; 20],
    len: usize,
}

impl Decimal {
    fn of(n: i64) -> Self {
        use std::io::Write;
        let mut bytes = [0u8; 20];
        let mut rest = &mut bytes[..];
        // 20 bytes hold every i64 ("-9223372036854775808"), so this cannot fail.
        let _ = write!(rest, "{n}");
        let len = 20 - rest.len();
        Self { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// INCRBYFLOAT key increment: adds in C `long double` arithmetic and stores
/// Redis's text of the result (see `long_double.rs`).
pub(crate) fn incrbyfloat(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let (key, increment) = (args.get(1), args.get(2));
    let now = ctx.now;
    let db = ctx.keyspace();
    let result = match db.get_mut(key, now) {
        None => float_sum(b"0", increment).map(|text| {
            enc.bulk(&text);
            let encoding = Encoding::of_created_string(&text);
            db.set_encoded(key, Value::String(text), encoding, None, now);
        }),
        Some(mut entry) => string_bytes(entry.value())
            .and_then(|s| float_sum(s, increment))
            .map(|text| {
                enc.bulk(&text);
                entry.set_string(&text);
                entry.set_encoding(Encoding::of_created_string(&text));
            }),
    };
    if let Err(e) = result {
        reply_error(enc, &e);
    }
}

/// The text of `value + increment`, both parsed as Redis parses floats.
fn float_sum(value: &[u8], increment: &[u8]) -> Result<Vec<u8>, CommandError> {
    let value = LongDouble::parse(value).ok_or(CommandError::NotAFloat)?;
    let increment = LongDouble::parse(increment).ok_or(CommandError::NotAFloat)?;
    let sum = value.add(increment);
    if sum.is_nan_or_infinite() {
        return Err(CommandError::Other(
            "ERR increment would produce NaN or Infinity".into(),
        ));
    }
    Ok(sum.to_human_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
    const OVERFLOW: &[u8] = b"-ERR increment or decrement would overflow\r\n";
    const NOT_FLOAT: &[u8] = b"-ERR value is not a valid float\r\n";

    #[test]
    fn incr_and_decr_count_from_zero() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["INCR", "n"]), b":1\r\n");
        assert_eq!(h.run(&["INCR", "n"]), b":2\r\n");
        assert_eq!(h.run(&["DECR", "n"]), b":1\r\n");
        assert_eq!(h.run(&["DECR", "m"]), b":-1\r\n");
        assert_eq!(h.run(&["INCRBY", "n", "100000"]), b":100001\r\n");
        assert_eq!(h.run(&["DECRBY", "n", "-9"]), b":100010\r\n");
        assert_eq!(h.run(&["GET", "n"]), b"$6\r\n100010\r\n");
        assert_eq!(h.run(&["OBJECT", "ENCODING", "n"]), b"$3\r\nint\r\n");
        assert_eq!(
            h.run(&["INCRBY", "x", "-9223372036854775808"]),
            b":-9223372036854775808\r\n"
        );
    }

    #[test]
    fn counters_keep_the_ttl() {
        let mut h = Harness::new();
        h.run(&["SET", "n", "5", "EX", "100"]);
        assert_eq!(h.run(&["INCR", "n"]), b":6\r\n");
        assert_eq!(h.run(&["INCRBYFLOAT", "n", "1"]), b"$1\r\n7\r\n");
        assert_eq!(h.run(&["TTL", "n"]), b":100\r\n");
    }

    #[test]
    fn counter_errors() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "abc"]);
        h.run(&["SET", "sp", " 1"]);
        h.run(&["SET", "max", "9223372036854775807"]);
        h.run(&["SET", "min", "-9223372036854775808"]);
        h.run(&["SET", "f", "1.5"]);
        for (args, reply) in [
            (&["INCR", "s"][..], NOT_INT),
            (&["INCR", "sp"], NOT_INT),
            (&["INCR", "f"], NOT_INT),
            (&["INCRBY", "n", "abc"], NOT_INT),
            (&["INCRBY", "n", "1.5"], NOT_INT),
            (&["DECRBY", "n", " 1"], NOT_INT),
            (&["INCR", "max"], OVERFLOW),
            (&["INCRBY", "max", "9223372036854775807"], OVERFLOW),
            (&["DECR", "min"], OVERFLOW),
            (&["DECRBY", "min", "1"], OVERFLOW),
            (
                &["DECRBY", "n", "-9223372036854775808"],
                b"-ERR decrement would overflow\r\n",
            ),
            (
                &["INCR"],
                b"-ERR wrong number of arguments for 'incr' command\r\n",
            ),
            (
                &["INCRBY", "n"],
                b"-ERR wrong number of arguments for 'incrby' command\r\n",
            ),
            (
                &["DECRBY", "n", "1", "2"],
                b"-ERR wrong number of arguments for 'decrby' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
        assert_eq!(h.run(&["GET", "max"]), b"$19\r\n9223372036854775807\r\n");
        assert_eq!(h.run(&["EXISTS", "n"]), b":0\r\n");
    }

    #[test]
    fn incrbyfloat_formats_as_redis() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["INCRBYFLOAT", "f", "10.5"]), b"$4\r\n10.5\r\n");
        assert_eq!(h.run(&["INCRBYFLOAT", "f", "0.1"]), b"$4\r\n10.6\r\n");
        assert_eq!(h.run(&["INCRBYFLOAT", "f", "-5.6"]), b"$1\r\n5\r\n");
        assert_eq!(h.run(&["INCRBYFLOAT", "f", "2.0e2"]), b"$3\r\n205\r\n");
        // The result is a string Redis creates, never an int encoding.
        assert_eq!(h.run(&["OBJECT", "ENCODING", "f"]), b"$6\r\nembstr\r\n");
        h.run(&["SET", "big", "1e308"]);
        let reply = h.run(&["INCRBYFLOAT", "big", "1e308"]);
        assert!(reply.starts_with(b"$309\r\n1999999999999999999933717593"));
        assert_eq!(h.run(&["OBJECT", "ENCODING", "big"]), b"$3\r\nraw\r\n");
    }

    #[test]
    fn incrbyfloat_errors() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "abc"]);
        h.run(&["SET", "n", "1"]);
        for (args, reply) in [
            (&["INCRBYFLOAT", "s", "1"][..], NOT_FLOAT),
            (&["INCRBYFLOAT", "n", "abc"], NOT_FLOAT),
            (&["INCRBYFLOAT", "n", " 1"], NOT_FLOAT),
            (&["INCRBYFLOAT", "n", ""], NOT_FLOAT),
            (&["INCRBYFLOAT", "n", "nan"], NOT_FLOAT),
            (&["INCRBYFLOAT", "n", "1e5000"], NOT_FLOAT),
            (
                &["INCRBYFLOAT", "n", "inf"],
                b"-ERR increment would produce NaN or Infinity\r\n",
            ),
            (&["INCRBYFLOAT", "n", "1e4932"], b"$4933\r\n"),
            (
                &["INCRBYFLOAT", "n", "1e4932"],
                b"-ERR increment would produce NaN or Infinity\r\n",
            ),
        ] {
            let out = h.run(args);
            assert!(
                out.starts_with(reply),
                "{args:?}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        assert_eq!(h.run(&["EXISTS", "missing"]), b":0\r\n");
    }
}
