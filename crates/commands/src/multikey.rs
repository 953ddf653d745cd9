//! MGET, MSET, MSETNX: string commands over many keys.
//!
//! Each comes in two shapes. When all its keys live on one shard, the whole
//! command runs there as one job (`mget`, `mset`, `msetnx`), like any
//! single-key command. When they are spread over shards the server runs it
//! as a transaction and calls the per-shard parts (`mget_part`, `mset_part`)
//! on each shard's share of the keys; `msetnx` then takes two hops: EXISTS
//! on every shard, and MSET on every shard only if no key existed.

use crate::error::reply_error;
use crate::{Checks, CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::ValueRef;

/// MSET / MSETNX take key-value pairs: an odd pair count is an arity error.
pub(crate) fn validate_pairs(args: &Args, _: &Checks) -> Result<(), CommandError> {
    if args.len() % 2 == 1 {
        Ok(())
    } else {
        let name = String::from_utf8_lossy(args.get(0)).to_ascii_lowercase();
        Err(CommandError::WrongArity(name))
    }
}

/// MGET key [key ...]
pub(crate) fn mget(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    enc.array_len(args.len() - 1);
    for key in args.iter().skip(1) {
        match ctx.read(key).map(|e| e.value()) {
            Some(ValueRef::String(s)) => enc.bulk(s),
            None => enc.null(),
        }
    }
}

/// MGET's part on one shard: the values of `args[1..]`, in order (a missing
/// key, or one that is not a string, is `None`).
pub fn mget_part(args: &Args, ctx: &mut ShardCtx) -> Vec<Option<Vec<u8>>> {
    args.iter()
        .skip(1)
        .map(|key| {
            ctx.read(key).map(|e| match e.value() {
                ValueRef::String(s) => s.to_vec(),
            })
        })
        .collect()
}

/// MSET key value [key value ...]
pub(crate) fn mset(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    match validate_pairs(args, &Checks::default()) {
        Ok(()) => {
            mset_part(args, ctx);
            enc.ok();
        }
        Err(e) => reply_error(enc, &e),
    }
}

/// MSET's part on one shard: stores the pairs of `args[1..]` (no TTL, as SET).
pub fn mset_part(args: &Args, ctx: &mut ShardCtx) {
    let now = ctx.now;
    let db = ctx.keyspace();
    for pair in 0..(args.len() - 1) / 2 {
        let (key, value) = (args.get(1 + 2 * pair), args.get(2 + 2 * pair));
        db.set_string(key, value, None, now);
    }
}

/// MSETNX key value [key value ...]: sets all the pairs only if none of the
/// keys exists; `:1` if it set them, `:0` otherwise.
pub(crate) fn msetnx(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    if let Err(e) = validate_pairs(args, &Checks::default()) {
        return reply_error(enc, &e);
    }
    let now = ctx.now;
    let db = ctx.keyspace();
    let any = (0..(args.len() - 1) / 2).any(|pair| db.get(args.get(1 + 2 * pair), now).is_some());
    if !any {
        mset_part(args, ctx);
    }
    enc.integer(i64::from(!any));
}

/// MSETNX's first part on one shard: how many of the keys (every other
/// argument of `args[1..]`) exist.
pub fn msetnx_existing(args: &Args, ctx: &mut ShardCtx) -> i64 {
    let now = ctx.now;
    let db = ctx.keyspace();
    (0..(args.len() - 1) / 2)
        .filter(|pair| db.get(args.get(1 + 2 * pair), now).is_some())
        .count() as i64
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    #[test]
    fn mset_then_mget() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["MSET", "a", "1", "b", "2"]), b"+OK\r\n");
        assert_eq!(
            h.run(&["MGET", "a", "missing", "b", "a"]),
            b"*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            h.run(&["MSET", "a", "1", "b"]),
            b"-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert_eq!(
            h.run(&["MSET", "a"]),
            b"-ERR wrong number of arguments for 'mset' command\r\n"
        );
    }

    #[test]
    fn mset_clears_ttl_and_last_pair_wins() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SET", "a", "x", "EX", "100"]), b"+OK\r\n");
        assert_eq!(h.run(&["MSET", "a", "1", "a", "2"]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "a"]), b"$1\r\n2\r\n");
        assert_eq!(h.run(&["TTL", "a"]), b":-1\r\n");
    }

    #[test]
    fn msetnx_is_all_or_nothing() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["MSETNX", "a", "1", "b", "2"]), b":1\r\n");
        assert_eq!(h.run(&["MSETNX", "c", "3", "b", "9"]), b":0\r\n");
        assert_eq!(h.run(&["EXISTS", "c"]), b":0\r\n");
        assert_eq!(h.run(&["GET", "b"]), b"$1\r\n2\r\n");
        assert_eq!(
            h.run(&["MSETNX", "a", "1", "b"]),
            b"-ERR wrong number of arguments for 'msetnx' command\r\n"
        );
    }
}
