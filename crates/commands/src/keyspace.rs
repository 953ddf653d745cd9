//! Keyspace commands: DEL, EXISTS, TOUCH, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB,
//! MOVE, RENAME, RENAMENX, COPY. (KEYS, SCAN and RANDOMKEY, which walk a
//! keyspace, are in `scan.rs`.)
//!
//! Each runs on one shard over the keys that shard owns; the server scatters
//! the keys and combines the per-shard results (see `Dispatch`). RENAME,
//! RENAMENX and COPY run whole here when both keys live on one shard; their
//! argument parsing ([`parse_copy`]) and their two halves ([`take_key`] on the
//! source's shard, [`put_key`] on the destination's) are separate so that the
//! server can also run them across shards.

use crate::connection::parse_db_index;
use crate::error::reply_error;
use crate::number::parse_i64;
use crate::{Checks, CommandError, ShardCtx};
use resp::{Args, ReplyEncoder};
use store::EntryParts;

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

/// TOUCH key [key ...]: this shard's part, the number of keys that exist
/// (a key named twice counts twice). Unlike EXISTS, it is an access.
pub(crate) fn touch(args: &Args, ctx: &mut ShardCtx) -> i64 {
    args.iter()
        .skip(1)
        .filter(|key| ctx.read(key).is_some())
        .count() as i64
}

/// For commands whose arity already rules out every argument.
pub(crate) fn no_arguments(_: &Args, _: &Checks) -> Result<(), CommandError> {
    Ok(())
}

/// DBSIZE: this shard's live keys in the selected database.
pub(crate) fn dbsize(_: &Args, ctx: &mut ShardCtx) -> i64 {
    let now = ctx.now;
    ctx.keyspace().live_len(now) as i64
}

/// FLUSHDB / FLUSHALL take an optional ASYNC or SYNC.
pub(crate) fn flush_mode(args: &Args, _: &Checks) -> Result<(), CommandError> {
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

/// SWAPDB index1 index2, parsed as Redis does: each index must be an int
/// (`ERR invalid first DB index` / `... second ...`, which also covers
/// values outside i32), then both must be below `databases`.
pub(crate) fn parse_swapdb(args: &Args, databases: usize) -> Result<(usize, usize), CommandError> {
    let index = |arg: &[u8], which: &str| {
        parse_i64(arg)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| CommandError::Other(format!("ERR invalid {which} DB index")))
    };
    let first = index(args.get(1), "first")?;
    let second = index(args.get(2), "second")?;
    let in_range = |n: i64| usize::try_from(n).ok().filter(|&db| db < databases);
    match (in_range(first), in_range(second)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CommandError::DbIndexOutOfRange),
    }
}

/// SWAPDB's check before the broadcast. It cannot know the number of
/// databases, so an index too large is caught only by [`parse_swapdb`] with
/// the real count (and [`swapdb`] then does nothing).
pub(crate) fn validate_swapdb(args: &Args, checks: &Checks) -> Result<(), CommandError> {
    parse_swapdb(args, checks.databases).map(|_| ())
}

/// SWAPDB index1 index2: swaps the two databases on this shard.
pub(crate) fn swapdb(args: &Args, ctx: &mut ShardCtx) -> i64 {
    if let Ok((a, b)) = parse_swapdb(args, ctx.dbs.count()) {
        ctx.dbs.swap(a, b);
    }
    0
}

/// MOVE key db: moves the key, with its TTL, to another database of this
/// shard (a key's shard does not depend on its database). `:0` when the key
/// is missing or already exists there.
pub(crate) fn move_key(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let dst = match parse_db_index(args.get(2), ctx.dbs.count()) {
        Ok(db) if db == ctx.db => return reply_error(enc, &CommandError::SameObject),
        Ok(db) => db,
        Err(e) => return reply_error(enc, &e),
    };
    let (key, now, src) = (args.get(1), ctx.now, ctx.db);
    let moved = ctx.dbs.db(src).get(key, now).is_some()
        && ctx.dbs.db(dst).get(key, now).is_none()
        && take_key(ctx, key, Take::Remove)
            .is_some_and(|parts| put_key(ctx, dst, key, parts, true));
    enc.integer(i64::from(moved));
}

/// How [`take_key`] takes a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Removes the key (RENAME, MOVE).
    Remove,
    /// Leaves the key and clones its value (COPY).
    Clone,
}

