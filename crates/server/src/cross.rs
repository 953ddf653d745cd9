//! Commands whose keys live on several shards, run as transactions (see
//! `txn.rs`): the plan of each — which shard does what in which hop — and
//! how their answers become one reply. What each step does to a shard's
//! data is the commands crate's (`mget_part`, `mset_part`, the count parts).

use crate::reactor::Reactor;
use crate::shard::{BatchReply, JobOutcome, Locks, TxOp};
use crate::txn::Transaction;
use commands::{Combine, CountFn, Cross, Dispatch, Scatter, ShardCtx};
use resp::{Args, Protocol, ReplyEncoder};
use store::{EntryParts, Value};

/// Runs `args` (whose keys span shards, or which touches every shard) as a
/// transaction and appends its reply to `out`.
pub(crate) async fn run(
    reactor: &Reactor,
    dispatch: Dispatch,
    db: u32,
    protocol: Protocol,
    args: &Args,
    out: &mut Vec<u8>,
) {
    let mut enc = ReplyEncoder::new(out, protocol);
    let done = match dispatch {
        Dispatch::KeysCount(f) => count(reactor, f, db, args, &mut enc).await,
        Dispatch::AllShards { op, combine, .. } => {
            broadcast(reactor, op, combine, db, args, &mut enc).await
        }
        Dispatch::Multi { cross, .. } => match cross {
            Cross::Mget => mget(reactor, db, args, &mut enc).await,
            Cross::Mset => mset(reactor, db, args, &mut enc).await,
            Cross::Msetnx => msetnx(reactor, db, args, &mut enc).await,
            Cross::Rename { nx } => rename(reactor, db, args, nx, &mut enc).await,
            Cross::Copy => copy(reactor, db, args, &mut enc).await,
            Cross::Lcs => lcs(reactor, db, args, &mut enc).await,
        },
        Dispatch::Scatter { kind, .. } => match kind {
            Scatter::Keys => keys(reactor, db, args, &mut enc).await,
            Scatter::RandomKey => randomkey(reactor, db, &mut enc).await,
            Scatter::Scan => scan(reactor, db, args, &mut enc).await,
        },
        Dispatch::Key(_)
        | Dispatch::SubKey(_)
        | Dispatch::Connection(_)
        | Dispatch::Info
        | Dispatch::Sub { .. }
        | Dispatch::Server(_) => None,
    };
    if done.is_none() {
        enc.error("ERR server is shutting down");
    }
}

/// One shard's share of a command's keys.
struct Part {
    shard: usize,
    /// The command name, then this shard's keys (each with the `width - 1`
    /// arguments after it).
    args: Args,
    /// The keys' hashes, for the intent locks.
    hashes: Vec<u64>,
    /// Where each key was in the request.
    positions: Vec<usize>,
}

/// Splits the keys of `args[1..]` (every `width`-th argument, each with the
/// `width - 1` that follow it) by shard.
fn split(args: &Args, width: usize, shards: usize) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    for (position, i) in (1..args.len()).step_by(width).enumerate() {
        let key = args.get(i);
        let shard = store::shard_of(key, shards);
        let part = match parts.iter().position(|p| p.shard == shard) {
            Some(p) => &mut parts[p],
            None => {
                parts.push(Part {
                    shard,
                    args: Args::from_slices(&[args.get(0)]),
                    hashes: Vec::new(),
                    positions: Vec::new(),
                });
                parts.last_mut().expect("just pushed")
            }
        };
        for j in i..(i + width).min(args.len()) {
            part.args.push(args.get(j));
        }
        part.hashes.push(store::key_hash(key));
        part.positions.push(position);
    }
    parts
}

/// Runs `f` on each part's share of the arguments.
fn count_ops(parts: Vec<Part>, f: CountFn, db: u32) -> Vec<(usize, Vec<TxOp>)> {
    parts
        .into_iter()
        .map(|p| {
            (
                p.shard,
                vec![TxOp::Count {
                    f,
                    db,
                    args: p.args,
                }],
            )
        })
        .collect()
}

