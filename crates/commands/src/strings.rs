//! String commands: GET, SET, SETEX, PSETEX, SETNX.
//!
//! SET, SETEX and PSETEX share one option parser and one executor, as Redis's
//! `parseExtendedStringArgumentsOrReply` and `setGenericCommand` do.

use crate::error::reply_error;
use crate::number::integer_arg;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::{UnixMillis, Value};

/// GET key
pub(crate) fn get(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    match ctx.read(args.get(1)) {
        Some(entry) => match entry.value() {
            Value::String(s) => enc.bulk(s),
        },
        None => enc.null(),
    }
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
pub(crate) fn set(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let result = parse_set_options(args, 3)
        .and_then(|opts| resolve_expire(opts, "set", ctx.now).map(|deadline| (opts, deadline)));
    match result {
        Ok((opts, deadline)) => set_generic(ctx, args.get(1), args.get(2), opts, deadline, enc),
        Err(e) => reply_error(enc, &e),
    }
}

/// SETEX key seconds value
pub(crate) fn setex(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    set_with_ttl(args, ctx, enc, ExpireUnit::Seconds, "setex");
}

/// PSETEX key milliseconds value
pub(crate) fn psetex(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    set_with_ttl(args, ctx, enc, ExpireUnit::Milliseconds, "psetex");
}

fn set_with_ttl(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
    unit: ExpireUnit,
    cmd: &'static str,
) {
    let opts = SetOptions {
        expire: Some(Expire {
            amount: args.get(2),
            unit,
            absolute: false,
        }),
        ..SetOptions::default()
    };
    match resolve_expire(opts, cmd, ctx.now) {
        Ok(deadline) => set_generic(ctx, args.get(1), args.get(3), opts, deadline, enc),
        Err(e) => reply_error(enc, &e),
    }
}

/// SETNX key value: `:1` when set, `:0` when the key existed.
pub(crate) fn setnx(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let now = ctx.now;
    let db = ctx.keyspace();
    if db.get(args.get(1), now).is_some() {
        enc.integer(0);
    } else {
        db.set(args.get(1), Value::String(args.get(2).to_vec()), None, now);
        enc.integer(1);
    }
}

/// Which condition SET's NX/XX put on the key's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Condition {
    #[default]
    Always,
    IfMissing,
    IfExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Seconds,
    Milliseconds,
}

/// An expiry as given: the unparsed amount, its unit, and whether it is a unix time.
#[derive(Debug, Clone, Copy)]
struct Expire<'a> {
    amount: &'a [u8],
    unit: ExpireUnit,
    absolute: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct SetOptions<'a> {
    condition: Condition,
    get: bool,
    keep_ttl: bool,
    expire: Option<Expire<'a>>,
}

