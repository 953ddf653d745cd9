//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! The four setters share Redis's `expireGenericCommand` (one parser, one
//! executor, differing in unit and base time) and the four getters its
//! `ttlGenericCommand`.

use crate::error::reply_error;
use crate::number::integer_arg;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::UnixMillis;

/// EXPIRE key seconds [NX | XX | GT | LT]
pub(crate) fn expire(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, Base::Now, 1000, "expire");
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub(crate) fn pexpire(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, Base::Now, 1, "pexpire");
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub(crate) fn expireat(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, Base::Epoch, 1000, "expireat");
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub(crate) fn pexpireat(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, Base::Epoch, 1, "pexpireat");
}

/// What the amount of an EXPIRE-family command counts from.
#[derive(Debug, Clone, Copy)]
enum Base {
    /// From the time of the command (EXPIRE, PEXPIRE).
    Now,
    /// From the unix epoch (EXPIREAT, PEXPIREAT).
    Epoch,
}

/// NX / XX / GT / LT of the EXPIRE family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Parses the options from `args[3..]` with Redis's errors.
fn parse_expire_flags(args: &Args) -> Result<ExpireFlags, CommandError> {
    let mut f = ExpireFlags::default();
    for opt in args.iter().skip(3) {
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        let flag = match () {
            _ if is(b"NX") => &mut f.nx,
            _ if is(b"XX") => &mut f.xx,
            _ if is(b"GT") => &mut f.gt,
            _ if is(b"LT") => &mut f.lt,
            _ => {
                return Err(CommandError::UnsupportedOption(
                    String::from_utf8_lossy(opt).into_owned(),
                ))
            }
        };
        *flag = true;
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CommandError::NxWithXxGtLt);
    }
    if f.gt && f.lt {
        return Err(CommandError::GtWithLt);
    }
    Ok(f)
}

/// Redis's `expireGenericCommand` (`unit_ms` milliseconds per unit): options
/// first, then the amount; `invalid expire time` exactly when converting to
/// milliseconds or adding the base overflows an i64 (negative amounts are
/// fine and delete the key, as any deadline not after now does).
fn expire_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
    base: Base,
    unit_ms: i64,
    cmd: &'static str,
) {
    let now = ctx.now;
    let base = match base {
        Base::Now => now as i64,
        Base::Epoch => 0,
    };
    let parsed = parse_expire_flags(args).and_then(|flags| {
        let amount = integer_arg(args.get(2))?;
        let when = amount
            .checked_mul(unit_ms)
            .and_then(|ms| ms.checked_add(base))
            .ok_or(CommandError::InvalidExpireTime(cmd))?;
        Ok((flags, when))
    });
    let (flags, when) = match parsed {
        Ok(p) => p,
        Err(e) => return reply_error(enc, &e),
    };
    let key = args.get(1);
    let db = ctx.keyspace();
    let Some(entry) = db.get(key, now) else {
        return enc.integer(0);
    };
    let current = entry.deadline().map(|d| d as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        return enc.integer(0);
    }
    if when <= now as i64 {
        db.remove(key, now);
    } else {
        db.set_deadline(key, Some(when as UnixMillis), now);
    }
    enc.integer(1);
}

/// TTL key: seconds left (rounded), -1 without TTL, -2 without key.
pub(crate) fn ttl(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    ttl_generic(args, ctx, enc, false, false);
}

/// PTTL key: milliseconds left, -1 without TTL, -2 without key.
pub(crate) fn pttl(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    ttl_generic(args, ctx, enc, true, false);
}

/// EXPIRETIME key: the deadline in unix seconds (rounded), -1 without TTL,
/// -2 without key.
pub(crate) fn expiretime(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    ttl_generic(args, ctx, enc, false, true);
}

/// PEXPIRETIME key: the deadline in unix milliseconds, -1 without TTL, -2
/// without key.
pub(crate) fn pexpiretime(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    ttl_generic(args, ctx, enc, true, true);
}

/// Redis's `ttlGenericCommand`: time left (or the deadline, `absolute`) in
/// milliseconds or in seconds rounded to the nearest.
fn ttl_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
    millis: bool,
    absolute: bool,
) {
    let now = ctx.now;
    let reply = match ctx.read_untouched(args.get(1)) {
        None => -2,
        Some(entry) => match entry.deadline() {
            None => -1,
            Some(deadline) => {
                let ms = if absolute {
                    deadline
                } else {
                    deadline.saturating_sub(now)
                };
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                if millis {
                    ms
                } else {
                    ms / 1000 + i64::from(ms % 1000 >= 500)
                }
            }
        },
    };
    enc.integer(reply);
}