fn key_locks(parts: &[Part]) -> Vec<(usize, Locks)> {
    parts
        .iter()
        .map(|p| (p.shard, Locks::Keys(p.hashes.clone())))
        .collect()
}

fn int(reply: &Option<BatchReply>) -> i64 {
    match reply.as_ref().and_then(|r| r.outcomes.first()) {
        Some(JobOutcome::Int(n)) => *n,
        _ => 0,
    }
}

/// DEL, UNLINK, EXISTS, TOUCH: every shard counts over its keys; the sum.
async fn count(
    reactor: &Reactor,
    f: CountFn,
    db: u32,
    args: &Args,
    enc: &mut ReplyEncoder<'_>,
) -> Option<()> {
    let parts = split(args, 1, reactor.shards);
    let tx = Transaction::begin(reactor, key_locks(&parts)).await?;
    let replies = tx.hop(reactor, count_ops(parts, f, db), true).await;
    enc.integer(replies.iter().map(int).sum());
    Some(())
}

/// DBSIZE, FLUSHDB, FLUSHALL, SWAPDB: every shard, locked whole.
async fn broadcast(
    reactor: &Reactor,
    f: CountFn,
    combine: Combine,
    db: u32,
    args: &Args,
    enc: &mut ReplyEncoder<'_>,
) -> Option<()> {
    let shards = 0..reactor.shards;
    let tx =
        Transaction::begin(reactor, shards.clone().map(|s| (s, Locks::Shard)).collect()).await?;
    let ops = shards
        .map(|s| {
            let args = args.clone();
            (s, vec![TxOp::Count { f, db, args }])
        })
        .collect();
    let replies = tx.hop(reactor, ops, true).await;
    match combine {
        Combine::Sum => enc.integer(replies.iter().map(int).sum()),
        Combine::Ok => enc.ok(),
    }
    Some(())
}

async fn mget(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let parts = split(args, 1, reactor.shards);
    let tx = Transaction::begin(reactor, key_locks(&parts)).await?;
    let positions: Vec<(usize, Vec<usize>)> = parts
        .iter()
        .map(|p| (p.shard, p.positions.clone()))
        .collect();
    let ops = parts
        .into_iter()
        .map(|p| (p.shard, vec![TxOp::Mget { db, args: p.args }]))
        .collect();
    let mut replies = tx.hop(reactor, ops, true).await;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; args.len() - 1];
    for (shard, positions) in positions {
        let reply = replies[shard].take();
        if let Some(JobOutcome::Values(found)) = reply.and_then(|mut r| r.outcomes.pop()) {
            for (position, value) in positions.into_iter().zip(found) {
                values[position] = value;
            }
        }
    }
    enc.array_len(values.len());
    for value in &values {
        match value {
            Some(v) => enc.bulk(v),
            None => enc.null(),
        }
    }
    Some(())
}

fn mset_count(args: &Args, ctx: &mut ShardCtx) -> i64 {
    commands::mset_part(args, ctx);
    0
}

async fn mset(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let parts = split(args, 2, reactor.shards);
    let tx = Transaction::begin(reactor, key_locks(&parts)).await?;
    tx.hop(reactor, count_ops(parts, mset_count, db), true)
        .await;
    enc.ok();
    Some(())
}

async fn msetnx(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let parts = split(args, 2, reactor.shards);
    let tx = Transaction::begin(reactor, key_locks(&parts)).await?;
    let check = parts
        .iter()
        .map(|p| {
            let (f, args) = (commands::msetnx_existing, p.args.clone());
            (p.shard, vec![TxOp::Count { f, db, args }])
        })
        .collect();
    let existing: i64 = tx.hop(reactor, check, false).await.iter().map(int).sum();
    let ops = if existing == 0 {
        count_ops(parts, mset_count, db)
    } else {
        Vec::new()
    };
    tx.hop(reactor, ops, true).await;
    enc.integer(i64::from(existing == 0));
    Some(())
}

fn exists_count(args: &Args, ctx: &mut ShardCtx) -> i64 {
    let now = ctx.now;
    let db = ctx.keyspace();
    args.iter()
        .skip(1)
        .filter(|key| db.get(key, now).is_some())
        .count() as i64
}

