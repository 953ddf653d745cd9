//! Keyspace commands: DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL.
//!
//! Each runs on one shard over the keys that shard owns; the server scatters
//! the keys and combines the per-shard results (see `Dispatch`).

use crate::{CommandError, ShardCtx};
use resp::Args;

/// DEL key [key ...]: this shard's part, the number of keys removed.
pub(crate) fn del(args: &Args, ctx: &mut ShardCtx) -> i64 {
    let now = ctx.now;
    let db = ctx.keyspace();
    args.iter()
        .skip(1)
        .filter(|key| db.remove(key, now).is_some())
        .count() as i64
}

/// EXISTS key [key ...]: this shard's part, the number of keys that exist
/// (a key named twice counts twice).
pub(crate) fn exists(args: &Args, ctx: &mut ShardCtx) -> i64 {
    args.iter()
        .skip(1)
        .filter(|key| ctx.read_untouched(key).is_some())
        .count() as i64
}

/// For commands whose arity already rules out every argument.
pub(crate) fn no_arguments(_: &Args) -> Result<(), CommandError> {
    Ok(())
}

/// DBSIZE: this shard's live keys in the selected database.
pub(crate) fn dbsize(_: &Args, ctx: &mut ShardCtx) -> i64 {
    let now = ctx.now;
    ctx.keyspace().live_len(now) as i64
}

/// FLUSHDB / FLUSHALL take an optional ASYNC or SYNC.
pub(crate) fn flush_mode(args: &Args) -> Result<(), CommandError> {
    match args.len() {
        1 => Ok(()),
        2 if args.get(1).eq_ignore_ascii_case(b"SYNC")
            || args.get(1).eq_ignore_ascii_case(b"ASYNC") =>
        {
            Ok(())
        }
        _ => Err(CommandError::Syntax),
    }
}

/// FLUSHDB [ASYNC | SYNC]: empties the selected database on this shard.
pub(crate) fn flushdb(_: &Args, ctx: &mut ShardCtx) -> i64 {
    ctx.keyspace().clear();
    0
}

/// FLUSHALL [ASYNC | SYNC]: empties every database on this shard.
pub(crate) fn flushall(_: &Args, ctx: &mut ShardCtx) -> i64 {
    ctx.dbs.iter_mut().for_each(|db| db.clear());
    0
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;

    #[test]
    fn del_and_exists_count() {
        let mut h = Harness::new();
        h.run(&["SET", "a", "1"]);
        h.run(&["SET", "b", "1"]);
        assert_eq!(h.run(&["EXISTS", "a", "a", "b", "c"]), b":3\r\n");
        assert_eq!(h.run(&["DEL", "a", "c", "a"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "a"]), b":0\r\n");
    }

    #[test]
    fn dbsize_and_flush() {
        let mut h = Harness::new();
        h.run(&["SET", "a", "1"]);
        h.run(&["PSETEX", "b", "10", "1"]);
        assert_eq!(h.run(&["DBSIZE"]), b":2\r\n");
        h.now += 10;
        assert_eq!(h.run(&["DBSIZE"]), b":1\r\n");
        h.db = 1;
        h.run(&["SET", "x", "1"]);
        assert_eq!(h.run(&["FLUSHDB"]), b"+OK\r\n");
        assert_eq!(h.run(&["DBSIZE"]), b":0\r\n");
        h.run(&["SET", "x", "1"]);
        h.db = 0;
        assert_eq!(h.run(&["DBSIZE"]), b":1\r\n");
        assert_eq!(h.run(&["FLUSHALL", "ASYNC"]), b"+OK\r\n");
        assert_eq!(h.run(&["DBSIZE"]), b":0\r\n");
        h.db = 1;
        assert_eq!(h.run(&["DBSIZE"]), b":0\r\n");
        assert_eq!(h.run(&["FLUSHALL", "now"]), b"-ERR syntax error\r\n");
        assert_eq!(h.run(&["FLUSHDB", "SYNC", "x"]), b"-ERR syntax error\r\n");
    }
}