/// PERSIST key: `:1` when a TTL was removed.
pub(crate) fn persist(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let now = ctx.now;
    let db = ctx.keyspace();
    let had_ttl = db
        .get(args.get(1), now)
        .is_some_and(|e| e.deadline().is_some());
    if had_ttl {
        db.set_deadline(args.get(1), None, now);
    }
    enc.integer(i64::from(had_ttl));
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    #[test]
    fn ttl_and_pttl() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["TTL", "k"]), b":-2\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
        assert_eq!(h.run(&["PEXPIRE", "k", "1499"]), b":1\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":1\r\n");
        assert_eq!(h.run(&["PEXPIRE", "k", "1500"]), b":1\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":2\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":1500\r\n");
        h.now += 1500;
        assert_eq!(h.run(&["PTTL", "k"]), b":-2\r\n");
    }

    #[test]
    fn expire_options() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["EXPIRE", "k", "10"]), b":0\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["EXPIRE", "k", "10", "XX"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "10", "GT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "10", "NX"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "20", "NX"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "5", "GT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "20", "GT"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "30", "LT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "15", "lt"]), b":1\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":15\r\n");
        assert_eq!(
            h.run(&["EXPIRE", "k", "1", "NX", "XX"]),
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "1", "GT", "LT"]),
            b"-ERR GT and LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "1", "FOO"]),
            b"-ERR Unsupported option FOO\r\n"
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "x"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "9223372036854775807"]),
            b"-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            h.run(&["PEXPIRE", "k", "9223372036854775807"]),
            b"-ERR invalid expire time in 'pexpire' command\r\n"
        );
        assert_eq!(h.run(&["EXPIRE", "k", "-1"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
    }

    #[test]
    fn persist_removes_ttl() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["PERSIST", "k"]), b":0\r\n");
        h.run(&["SET", "k", "v", "EX", "10"]);
        assert_eq!(h.run(&["PERSIST", "k"]), b":1\r\n");
        assert_eq!(h.run(&["PERSIST", "k"]), b":0\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
        h.now += 20_000;
        assert_eq!(h.run(&["EXISTS", "k"]), b":1\r\n");
    }

    /// The harness clock is 1_700_000_000_000 ms.
    #[test]
    fn expireat_and_expiretime() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["EXPIRETIME", "k"]), b":-2\r\n");
        assert_eq!(h.run(&["PEXPIRETIME", "k"]), b":-2\r\n");
        assert_eq!(h.run(&["EXPIREAT", "k", "1700000100"]), b":0\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["EXPIRETIME", "k"]), b":-1\r\n");
        assert_eq!(h.run(&["PEXPIRETIME", "k"]), b":-1\r\n");
        assert_eq!(h.run(&["EXPIREAT", "k", "1700000100"]), b":1\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":100\r\n");
        assert_eq!(h.run(&["EXPIRETIME", "k"]), b":1700000100\r\n");
        assert_eq!(h.run(&["PEXPIRETIME", "k"]), b":1700000100000\r\n");
        assert_eq!(h.run(&["PEXPIREAT", "k", "1700000200499"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRETIME", "k"]), b":1700000200\r\n");
        assert_eq!(h.run(&["PEXPIREAT", "k", "1700000200500"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRETIME", "k"]), b":1700000201\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":200500\r\n");
        // A deadline not after now deletes the key, and that counts as done.
        assert_eq!(h.run(&["PEXPIREAT", "k", "1700000000000"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["EXPIREAT", "k", "-5"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
    }

    #[test]
    fn expireat_errors() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        let invalid = b"-ERR invalid expire time in 'expireat' command\r\n";
        assert_eq!(h.run(&["EXPIREAT", "k", "9223372036854776"]), invalid);
        assert_eq!(h.run(&["EXPIREAT", "k", "-9223372036854776"]), invalid);
        assert_eq!(
            h.run(&["EXPIREAT", "k", "abc"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        // Options are checked before the time.
        assert_eq!(
            h.run(&["EXPIREAT", "k", "abc", "foo"]),
            b"-ERR Unsupported option foo\r\n"
        );
        assert_eq!(
            h.run(&["PEXPIREAT", "k", "1", "gt", "xx", "lt"]),
            b"-ERR GT and LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            h.run(&["PEXPIREAT", "k", "1", "gt", "lt", "nx"]),
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            h.run(&["EXPIREAT", "nokey", "100", "gt", "lt"]),
            b"-ERR GT and LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            h.run(&["EXPIREAT", "k"]),
            b"-ERR wrong number of arguments for 'expireat' command\r\n"
        );
        assert_eq!(
            h.run(&["EXPIRETIME", "k", "x"]),
            b"-ERR wrong number of arguments for 'expiretime' command\r\n"
        );
        // Repeated options are fine; the key is untouched by the errors.
        assert_eq!(
            h.run(&["EXPIREAT", "k", "1800000000", "nx", "nx"]),
            b":1\r\n"
        );
        // A deadline in ms that fits an i64 is accepted (the store keeps it
        // at its cap, MAX_DEADLINE).
        assert_eq!(h.run(&["PEXPIREAT", "k", "9223372036854775807"]), b":1\r\n");
        assert_eq!(
            h.run(&["PEXPIRETIME", "k"]),
            format!(":{}\r\n", store::MAX_DEADLINE).as_bytes()
        );
    }

    #[test]
    fn relative_overflow_and_negative_amounts() {
        let mut h = Harness::new();
        let set = |h: &mut Harness| h.run(&["SET", "k", "v"]);
        set(&mut h);
        // seconds * 1000 overflows; or adding now does.
        for amount in ["-9223372036854776", "9223372036854775", "9223372036854774"] {
            assert_eq!(
                h.run(&["EXPIRE", "k", amount]),
                b"-ERR invalid expire time in 'expire' command\r\n"
            );
        }
        assert_eq!(
            h.run(&["PEXPIRE", "k", "9223372036854775000"]),
            b"-ERR invalid expire time in 'pexpire' command\r\n"
        );
        assert_eq!(h.run(&["EXPIRE", "k", "-9223372036854775"]), b":1\r\n");
        set(&mut h);
        assert_eq!(h.run(&["PEXPIRE", "k", "-9223372036854775808"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
    }

    /// A key without TTL has an infinite one: GT never passes, LT always does.
    #[test]
    fn gt_and_lt_on_keys_without_ttl() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["EXPIRE", "k", "100", "GT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "100", "XX", "GT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "100", "LT", "XX"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "100", "LT"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "200", "XX", "GT"]), b":1\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "200", "GT"]), b":0\r\n");
        assert_eq!(h.run(&["EXPIRE", "k", "200", "LT"]), b":0\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":200\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["EXPIRE", "k", "-1", "LT"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
    }
}