/// Reads `key`'s entry (a copy, or taken out with `remove`).
fn read(db: u32, key: &[u8], remove: bool) -> TxOp {
    let key = key.to_vec();
    TxOp::Read { db, key, remove }
}

fn entry(reply: Option<BatchReply>) -> Option<EntryParts> {
    match reply.and_then(|mut r| r.outcomes.pop()) {
        Some(JobOutcome::Entry(entry)) => entry,
        _ => None,
    }
}

/// Locks `src` on its shard and `dst` on its own, for a command over two
/// keys on different shards.
fn pair_locks(reactor: &Reactor, src: &[u8], dst: &[u8]) -> ((usize, usize), Vec<(usize, Locks)>) {
    let (from, to) = (
        store::shard_of(src, reactor.shards),
        store::shard_of(dst, reactor.shards),
    );
    let locks = vec![
        (from, Locks::Keys(vec![store::key_hash(src)])),
        (to, Locks::Keys(vec![store::key_hash(dst)])),
    ];
    ((from, to), locks)
}

/// RENAME / RENAMENX src dst with src and dst on different shards: check the
/// source exists (and, for NX, the destination does not); then take the
/// source out and write it to the destination, under both locks.
async fn rename(
    reactor: &Reactor,
    db: u32,
    args: &Args,
    nx: bool,
    enc: &mut ReplyEncoder<'_>,
) -> Option<()> {
    let (src, dst) = (args.get(1), args.get(2));
    let ((from, to), locks) = pair_locks(reactor, src, dst);
    let tx = Transaction::begin(reactor, locks).await?;
    let (f, exists) = (exists_count, Args::from_slices(&[b"exists", src]));
    let mut check = vec![(
        from,
        vec![TxOp::Count {
            f,
            db,
            args: exists,
        }],
    )];
    if nx {
        let (f, args) = (exists_count, Args::from_slices(&[b"exists", dst]));
        check.push((to, vec![TxOp::Count { f, db, args }]));
    }
    let replies = tx.hop(reactor, check, false).await;
    if int(&replies[from]) == 0 {
        tx.hop(reactor, Vec::new(), true).await;
        enc.error("ERR no such key");
        return Some(());
    }
    if nx && int(&replies[to]) > 0 {
        tx.hop(reactor, Vec::new(), true).await;
        enc.integer(0);
        return Some(());
    }
    let take = vec![(from, vec![read(db, src, true)])];
    let mut replies = tx.hop(reactor, take, false).await;
    if let Some(entry) = entry(replies[from].take()) {
        let write = TxOp::Write {
            db,
            key: dst.to_vec(),
            entry,
            replace: true,
        };
        tx.hop(reactor, vec![(to, vec![write])], true).await;
    } else {
        tx.hop(reactor, Vec::new(), true).await;
    }
    if nx {
        enc.integer(1);
    } else {
        enc.ok();
    }
    Some(())
}

/// COPY src dst [DB n] [REPLACE] with src and dst on different shards: read
/// the source (a copy), then write it unless the destination exists and
/// REPLACE was not given.
async fn copy(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let options = match commands::parse_copy(args, db as usize, reactor.facts.options.databases) {
        Ok(options) => options,
        Err(e) => {
            enc.error(&e.to_string());
            return Some(());
        }
    };
    let (src, dst) = (args.get(1), args.get(2));
    let ((from, to), locks) = pair_locks(reactor, src, dst);
    let tx = Transaction::begin(reactor, locks).await?;
    let mut replies = tx
        .hop(reactor, vec![(from, vec![read(db, src, false)])], false)
        .await;
    let Some(entry) = entry(replies[from].take()) else {
        tx.hop(reactor, Vec::new(), true).await;
        enc.integer(0);
        return Some(());
    };
    let write = TxOp::Write {
        db: options.dst_db as u32,
        key: dst.to_vec(),
        entry,
        replace: options.replace,
    };
    let replies = tx.hop(reactor, vec![(to, vec![write])], true).await;
    enc.integer(int(&replies[to]));
    Some(())
}