/// Parses SET's options from `args[start..]` with Redis's exact acceptance
/// rules (each option is refused when a conflicting one came earlier).
fn parse_set_options(args: &Args, start: usize) -> Result<SetOptions<'_>, CommandError> {
    let mut o = SetOptions::default();
    let mut j = start;
    while j < args.len() {
        let opt = args.get(j);
        let next = (j + 1 < args.len()).then(|| args.get(j + 1));
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        let expire_as = |unit, absolute| {
            next.map(|amount| Expire {
                amount,
                unit,
                absolute,
            })
        };
        let no_expire = o.expire.is_none();
        if is(b"NX") && o.condition != Condition::IfExists {
            o.condition = Condition::IfMissing;
        } else if is(b"XX") && o.condition != Condition::IfMissing {
            o.condition = Condition::IfExists;
        } else if is(b"GET") {
            o.get = true;
        } else if is(b"KEEPTTL") && no_expire {
            o.keep_ttl = true;
        } else if let Some(e) = [
            (&b"EX"[..], ExpireUnit::Seconds, false),
            (b"PX", ExpireUnit::Milliseconds, false),
            (b"EXAT", ExpireUnit::Seconds, true),
            (b"PXAT", ExpireUnit::Milliseconds, true),
        ]
        .iter()
        .find(|(name, unit, absolute)| {
            is(name)
                && !o.keep_ttl
                && o.expire
                    .is_none_or(|e| e.unit == *unit && e.absolute == *absolute)
        })
        .and_then(|&(_, unit, absolute)| expire_as(unit, absolute))
        {
            o.expire = Some(e);
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Turns the given expiry into an absolute deadline, as Redis's
/// `getExpireMillisecondsOrReply`: the amount must be a positive integer that
/// does not overflow once converted to milliseconds and made absolute.
fn resolve_expire(
    opts: SetOptions,
    cmd: &'static str,
    now: UnixMillis,
) -> Result<Option<UnixMillis>, CommandError> {
    let Some(e) = opts.expire else {
        return Ok(None);
    };
    let amount = integer_arg(e.amount)?;
    let invalid = CommandError::InvalidExpireTime(cmd);
    if amount <= 0 || (e.unit == ExpireUnit::Seconds && amount > i64::MAX / 1000) {
        return Err(invalid);
    }
    let ms = if e.unit == ExpireUnit::Seconds {
        amount * 1000
    } else {
        amount
    };
    let deadline = if e.absolute {
        Some(ms)
    } else {
        ms.checked_add(now as i64)
    };
    match deadline {
        Some(d) if d > 0 => Ok(Some(d as UnixMillis)),
        _ => Err(invalid),
    }
}

fn set_generic(
    ctx: &mut ShardCtx,
    key: &[u8],
    value: &[u8],
    opts: SetOptions,
    deadline: Option<UnixMillis>,
    enc: &mut ReplyEncoder,
) {
    let now = ctx.now;
    // SET ... GET reads the key (a keyspace hit or miss); plain SET does not.
    let old = if opts.get {
        ctx.read(key)
    } else {
        ctx.keyspace().get(key, now)
    };
    let found = old.is_some();
    let old_deadline = old.as_ref().and_then(|e| e.deadline());
    if opts.get {
        match old {
            Some(entry) => match entry.value() {
                Value::String(s) => enc.bulk(s),
            },
            None => enc.null(),
        }
    }
    let blocked = match opts.condition {
        Condition::Always => false,
        Condition::IfMissing => found,
        Condition::IfExists => !found,
    };
    if blocked {
        if !opts.get {
            enc.null();
        }
        return;
    }
    let deadline = if opts.keep_ttl {
        old_deadline
    } else {
        deadline
    };
    ctx.keyspace()
        .set(key, Value::String(value.to_vec()), deadline, now);
    if !opts.get {
        enc.ok();
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    #[test]
    fn set_get_roundtrip_and_binary_values() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SET", "k", "v\r\n\0x"]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$5\r\nv\r\n\0x\r\n");
        assert_eq!(h.run(&["GET", "missing"]), b"$-1\r\n");
    }

    #[test]
    fn set_nx_xx_get() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SET", "k", "1", "XX"]), b"$-1\r\n");
        assert_eq!(h.run(&["SET", "k", "1", "NX"]), b"+OK\r\n");
        assert_eq!(h.run(&["SET", "k", "2", "NX"]), b"$-1\r\n");
        assert_eq!(h.run(&["SET", "k", "3", "XX", "GET"]), b"$1\r\n1\r\n");
        assert_eq!(h.run(&["SET", "k", "4", "NX", "GET"]), b"$1\r\n3\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$1\r\n3\r\n");
        assert_eq!(h.run(&["SET", "new", "x", "GET"]), b"$-1\r\n");
        assert_eq!(
            h.run(&["SET", "k", "1", "NX", "XX"]),
            b"-ERR syntax error\r\n"
        );
    }

    #[test]
    fn set_expiry_options() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SET", "k", "v", "EX", "10"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":10000\r\n");
        assert_eq!(h.run(&["SET", "k", "v", "PX", "1500"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":1500\r\n");
        assert_eq!(h.run(&["SET", "k", "w", "KEEPTTL"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":1500\r\n");
        assert_eq!(h.run(&["SET", "k", "w"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":-1\r\n");
        let at = (h.now / 1000 + 100).to_string();
        assert_eq!(h.run(&["SET", "k", "v", "EXAT", &at]), b"+OK\r\n");
        let pxat = (h.now + 5000).to_string();
        assert_eq!(h.run(&["SET", "k", "v", "PXAT", &pxat]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":5000\r\n");
        assert_eq!(h.run(&["SET", "k", "v", "PXAT", "1"]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$-1\r\n");
    }

    #[test]
    fn set_option_errors() {
        let mut h = Harness::new();
        for (args, reply) in [
            (&["SET", "k", "v", "EX"][..], &b"-ERR syntax error\r\n"[..]),
            (
                &["SET", "k", "v", "EX", "10", "PX", "10"],
                b"-ERR syntax error\r\n",
            ),
            (
                &["SET", "k", "v", "EX", "10", "KEEPTTL"],
                b"-ERR syntax error\r\n",
            ),
            (
                &["SET", "k", "v", "KEEPTTL", "EX", "10"],
                b"-ERR syntax error\r\n",
            ),
            (&["SET", "k", "v", "FOO"], b"-ERR syntax error\r\n"),
            (
                &["SET", "k", "v", "EX", "0"],
                b"-ERR invalid expire time in 'set' command\r\n",
            ),
            (
                &["SET", "k", "v", "PX", "-1"],
                b"-ERR invalid expire time in 'set' command\r\n",
            ),
            (
                &["SET", "k", "v", "EX", "9223372036854775807"],
                b"-ERR invalid expire time in 'set' command\r\n",
            ),
            (
                &["SET", "k", "v", "PX", "9223372036854775807"],
                b"-ERR invalid expire time in 'set' command\r\n",
            ),
            (
                &["SET", "k", "v", "EX", "ten"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
        assert_eq!(
            h.run(&["SET", "k", "v", "EX", "10", "EX", "20"]),
            b"+OK\r\n"
        );
        assert_eq!(h.run(&["TTL", "k"]), b":20\r\n");
    }

    #[test]
    fn setex_and_psetex() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["SETEX", "mykey", "10", "Hello, World!"]),
            b"+OK\r\n"
        );
        assert_eq!(h.run(&["GET", "mykey"]), b"$13\r\nHello, World!\r\n");
        assert_eq!(h.run(&["TTL", "mykey"]), b":10\r\n");
        h.now += 10_000;
        assert_eq!(h.run(&["GET", "mykey"]), b"$-1\r\n");
        assert_eq!(h.run(&["PSETEX", "k", "2000", "Hello"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "k"]), b":2000\r\n");
        assert_eq!(h.run(&["SETEX", "k", "100", "again"]), b"+OK\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":100\r\n");
        assert_eq!(
            h.run(&["SETEX", "k", "0", "v"]),
            b"-ERR invalid expire time in 'setex' command\r\n"
        );
        assert_eq!(
            h.run(&["PSETEX", "k", "-5", "v"]),
            b"-ERR invalid expire time in 'psetex' command\r\n"
        );
        assert_eq!(
            h.run(&["SETEX", "k", "ten", "v"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(h.run(&["GET", "k"]), b"$5\r\nagain\r\n");
    }

    #[test]
    fn setnx() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SETNX", "k", "a"]), b":1\r\n");
        assert_eq!(h.run(&["SETNX", "k", "b"]), b":0\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$1\r\na\r\n");
    }
}
