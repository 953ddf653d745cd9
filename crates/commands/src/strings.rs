//! String commands: GET, SET, SETEX, PSETEX, SETNX, GETSET, GETDEL, GETEX,
//! APPEND, SETRANGE, GETRANGE, SUBSTR, STRLEN. (Counters are in
//! `counters.rs`, LCS in `lcs.rs`.)
//!
//! SET, SETEX, PSETEX and GETEX share one option parser and one expiry
//! resolver, as Redis's `parseExtendedStringArgumentsOrReply` and
//! `getExpireMillisecondsOrReply` serve them all.

use crate::error::reply_error;
use crate::number::integer_arg;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::{Encoding, UnixMillis, Value, ValueRef};

/// The bytes of a string value, or WRONGTYPE for any other type.
pub(crate) fn string_bytes(value: ValueRef<'_>) -> Result<&[u8], CommandError> {
    #[allow(unreachable_patterns)]
    match value {
        ValueRef::String(s) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

/// The string of a value to change in place, or WRONGTYPE.
pub(crate) fn string_mut(value: &mut Value) -> Result<&mut Vec<u8>, CommandError> {
    #[allow(unreachable_patterns)]
    match value {
        Value::String(s) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

/// Refuses a string that would grow past `proto-max-bulk-len`, as Redis's
/// `checkStringLength` does (overflow included).
fn check_string_length(size: u64, append: u64) -> Result<(), CommandError> {
    match size.checked_add(append) {
        Some(total)
            if total
                <= crate::SETTINGS
                    .proto_max_bulk_len
                    .load(std::sync::atomic::Ordering::Relaxed) =>
        {
            Ok(())
        }
        _ => Err(CommandError::StringTooLong),
    }
}

/// Replies `result`'s error, if any.
fn reply(result: Result<(), CommandError>, enc: &mut ReplyEncoder) {
    if let Err(e) = result {
        reply_error(enc, &e);
    }
}

/// GET key
pub(crate) fn get(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    reply(get_generic(ctx, args.get(1), enc), enc);
}

/// Replies the string at `key` (null when missing), as Redis's
/// `getGenericCommand`; nothing is replied on WRONGTYPE, the caller does.
#[inline]
fn get_generic(ctx: &mut ShardCtx, key: &[u8], enc: &mut ReplyEncoder) -> Result<(), CommandError> {
    match ctx.read(key) {
        Some(entry) => enc.bulk(string_bytes(entry.value())?),
        None => enc.null(),
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
pub(crate) fn set(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let result = parse_extended_options(args, 3, OptionsOf::Set)
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
    let opts = ExtendedOptions {
        expire: Some(Expire {
            amount: args.get(2),
            unit,
            absolute: false,
        }),
        ..ExtendedOptions::default()
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
        db.set_string(args.get(1), args.get(2), None, now);
        enc.integer(1);
    }
}

/// GETSET key value: replies the old string, stores the new one without TTL.
pub(crate) fn getset(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let result = get_generic(ctx, args.get(1), enc).map(|()| {
        let now = ctx.now;
        ctx.keyspace()
            .set_string(args.get(1), args.get(2), None, now);
    });
    reply(result, enc);
}

/// GETDEL key: replies the string and deletes the key.
pub(crate) fn getdel(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let result = get_generic(ctx, args.get(1), enc).map(|()| {
        let now = ctx.now;
        ctx.keyspace().remove(args.get(1), now);
    });
    reply(result, enc);
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]: replies the
/// string and changes its TTL. Redis checks the options' syntax, then the
/// key (null when missing) and its type, and only then the expiry's value.
pub(crate) fn getex(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    reply(getex_generic(args, ctx, enc), enc);
}

fn getex_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
) -> Result<(), CommandError> {
    let opts = parse_extended_options(args, 2, OptionsOf::Get)?;
    let key = args.get(1);
    let now = ctx.now;
    let Some(entry) = ctx.read(key) else {
        enc.null();
        return Ok(());
    };
    let s = string_bytes(entry.value())?;
    let deadline = resolve_expire(opts, "getex", now)?;
    enc.bulk(s);
    let db = ctx.keyspace();
    match deadline {
        Some(d) if d <= now => {
            db.remove(key, now);
        }
        Some(d) => {
            db.set_deadline(key, Some(d), now);
        }
        None if opts.persist => {
            db.set_deadline(key, None, now);
        }
        None => {}
    }
    Ok(())
}

/// APPEND key value: replies the new length.
pub(crate) fn append(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    reply(append_generic(args, ctx, enc), enc);
}

fn append_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
) -> Result<(), CommandError> {
    let (key, tail) = (args.get(1), args.get(2));
    let now = ctx.now;
    let db = ctx.keyspace();
    match db.get_mut(key, now) {
        None => {
            db.set_string(key, tail, None, now);
            enc.integer(tail.len() as i64);
        }
        Some(mut entry) => {
            let len = {
                let mut value = entry.value_mut();
                let s = string_mut(&mut value)?;
                check_string_length(s.len() as u64, tail.len() as u64)?;
                s.extend_from_slice(tail);
                s.len()
            };
            entry.set_encoding(Encoding::Raw);
            enc.integer(len as i64);
        }
    }
    Ok(())
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding a
/// shorter string; replies the new length.
pub(crate) fn setrange(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    reply(setrange_generic(args, ctx, enc), enc);
}

fn setrange_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
) -> Result<(), CommandError> {
    let (key, patch) = (args.get(1), args.get(3));
    let offset = integer_arg(args.get(2))?;
    if offset < 0 {
        return Err(CommandError::Other("ERR offset is out of range".into()));
    }
    let offset = offset as u64;
    let now = ctx.now;
    let db = ctx.keyspace();
    match db.get_mut(key, now) {
        None => {
            // Setting nothing on a missing key creates nothing.
            if patch.is_empty() {
                enc.integer(0);
                return Ok(());
            }
            check_string_length(offset, patch.len() as u64)?;
            let mut s = Vec::with_capacity(offset as usize + patch.len());
            s.resize(offset as usize, 0);
            s.extend_from_slice(patch);
            let len = s.len();
            db.set_encoded(key, Value::String(s), Encoding::Raw, None, now);
            enc.integer(len as i64);
        }
        Some(mut entry) => {
            let len = {
                let mut value = entry.value_mut();
                let s = string_mut(&mut value)?;
                if patch.is_empty() {
                    enc.integer(s.len() as i64);
                    return Ok(());
                }
                check_string_length(offset, patch.len() as u64)?;
                let (start, end) = (offset as usize, offset as usize + patch.len());
                if s.len() < end {
                    s.resize(end, 0);
                }
                s[start..end].copy_from_slice(patch);
                s.len()
            };
            entry.set_encoding(Encoding::Raw);
            enc.integer(len as i64);
        }
    }
    Ok(())
}

/// GETRANGE key start end (and its old name SUBSTR): the substring between
/// two inclusive offsets, negative ones counting from the end.
pub(crate) fn getrange(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    reply(getrange_generic(args, ctx, enc), enc);
}

fn getrange_generic(
    args: &Args,
    ctx: &mut ShardCtx,
    enc: &mut ReplyEncoder,
) -> Result<(), CommandError> {
    let start = integer_arg(args.get(2))?;
    let end = integer_arg(args.get(3))?;
    let Some(entry) = ctx.read(args.get(1)) else {
        enc.bulk(b"");
        return Ok(());
    };
    let s = string_bytes(entry.value())?;
    enc.bulk(substring(s, start, end));
    Ok(())
}

/// Redis's GETRANGE arithmetic on `s`.
fn substring(s: &[u8], start: i64, end: i64) -> &[u8] {
    if start < 0 && end < 0 && start > end {
        return b"";
    }
    let len = s.len() as i128;
    let resolve = |i: i64| {
        let i = i128::from(i);
        if i < 0 {
            (len + i).max(0)
        } else {
            i
        }
    };
    let start = resolve(start);
    let end = resolve(end).min(len - 1);
    if s.is_empty() || start > end {
        return b"";
    }
    &s[start as usize..=end as usize]
}

/// STRLEN key: the string's length, 0 when missing.
pub(crate) fn strlen(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let result = match ctx.read(args.get(1)) {
        Some(entry) => string_bytes(entry.value()).map(|s| enc.integer(s.len() as i64)),
        None => {
            enc.integer(0);
            Ok(())
        }
    };
    reply(result, enc);
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

/// Whose options are parsed: SET takes NX, XX, GET and KEEPTTL, GETEX takes
/// PERSIST; both take EX, PX, EXAT and PXAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    Get,
}

#[derive(Debug, Clone, Copy, Default)]
struct ExtendedOptions<'a> {
    condition: Condition,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<Expire<'a>>,
}

/// Parses SET's or GETEX's options from `args[start..]` with Redis's exact
/// acceptance rules (each option is refused when a conflicting one came
/// earlier; repeating the same one is allowed).
fn parse_extended_options(
    args: &Args,
    start: usize,
    of: OptionsOf,
) -> Result<ExtendedOptions<'_>, CommandError> {
    let mut o = ExtendedOptions::default();
    let set = of == OptionsOf::Set;
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
        if set && is(b"NX") && o.condition != Condition::IfExists {
            o.condition = Condition::IfMissing;
        } else if set && is(b"XX") && o.condition != Condition::IfMissing {
            o.condition = Condition::IfExists;
        } else if set && is(b"GET") {
            o.get = true;
        } else if set && is(b"KEEPTTL") && no_expire {
            o.keep_ttl = true;
        } else if !set && is(b"PERSIST") && no_expire {
            o.persist = true;
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
                && !o.persist
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
    opts: ExtendedOptions,
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
    opts: ExtendedOptions,
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
    let old_deadline = old.and_then(|e| e.deadline());
    if opts.get {
        match old.map(|e| string_bytes(e.value())) {
            Some(Ok(s)) => enc.bulk(s),
            Some(Err(e)) => return reply_error(enc, &e),
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
    ctx.keyspace().set_string(key, value, deadline, now);
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

    #[test]
    fn string_values_convert() {
        // Only strings exist so far; these helpers are where other types
        // will be refused with WRONGTYPE.
        assert_eq!(
            super::string_bytes(store::ValueRef::String(b"x")),
            Ok(&b"x"[..])
        );
    }

    #[test]
    fn getset_and_getdel() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["GETSET", "k", "a"]), b"$-1\r\n");
        h.run(&["EXPIRE", "k", "100"]);
        assert_eq!(h.run(&["GETSET", "k", "b"]), b"$1\r\na\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
        assert_eq!(h.run(&["GETDEL", "k"]), b"$1\r\nb\r\n");
        assert_eq!(h.run(&["GETDEL", "k"]), b"$-1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
        assert_eq!(
            h.run(&["GETDEL", "k", "x"]),
            b"-ERR wrong number of arguments for 'getdel' command\r\n"
        );
        assert_eq!(
            h.run(&["GETSET", "k"]),
            b"-ERR wrong number of arguments for 'getset' command\r\n"
        );
    }

    #[test]
    fn getex_changes_the_ttl() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["GETEX", "k", "EX", "10"]), b"$-1\r\n");
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&["GETEX", "k"]), b"$1\r\nv\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
        assert_eq!(h.run(&["GETEX", "k", "EX", "10"]), b"$1\r\nv\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":10\r\n");
        assert_eq!(
            h.run(&["GETEX", "k", "px", "1500", "PX", "2500"]),
            b"$1\r\nv\r\n"
        );
        assert_eq!(h.run(&["PTTL", "k"]), b":2500\r\n");
        let at = (h.now / 1000 + 100).to_string();
        assert_eq!(h.run(&["GETEX", "k", "EXAT", &at]), b"$1\r\nv\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":100\r\n");
        assert_eq!(h.run(&["GETEX", "k", "PERSIST", "persist"]), b"$1\r\nv\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
        // A time already past deletes the key after replying it.
        assert_eq!(h.run(&["GETEX", "k", "PXAT", "1"]), b"$1\r\nv\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
    }

    #[test]
    fn getex_errors_in_redis_order() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        let syntax = &b"-ERR syntax error\r\n"[..];
        let invalid = &b"-ERR invalid expire time in 'getex' command\r\n"[..];
        for (args, reply) in [
            (&["GETEX", "k", "EX"][..], syntax),
            (&["GETEX", "k", "EX", "10", "PX", "10"], syntax),
            (&["GETEX", "k", "EX", "10", "PERSIST"], syntax),
            (&["GETEX", "k", "PERSIST", "EX", "10"], syntax),
            (&["GETEX", "k", "KEEPTTL"], syntax),
            (&["GETEX", "k", "NX"], syntax),
            (&["GETEX", "k", "GET"], syntax),
            (&["GETEX", "nokey", "FOO"], syntax),
            (&["GETEX", "k", "EX", "0"], invalid),
            (&["GETEX", "k", "PX", "-1"], invalid),
            (&["GETEX", "k", "EXAT", "0"], invalid),
            (&["GETEX", "k", "EX", "9223372036854775807"], invalid),
            (&["GETEX", "k", "PX", "9223372036854775807"], invalid),
            (
                &["GETEX", "k", "EX", "abc"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            // The key is looked up before the expiry's value is checked.
            (&["GETEX", "nokey", "EX", "abc"], b"$-1\r\n"),
            (
                &["GETEX"],
                b"-ERR wrong number of arguments for 'getex' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
        assert_eq!(h.run(&["TTL", "k"]), b":-1\r\n");
    }

    #[test]
    fn append_and_strlen() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["STRLEN", "k"]), b":0\r\n");
        assert_eq!(h.run(&["APPEND", "k", "Hello"]), b":5\r\n");
        assert_eq!(h.run(&["APPEND", "k", " World"]), b":11\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$11\r\nHello World\r\n");
        assert_eq!(h.run(&["STRLEN", "k"]), b":11\r\n");
        // Appending nothing to a missing key creates it, empty.
        assert_eq!(h.run(&["APPEND", "e", ""]), b":0\r\n");
        assert_eq!(h.run(&["EXISTS", "e"]), b":1\r\n");
        h.run(&["SET", "t", "1", "EX", "100"]);
        assert_eq!(h.run(&["APPEND", "t", "2"]), b":2\r\n");
        assert_eq!(h.run(&["TTL", "t"]), b":100\r\n");
        assert_eq!(
            h.run(&["STRLEN", "k", "x"]),
            b"-ERR wrong number of arguments for 'strlen' command\r\n"
        );
    }

    #[test]
    fn setrange_pads_and_bounds() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "Hello World"]);
        assert_eq!(h.run(&["SETRANGE", "k", "6", "Redis"]), b":11\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$11\r\nHello Redis\r\n");
        assert_eq!(h.run(&["SETRANGE", "k", "0", ""]), b":11\r\n");
        assert_eq!(h.run(&["SETRANGE", "k", "13", "!"]), b":14\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$14\r\nHello Redis\0\0!\r\n");
        assert_eq!(h.run(&["SETRANGE", "p", "3", "ab"]), b":5\r\n");
        assert_eq!(h.run(&["GET", "p"]), b"$5\r\n\0\0\0ab\r\n");
        // Nothing set on a missing key creates nothing, whatever the offset.
        assert_eq!(h.run(&["SETRANGE", "m", "536870912", ""]), b":0\r\n");
        assert_eq!(h.run(&["EXISTS", "m"]), b":0\r\n");
        let too_long = &b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"[..];
        for (args, reply) in [
            (
                &["SETRANGE", "k", "-1", "x"][..],
                &b"-ERR offset is out of range\r\n"[..],
            ),
            (
                &["SETRANGE", "m", "-1", ""],
                b"-ERR offset is out of range\r\n",
            ),
            (
                &["SETRANGE", "k", "x", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["SETRANGE", "k", "536870912", "x"], too_long),
            (&["SETRANGE", "m", "536870912", "x"], too_long),
            (&["SETRANGE", "k", "9223372036854775807", "x"], too_long),
            (&["SETRANGE", "k", "536870912", ""], b":14\r\n"),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
    }

    #[test]
    fn setrange_to_the_largest_size() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["SETRANGE", "k", "536870911", "x"]),
            b":536870912\r\n"
        );
        assert_eq!(h.run(&["STRLEN", "k"]), b":536870912\r\n");
        assert_eq!(h.run(&["GETRANGE", "k", "-2", "-1"]), b"$2\r\n\0x\r\n");
        h.run(&["DEL", "k"]);
    }

    #[test]
    fn getrange_indexes() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "This is a string"]);
        h.run(&["SET", "e", ""]);
        for (args, reply) in [
            (&["GETRANGE", "k", "0", "3"][..], &b"$4\r\nThis\r\n"[..]),
            (&["GETRANGE", "k", "-3", "-1"], b"$3\r\ning\r\n"),
            (
                &["GETRANGE", "k", "0", "-1"],
                b"$16\r\nThis is a string\r\n",
            ),
            (&["GETRANGE", "k", "10", "100"], b"$6\r\nstring\r\n"),
            (&["GETRANGE", "k", "-100", "1"], b"$2\r\nTh\r\n"),
            (&["GETRANGE", "k", "20", "30"], b"$0\r\n\r\n"),
            (&["GETRANGE", "k", "3", "1"], b"$0\r\n\r\n"),
            (&["GETRANGE", "k", "-1", "-5"], b"$0\r\n\r\n"),
            (
                &[
                    "GETRANGE",
                    "k",
                    "-9223372036854775808",
                    "9223372036854775807",
                ],
                b"$16\r\nThis is a string\r\n",
            ),
            (&["SUBSTR", "k", "5", "6"], b"$2\r\nis\r\n"),
            (&["GETRANGE", "e", "0", "-1"], b"$0\r\n\r\n"),
            (&["GETRANGE", "e", "-1", "0"], b"$0\r\n\r\n"),
            (&["GETRANGE", "nokey", "0", "-1"], b"$0\r\n\r\n"),
            (
                &["GETRANGE", "nokey", "a", "1"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["GETRANGE", "k", "0"],
                b"-ERR wrong number of arguments for 'getrange' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
    }
}