/// The source half of RENAME / COPY / MOVE on the shard that owns `key` in
/// the selected database: its value, deadline and encoding, or `None` when
/// it does not exist. A copy is a new object: its access time is now.
pub fn take_key(ctx: &mut ShardCtx, key: &[u8], how: Take) -> Option<EntryParts> {
    let now = ctx.now;
    match how {
        Take::Remove => ctx.keyspace().remove(key, now).map(|e| e.into_parts()),
        Take::Clone => ctx.keyspace().get(key, now).map(|e| EntryParts {
            value: e.value().to_owned(),
            deadline: e.deadline(),
            encoding: e.encoding().of_copy(),
            access_secs: (now / 1000) as u32,
        }),
    }
}

/// The destination half: stores `parts` under `key` in database `db`,
/// unless the key exists and `replace` is false; returns whether it stored.
/// A replaced key's TTL goes with it.
pub fn put_key(
    ctx: &mut ShardCtx,
    db: usize,
    key: &[u8],
    parts: EntryParts,
    replace: bool,
) -> bool {
    let now = ctx.now;
    let db = ctx.dbs.db(db);
    if !replace && db.get(key, now).is_some() {
        return false;
    }
    db.insert_parts(key, parts, now);
    true
}

/// RENAME key newkey, both keys on this shard: the value and TTL move;
/// `ERR no such key` without a source; renaming a key to itself is `+OK`.
pub(crate) fn rename(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    rename_generic(args, ctx, enc, false);
}

/// RENAMENX key newkey, both keys on this shard: as RENAME, but `:0` (and
/// nothing done) when `newkey` exists, `:1` when renamed.
pub(crate) fn renamenx(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    rename_generic(args, ctx, enc, true);
}

/// Redis's `renameGenericCommand`: the source is looked up first (its
/// absence is an error even when both names are the same).
fn rename_generic(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder, nx: bool) {
    let (src, dst, now) = (args.get(1), args.get(2), ctx.now);
    let done = |enc: &mut ReplyEncoder, renamed: bool| match (nx, renamed) {
        (true, renamed) => enc.integer(i64::from(renamed)),
        (false, _) => enc.ok(),
    };
    if ctx.keyspace().get(src, now).is_none() {
        return reply_error(enc, &CommandError::NoSuchKey);
    }
    if src == dst {
        return done(enc, false);
    }
    if nx && ctx.keyspace().get(dst, now).is_some() {
        return done(enc, false);
    }
    let Some(parts) = take_key(ctx, src, Take::Remove) else {
        return reply_error(enc, &CommandError::NoSuchKey);
    };
    let db = ctx.db;
    put_key(ctx, db, dst, parts, true);
    done(enc, true);
}

/// COPY's options are checked before any key is looked at.
pub(crate) fn validate_copy(args: &Args, checks: &Checks) -> Result<(), CommandError> {
    parse_copy(args, checks.db, checks.databases).map(|_| ())
}

/// COPY's options, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyArgs {
    /// The destination database (DB, or the selected one).
    pub dst_db: usize,
    /// REPLACE: overwrite an existing destination.
    pub replace: bool,
}

/// COPY source destination [DB destination-db] [REPLACE], parsed as Redis
/// does: options in order (the first bad one decides the error: `syntax
/// error`, a bad integer, `DB index is out of range`), then
/// `ERR source and destination objects are the same` when both names and
/// databases are, whether or not the key exists. `db` is the selected
/// database, `databases` how many there are.
pub fn parse_copy(args: &Args, db: usize, databases: usize) -> Result<CopyArgs, CommandError> {
    let mut copy = CopyArgs {
        dst_db: db,
        replace: false,
    };
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"REPLACE") {
            copy.replace = true;
        } else if opt.eq_ignore_ascii_case(b"DB") && i + 1 < args.len() {
            copy.dst_db = parse_db_index(args.get(i + 1), databases)?;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if copy.dst_db == db && args.get(1) == args.get(2) {
        return Err(CommandError::SameObject);
    }
    Ok(copy)
}