/// LCS a b with a and b on different shards: read both, then compare here.
async fn lcs(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let (a, b) = (args.get(1), args.get(2));
    let ((from, to), locks) = pair_locks(reactor, a, b);
    let tx = Transaction::begin(reactor, locks).await?;
    let reads = vec![
        (from, vec![read(db, a, false)]),
        (to, vec![read(db, b, false)]),
    ];
    let mut replies = tx.hop(reactor, reads, true).await;
    let value = |parts: Option<EntryParts>| match parts.map(|p| p.value) {
        Some(Value::String(s)) => s,
        None => Vec::new(),
    };
    let (a, b) = (
        value(entry(replies[from].take())),
        value(entry(replies[to].take())),
    );
    commands::lcs_reply(args, &a, &b, enc);
    Some(())
}

/// KEYS pattern: every shard's matching keys, all shards locked at once so
/// that the answer is one instant's.
async fn keys(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let shards = 0..reactor.shards;
    let tx =
        Transaction::begin(reactor, shards.clone().map(|s| (s, Locks::Shard)).collect()).await?;
    let ops = shards
        .map(|s| {
            (
                s,
                vec![TxOp::Keys {
                    db,
                    args: args.clone(),
                }],
            )
        })
        .collect();
    let replies = tx.hop(reactor, ops, true).await;
    let keys: Vec<Vec<u8>> = replies
        .into_iter()
        .flatten()
        .flat_map(|mut r| match r.outcomes.pop() {
            Some(JobOutcome::Keys(keys)) => keys,
            _ => Vec::new(),
        })
        .collect();
    enc.array_len(keys.len());
    for key in &keys {
        enc.bulk(key);
    }
    Some(())
}

/// RANDOMKEY: every shard offers its key count and one random key; a shard
/// is picked in proportion to its count.
async fn randomkey(reactor: &Reactor, db: u32, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let shards = 0..reactor.shards;
    let no_locks = shards.clone().map(|s| (s, Locks::Keys(Vec::new())));
    let tx = Transaction::begin(reactor, no_locks.collect()).await?;
    let ops = shards.map(|s| (s, vec![TxOp::RandomKey { db }])).collect();
    let replies = tx.hop(reactor, ops, true).await;
    let offers: Vec<(usize, Option<Vec<u8>>)> = replies
        .into_iter()
        .map(|r| match r.and_then(|mut r| r.outcomes.pop()) {
            Some(JobOutcome::Random(count, key)) => (count, key),
            _ => (0, None),
        })
        .collect();
    let counts: Vec<usize> = offers.iter().map(|(count, _)| *count).collect();
    let key = commands::pick_weighted(&counts, commands::random_u64())
        .and_then(|shard| offers.into_iter().nth(shard))
        .and_then(|(_, key)| key);
    match key {
        Some(key) => enc.bulk(&key),
        None => enc.null(),
    }
    Some(())
}

/// SCAN cursor ...: the cursor names a shard and a place in it.
async fn scan(reactor: &Reactor, db: u32, args: &Args, enc: &mut ReplyEncoder<'_>) -> Option<()> {
    let cursor = match commands::parse_scan(args) {
        Ok(scan) => scan.cursor,
        Err(e) => {
            enc.error(&e.to_string());
            return Some(());
        }
    };
    let (shard, position) = commands::split_cursor(cursor);
    if shard >= reactor.shards {
        commands::reply_scan(enc, 0, &[]);
        return Some(());
    }
    let tx = Transaction::begin(reactor, vec![(shard, Locks::Keys(Vec::new()))]).await?;
    let op = TxOp::Scan {
        db,
        args: args.clone(),
        position,
    };
    let mut replies = tx.hop(reactor, vec![(shard, vec![op])], true).await;
    let (next, keys) = match replies[shard].take().and_then(|mut r| r.outcomes.pop()) {
        Some(JobOutcome::Scanned(next, keys)) => (next, keys),
        _ => (0, Vec::new()),
    };
    let cursor = commands::next_cursor(shard, next, reactor.shards);
    commands::reply_scan(enc, cursor, &keys);
    Some(())
}
