//! Expiry commands: EXPIRE, PEXPIRE, TTL, PTTL, PERSIST.

use crate::error::reply_error;
use crate::number::integer_arg;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::UnixMillis;

/// EXPIRE key seconds [NX | XX | GT | LT]
pub(crate) fn expire(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, 1000, "expire");
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub(crate) fn pexpire(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    expire_generic(args, ctx, enc, 1, "pexpire");
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

/// Redis's `expireGenericCommand` for relative times (`unit_ms` per unit).
fn expire_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
    unit_ms: i64,
    cmd: &'static str,
) {
    let now = ctx.now;
    let parsed = parse_expire_flags(args).and_then(|flags| {
        let amount = integer_arg(args.get(2))?;
        let when = amount
            .checked_mul(unit_ms)
            .and_then(|ms| ms.checked_add(now as i64))
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
    enc.integer(match remaining_ms(args, ctx) {
        Some(Some(ms)) => (ms + 500) / 1000,
        Some(None) => -1,
        None => -2,
    });
}

/// PTTL key: milliseconds left, -1 without TTL, -2 without key.
pub(crate) fn pttl(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    enc.integer(match remaining_ms(args, ctx) {
        Some(Some(ms)) => ms,
        Some(None) => -1,
        None => -2,
    });
}

/// None: no key; Some(None): no TTL; Some(Some(ms)): time left.
fn remaining_ms(args: &Args, ctx: &mut ShardCtx) -> Option<Option<i64>> {
    let now = ctx.now;
    let entry = ctx.read_untouched(args.get(1))?;
    Some(entry.deadline().map(|d| d.saturating_sub(now) as i64))
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
}