/// COPY source destination [DB destination-db] [REPLACE], both keys on
/// this shard: `:1` when copied (value and TTL), `:0` when the source is
/// missing or the destination exists without REPLACE.
pub(crate) fn copy(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let copy = match parse_copy(args, ctx.db, ctx.dbs.count()) {
        Ok(copy) => copy,
        Err(e) => return reply_error(enc, &e),
    };
    let (src, dst, now) = (args.get(1), args.get(2), ctx.now);
    // Checked before cloning, so that a refused copy clones nothing.
    let copied = ctx.read(src).is_some()
        && (copy.replace || ctx.dbs.db(copy.dst_db).get(dst, now).is_none())
        && take_key(ctx, src, Take::Clone)
            .is_some_and(|parts| put_key(ctx, copy.dst_db, dst, parts, true));
    enc.integer(i64::from(copied));
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

    #[test]
    fn touch_counts_existing_keys() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        h.run(&["PSETEX", "gone", "1", "v"]);
        h.now += 1;
        assert_eq!(h.run(&["TOUCH", "k", "k", "x", "gone"]), b":2\r\n");
        assert_eq!(
            h.run(&["TOUCH"]),
            b"-ERR wrong number of arguments for 'touch' command\r\n"
        );
    }

    #[test]
    fn move_keeps_the_ttl_and_refuses_to_overwrite() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        h.run(&["PEXPIRE", "k", "100000"]);
        assert_eq!(h.run(&["MOVE", "k", "1"]), b":1\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
        h.db = 1;
        assert_eq!(h.run(&["PTTL", "k"]), b":100000\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$1\r\nv\r\n");
        h.db = 0;
        h.run(&["SET", "k", "v2"]);
        assert_eq!(h.run(&["MOVE", "k", "1"]), b":0\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$2\r\nv2\r\n");
        assert_eq!(h.run(&["MOVE", "nokey", "1"]), b":0\r\n");
    }

    #[test]
    fn move_errors() {
        let mut h = Harness::new();
        let same = b"-ERR source and destination objects are the same\r\n";
        assert_eq!(h.run(&["MOVE", "nokey", "0"]), same);
        let range = b"-ERR DB index is out of range\r\n";
        assert_eq!(h.run(&["MOVE", "k", "16"]), range);
        assert_eq!(h.run(&["MOVE", "k", "-1"]), range);
        assert_eq!(
            h.run(&["MOVE", "k", "abc"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["MOVE", "k", "99999999999999999999"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["MOVE", "k", "2147483648"]),
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        assert_eq!(
            h.run(&["MOVE", "k", "1", "x"]),
            b"-ERR wrong number of arguments for 'move' command\r\n"
        );
    }

    #[test]
    fn swapdb_swaps_and_checks_indexes() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "zero"]);
        assert_eq!(h.run(&["SWAPDB", "0", "1"]), b"+OK\r\n");
        assert_eq!(h.run(&["EXISTS", "k"]), b":0\r\n");
        h.db = 1;
        assert_eq!(h.run(&["GET", "k"]), b"$4\r\nzero\r\n");
        assert_eq!(h.run(&["SWAPDB", "1", "1"]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$4\r\nzero\r\n");
        let first = b"-ERR invalid first DB index\r\n";
        assert_eq!(h.run(&["SWAPDB", "a", "b"]), first);
        assert_eq!(h.run(&["SWAPDB", "2147483648", "0"]), first);
        assert_eq!(
            h.run(&["SWAPDB", "0", "b"]),
            b"-ERR invalid second DB index\r\n"
        );
        let range = b"-ERR DB index is out of range\r\n";
        assert_eq!(h.run(&["SWAPDB", "-1", "0"]), range);
        assert_eq!(h.run(&["SWAPDB", "0", "-1"]), range);
        assert_eq!(
            h.run(&["SWAPDB", "0"]),
            b"-ERR wrong number of arguments for 'swapdb' command\r\n"
        );
        // The upper bound needs the number of databases.
        let args = resp::Args::from_slices(&["SWAPDB", "0", "16"]);
        assert_eq!(
            super::parse_swapdb(&args, 16),
            Err(crate::CommandError::DbIndexOutOfRange)
        );
        assert_eq!(super::parse_swapdb(&args, 17), Ok((0, 16)));
    }

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut h = Harness::new();
        let nokey = b"-ERR no such key\r\n";
        assert_eq!(h.run(&["RENAME", "a", "b"]), nokey);
        assert_eq!(h.run(&["RENAME", "a", "a"]), nokey);
        assert_eq!(h.run(&["RENAMENX", "a", "b"]), nokey);
        assert_eq!(h.run(&["RENAMENX", "a", "a"]), nokey);
        h.run(&["SET", "a", "1"]);
        assert_eq!(h.run(&["RENAME", "a", "a"]), b"+OK\r\n");
        assert_eq!(h.run(&["RENAMENX", "a", "a"]), b":0\r\n");
        h.run(&["PEXPIRE", "a", "100000"]);
        assert_eq!(h.run(&["RENAME", "a", "b"]), b"+OK\r\n");
        assert_eq!(h.run(&["EXISTS", "a"]), b":0\r\n");
        assert_eq!(h.run(&["PTTL", "b"]), b":100000\r\n");
        h.run(&["SET", "c", "3"]);
        assert_eq!(h.run(&["RENAMENX", "b", "c"]), b":0\r\n");
        assert_eq!(h.run(&["GET", "c"]), b"$1\r\n3\r\n");
        assert_eq!(h.run(&["RENAME", "b", "c"]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "c"]), b"$1\r\n1\r\n");
        assert_eq!(h.run(&["PTTL", "c"]), b":100000\r\n");
        // The destination's own TTL does not survive.
        h.run(&["SET", "d", "4"]);
        assert_eq!(h.run(&["RENAME", "d", "c"]), b"+OK\r\n");
        assert_eq!(h.run(&["PTTL", "c"]), b":-1\r\n");
        assert_eq!(h.run(&["RENAMENX", "c", "e"]), b":1\r\n");
        assert_eq!(h.run(&["GET", "e"]), b"$1\r\n4\r\n");
        assert_eq!(
            h.run(&["RENAME", "a"]),
            b"-ERR wrong number of arguments for 'rename' command\r\n"
        );
    }

    #[test]
    fn copy_copies_value_and_ttl() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["COPY", "a", "b"]), b":0\r\n");
        h.run(&["SET", "c", "3"]);
        h.run(&["PEXPIRE", "c", "100000"]);
        assert_eq!(h.run(&["COPY", "c", "e"]), b":1\r\n");
        assert_eq!(h.run(&["PTTL", "e"]), b":100000\r\n");
        assert_eq!(h.run(&["GET", "c"]), b"$1\r\n3\r\n");
        h.run(&["SET", "e", "x"]);
        assert_eq!(h.run(&["COPY", "c", "e"]), b":0\r\n");
        assert_eq!(h.run(&["GET", "e"]), b"$1\r\nx\r\n");
        assert_eq!(h.run(&["COPY", "c", "e", "replace"]), b":1\r\n");
        assert_eq!(h.run(&["GET", "e"]), b"$1\r\n3\r\n");
        assert_eq!(h.run(&["COPY", "c", "c", "DB", "1"]), b":1\r\n");
        assert_eq!(
            h.run(&["COPY", "c", "e", "replace", "replace", "db", "1", "db", "2"]),
            b":1\r\n"
        );
        h.db = 2;
        assert_eq!(h.run(&["PTTL", "e"]), b":100000\r\n");
        h.db = 1;
        assert_eq!(h.run(&["GET", "c"]), b"$1\r\n3\r\n");
        assert_eq!(h.run(&["EXISTS", "e"]), b":0\r\n");
    }

    #[test]
    fn copy_errors_in_redis_order() {
        let mut h = Harness::new();
        h.run(&["SET", "c", "3"]);
        let same = b"-ERR source and destination objects are the same\r\n";
        let syntax = b"-ERR syntax error\r\n";
        let range = b"-ERR DB index is out of range\r\n";
        let cases: &[(&[&str], &[u8])] = &[
            (&["COPY", "c", "c"], same),
            (&["COPY", "nokey", "nokey"], same),
            (&["COPY", "c", "c", "replace", "db", "0"], same),
            (&["COPY", "c", "e", "db"], syntax),
            (&["COPY", "c", "e", "foo"], syntax),
            (&["COPY", "c", "c", "foo"], syntax),
            (&["COPY", "c", "c", "foo", "db", "16"], syntax),
            (&["COPY", "c", "c", "db", "16", "foo"], range),
            (&["COPY", "c", "e", "db", "-1"], range),
            (&["COPY", "nokey", "e", "db", "16"], range),
            (
                &["COPY", "c", "e", "db", "abc"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["COPY", "c", "c", "db", "x", "db", "1"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["COPY", "c", "e", "db", "2147483648"],
                b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
            ),
            (
                &["COPY", "c"],
                b"-ERR wrong number of arguments for 'copy' command\r\n",
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(h.run(cmd), *want, "{cmd:?}");
        }
        assert_eq!(h.run(&["EXISTS", "e"]), b":0\r\n");
    }
}
