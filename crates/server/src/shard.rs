//! A shard's state on its own thread: its data, and the order in which work
//! from connections and transactions touches it.
//!
//! Work comes from connections on the same thread or from other shards over
//! the mesh; both go through [`ShardState::handle`], so a command behaves the
//! same wherever it came from.
//!
//! **Transactions** (commands whose keys live on several shards) follow
//! DESIGN.md's VLL scheme. A coordinator takes a global transaction id and
//! *schedules* the transaction on every shard it touches: a shard accepts
//! only ids above every id it has accepted before (else the coordinator
//! aborts and retries with a fresh id), so every shard's queue is in id
//! order and no two shards can order two transactions differently. Scheduling
//! takes *intent locks* on the transaction's keys (or on the whole shard).
//! The coordinator then sends *hops*; a hop runs only when its transaction
//! is at the front of the shard's queue, and the last hop releases the locks.
//! Plain jobs (single-shard commands) never wait for the queue, only for
//! locks on their own keys: a job that finds a key locked is parked, with
//! the rest of its batch, until the lock is released. So a command that
//! involves one shard keeps its fast path, and nobody observes a transaction
//! half done: its keys are locked on every shard before any of its hops runs.

use crate::clients::Part;
use commands::{
    ClientInfo, CommandId, CountFn, Dispatch, LatencyPart, ShardCtx, ShardSettings, ShardStats,
    SlowLogPart, Stopwatch, Take,
};
use hashbrown::HashMap;
use resp::{Args, Protocol, ReplyEncoder};
use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, Hasher};
use store::{Databases, EntryParts, UnixMillis};

/// Keys the timer wheel may reclaim per tick and shard (about 1 ms of work),
/// so that a tick never blocks the thread for long.
pub(crate) const EXPIRE_BUDGET_PER_TICK: usize = 20_000;

/// One command (or one shard's part of a multi-shard command) to run on a shard.
pub(crate) struct Job {
    /// Where and how it runs (a subcommand's route already taken).
    pub dispatch: Dispatch,
    pub db: u32,
    pub protocol: Protocol,
    pub args: Args,
    /// The command it runs, accounted for where it runs (INFO's
    /// `commandstats`); None for a server's internal job (a shard's part
    /// of INFO, CLIENT LIST ...).
    pub command: Option<CommandId>,
}

/// A job that took at least `slowlog-log-slower-than`: the client's thread
/// enters it in its slow log (it knows the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlowJob {
    /// The job's index in its batch.
    pub index: usize,
    /// How long it took.
    pub nanos: u64,
}

/// One step of a transaction's hop on one shard.
pub(crate) enum TxOp {
    /// Runs a counting part (`args` is the command name and this shard's
    /// share of the arguments) and answers its integer.
    Count { f: CountFn, db: u32, args: Args },
    /// MGET's part: answers the values of `args[1..]`.
    Mget { db: u32, args: Args },
    /// Answers `key`'s entry, if it exists: a copy, or (`remove`) the entry
    /// itself, taken out.
    Read { db: u32, key: Vec<u8>, remove: bool },
    /// Stores `entry` under `key` (unless it exists and not `replace`);
    /// answers 1 if it stored.
    Write {
        db: u32,
        key: Vec<u8>,
        entry: EntryParts,
        replace: bool,
    },
    /// KEYS' part: answers the matching keys.
    Keys { db: u32, args: Args },
    /// RANDOMKEY's part: answers the key count and a random key.
    RandomKey { db: u32 },
    /// SCAN's part from `position` in this shard.
    Scan { db: u32, args: Args, position: u64 },
}

/// What a transaction locks on one shard.
#[derive(Clone)]
pub(crate) enum Locks {
    /// These keys (by hash, in any database).
    Keys(Vec<u64>),
    /// Everything: no plain job runs until the transaction is done.
    Shard,
}

/// Work sent to a shard.
pub(crate) enum Work {
    /// Plain jobs, run in order (parking behind locked keys). Their outcomes
    /// fill `reply`, which the sender passes in empty so that its buffers
    /// are reused; the jobs come back in it too (see [`BatchReply::jobs`]).
    Batch { jobs: Vec<Job>, reply: BatchReply },
    /// Queues transaction `txid` and takes its locks; answers
    /// [`JobOutcome::Scheduled`] (false: an id this low comes too late).
    Schedule { txid: u64, locks: Locks },
    /// Runs `ops` for `txid` once it is first in the queue; `release` ends
    /// the transaction on this shard.
    Hop {
        txid: u64,
        ops: Vec<TxOp>,
        release: bool,
    },
    /// Drops a scheduled transaction that will not run.
    Abort { txid: u64 },
    /// A server command's part on this shard (CLIENT LIST, SLOWLOG ...):
    /// it reads no key, so it runs at once, whatever is locked, and
    /// answers its outcome, typed.
    Part(Part),
}

/// What one job or transaction step produced.
pub(crate) enum JobOutcome {
    /// An encoded reply: this range of the batch's reply buffer.
    Reply(std::ops::Range<usize>),
    /// A partial integer (DEL/EXISTS counts, DBSIZE, FLUSH*).
    Int(i64),
    /// INFO's statistics of this shard.
    Stats(Box<ShardStats>),
    /// MGET's values.
    Values(Vec<Option<Vec<u8>>>),
    /// A key's entry, if it existed.
    Entry(Option<EntryParts>),
    /// Keys (KEYS).
    Keys(Vec<Vec<u8>>),
    /// A shard's key count and one random key (RANDOMKEY).
    Random(usize, Option<Vec<u8>>),
    /// Where a SCAN goes on in this shard (0: done) and the keys it found.
    Scanned(u64, Vec<Vec<u8>>),
    /// Whether a transaction was scheduled.
    Scheduled(bool),
    /// CLIENT LIST's part: the shard's clients it lists.
    Clients(Vec<ClientInfo>),
    /// SLOWLOG's part.
    SlowLog(SlowLogPart),
    /// LATENCY's part.
    Latency(LatencyPart),
}

/// The results of one batch, in job order.
///
/// A connection keeps its `BatchReply`s and sends them out with its jobs
/// ([`Work::Batch`]), and a batch's jobs travel back with its reply, so a
/// connection in steady state allocates neither buffers nor job lists, and
/// no thread frees what another allocated.
#[derive(Default)]
pub(crate) struct BatchReply {
    pub buf: Vec<u8>,
    pub outcomes: Vec<JobOutcome>,
    /// The jobs of a [`Work::Batch`], returned for reuse (else empty).
    pub jobs: Vec<Job>,
    /// The jobs that go to the slow log (empty, unallocated, as a rule).
    pub slow: Vec<SlowJob>,
}

impl BatchReply {
    fn single(outcome: JobOutcome) -> Self {
        Self {
            outcomes: vec![outcome],
            ..Self::default()
        }
    }

    /// Empties the reply, keeping its allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.outcomes.clear();
        self.jobs.clear();
        self.slow.clear();
    }
}

impl Work {
    /// A batch of `jobs` with a fresh reply (for work off the hot path).
    pub fn batch(jobs: Vec<Job>) -> Self {
        Self::Batch {
            jobs,
            reply: BatchReply::default(),
        }
    }
}

/// Where a finished piece of work's reply goes.
#[derive(Clone, Copy)]
pub(crate) enum ReplyTo {
    /// To a ticket of this thread.
    Local(u64),
    /// To `ticket` on shard `shard`.
    Peer { shard: usize, ticket: u64 },
}

/// Replies ready to be delivered, in the order they were finished.
pub(crate) type Finished = Vec<(ReplyTo, BatchReply)>;

/// A batch waiting for locks: `jobs[next..]` have not run yet.
struct Parked {
    jobs: Vec<Job>,
    next: usize,
    reply: BatchReply,
    to: ReplyTo,
    /// The last transaction id scheduled when it arrived: it waits for
    /// transactions up to this id, and later ones on its keys wait for it.
    barrier: u64,
}

impl Parked {
    /// The reply of a batch that has run, carrying its jobs back.
    fn finish(mut self) -> (ReplyTo, BatchReply) {
        self.reply.jobs = self.jobs;
        (self.to, self.reply)
    }
}

/// A scheduled transaction on this shard.
struct QueuedTx {
    txid: u64,
    locks: Locks,
    /// A hop that arrived before the transaction reached the front.
    hop: Option<(Vec<TxOp>, bool, ReplyTo)>,
}

/// Whether some key of `job` passes `test` (a job over the whole shard
/// passes when `test` passes for any key at all: `whole`).
fn any_key(job: &Job, test: impl Fn(&[u8]) -> bool, whole: bool) -> bool {
    let args = &job.args;
    match job.dispatch {
        Dispatch::Key(_) => test(args.get(1)),
        Dispatch::SubKey(_) => args.iter().nth(2).is_some_and(test),
        Dispatch::KeysCount(_) => args.iter().skip(1).any(test),
        Dispatch::Multi { keys, .. } => keys.keys(args).any(test),
        Dispatch::AllShards { .. } => whole,
        Dispatch::Connection(_)
        | Dispatch::Info
        | Dispatch::Sub { .. }
        | Dispatch::Server(_)
        | Dispatch::Scatter { .. } => false,
    }
}

/// Whether a transaction holding `locks` holds a key `job` needs.
fn conflicts(locks: &Locks, job: &Job) -> bool {
    match locks {
        Locks::Shard => true,
        Locks::Keys(hashes) => any_key(
            job,
            |key| hashes.contains(&store::key_hash(key)),
            !hashes.is_empty(),
        ),
    }
}

/// Key hashes are already uniform: the lock table uses them as they are.
#[derive(Default)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One shard's data and counters, and the order of work on them.
pub(crate) struct ShardState {
    pub dbs: Databases,
    pub stats: ShardStats,
    pub settings: ShardSettings,
    /// Intent locks: key hash → number of queued transactions holding it.
    locks: HashMap<u64, u32, BuildHasherDefault<KeyHashHasher>>,
    /// Queued transactions that lock the whole shard.
    shard_locks: u32,
    /// Scheduled transactions, in id order.
    queue: VecDeque<QueuedTx>,
    /// The highest transaction id ever scheduled here.
    last_txid: u64,
    /// Batches waiting for locks, oldest first.
    parked: VecDeque<Parked>,
}

impl ShardState {
    pub fn new(databases: usize, segments: usize) -> Self {
        Self {
            dbs: Databases::with_segments(databases, segments),
            stats: ShardStats::default(),
            settings: ShardSettings::default(),
            locks: HashMap::default(),
            shard_locks: 0,
            queue: VecDeque::new(),
            last_txid: 0,
            parked: VecDeque::new(),
        }
    }

    /// Runs `jobs` at `now` into `reply` at once if no lock stands in their
    /// way (the fast path of every single-shard command), timing each with
    /// `watch`; false, with nothing run, if some of them must wait.
    pub fn try_run(
        &mut self,
        jobs: &[Job],
        now: UnixMillis,
        watch: &mut Stopwatch,
        reply: &mut BatchReply,
    ) -> bool {
        if !self.queue.is_empty() && jobs.iter().any(|job| self.blocked(job, self.last_txid)) {
            return false;
        }
        for job in jobs {
            self.run_job(job, now, watch, reply);
        }
        true
    }

    /// Takes one piece of work; what it finishes (possibly other, earlier
    /// work that it unblocked) is appended to `done`.
    pub fn handle(&mut self, work: Work, to: ReplyTo, done: &mut Finished) {
        match work {
            Work::Batch { jobs, reply } => {
                if let ReplyTo::Peer { .. } = to {
                    self.stats.peer_batches += 1;
                    self.stats.peer_jobs += jobs.len() as u64;
                }
                let mut parked = Parked {
                    reply,
                    jobs,
                    next: 0,
                    to,
                    barrier: self.last_txid,
                };
                if self.run_parked(&mut parked) {
                    done.push(parked.finish());
                } else {
                    self.parked.push_back(parked);
                }
            }
            Work::Schedule { txid, locks } => {
                let accepted = txid > self.last_txid;
                if accepted {
                    self.last_txid = txid;
                    self.lock(&locks);
                    self.queue.push_back(QueuedTx {
                        txid,
                        locks,
                        hop: None,
                    });
                }
                done.push((to, BatchReply::single(JobOutcome::Scheduled(accepted))));
            }
            Work::Hop { txid, ops, release } => match self.position(txid) {
                Some(i) => {
                    self.queue[i].hop = Some((ops, release, to));
                    self.make_progress(done);
                }
                None => done.push((to, BatchReply::default())),
            },
            Work::Abort { txid } => {
                if let Some(tx) = self.position(txid).and_then(|i| self.queue.remove(i)) {
                    self.unlock(&tx.locks);
                    self.make_progress(done);
                }
                done.push((to, BatchReply::default()));
            }
            Work::Part(part) => {
                let outcome = crate::clients::run_part(self, part);
                done.push((to, BatchReply::single(outcome)));
            }
        }
    }

    /// Where transaction `txid` is in the queue (which is in id order).
    fn position(&self, txid: u64) -> Option<usize> {
        self.queue.binary_search_by_key(&txid, |tx| tx.txid).ok()
    }

    /// Runs whatever can run now, until nothing can: parked batches whose
    /// earlier transactions are done, and the front transaction's waiting
    /// hop (unless a parked batch that came before it needs its keys). A
    /// releasing hop ends the transaction here and lets the next one come
    /// to the front. A loop, not recursion: thousands of transactions may
    /// be waiting.
    fn make_progress(&mut self, done: &mut Finished) {
        loop {
            let mut progressed = false;
            let mut still = VecDeque::with_capacity(self.parked.len());
            while let Some(mut parked) = self.parked.pop_front() {
                if self.run_parked(&mut parked) {
                    done.push(parked.finish());
                    progressed = true;
                } else {
                    still.push_back(parked);
                }
            }
            self.parked = still;
            let ready = self
                .queue
                .front()
                .is_some_and(|tx| tx.hop.is_some() && !self.held_back(tx));
            if let Some((ops, release, to)) = ready
                .then(|| self.queue.front_mut().and_then(|tx| tx.hop.take()))
                .flatten()
            {
                let reply = self.run_ops(ops);
                done.push((to, reply));
                if release {
                    if let Some(tx) = self.queue.pop_front() {
                        self.unlock(&tx.locks);
                    }
                }
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn run_ops(&mut self, ops: Vec<TxOp>) -> BatchReply {
        let now = store::now_millis();
        let mut reply = BatchReply {
            outcomes: Vec::with_capacity(ops.len()),
            ..BatchReply::default()
        };
        for op in ops {
            let outcome = self.run_op(op, now);
            reply.outcomes.push(outcome);
        }
        reply
    }

    /// Runs a parked batch's jobs until one must still wait; true when all ran.
    fn run_parked(&mut self, parked: &mut Parked) -> bool {
        let mut watch = Stopwatch::start();
        let now = watch.unix_millis();
        while let Some(job) = parked.jobs.get(parked.next) {
            if self.blocked(job, parked.barrier) {
                return false;
            }
            self.run_job(job, now, &mut watch, &mut parked.reply);
            parked.next += 1;
        }
        true
    }

    /// Whether `job`, arriving when `barrier` was the last scheduled id,
    /// must wait: a transaction scheduled before it (id <= barrier) holds a
    /// lock on one of its keys. Transactions scheduled later wait for it
    /// instead (see `held_back`), so a stream of transactions over a hot
    /// key cannot starve it.
    fn blocked(&self, job: &Job, barrier: u64) -> bool {
        if self.shard_locks == 0 {
            let held = |key: &[u8]| self.locks.contains_key(&store::key_hash(key));
            if self.locks.is_empty() || !any_key(job, held, true) {
                return false;
            }
        }
        self.queue
            .iter()
            .take_while(|tx| tx.txid <= barrier)
            .any(|tx| conflicts(&tx.locks, job))
    }

    /// Whether a parked batch that arrived before transaction `tx` was
    /// scheduled still has a job on one of `tx`'s keys.
    fn held_back(&self, tx: &QueuedTx) -> bool {
        self.parked.iter().any(|parked| {
            parked.barrier < tx.txid
                && parked.jobs[parked.next..]
                    .iter()
                    .any(|job| conflicts(&tx.locks, job))
        })
    }

    fn lock(&mut self, locks: &Locks) {
        match locks {
            Locks::Shard => self.shard_locks += 1,
            Locks::Keys(hashes) => {
                for &hash in hashes {
                    *self.locks.entry(hash).or_insert(0) += 1;
                }
            }
        }
    }

    fn unlock(&mut self, locks: &Locks) {
        match locks {
            Locks::Shard => self.shard_locks -= 1,
            Locks::Keys(hashes) => {
                for hash in hashes {
                    if let Some(count) = self.locks.get_mut(hash) {
                        *count -= 1;
                        if *count == 0 {
                            self.locks.remove(hash);
                        }
                    }
                }
            }
        }
    }

    /// What a command on database `db` may touch at `now`.
    pub fn ctx(&mut self, db: u32, now: UnixMillis) -> ShardCtx<'_> {
        ShardCtx {
            dbs: &mut self.dbs,
            db: db as usize,
            now,
            stats: &mut self.stats,
            settings: &mut self.settings,
        }
    }

    /// Runs `job` at `now` and accounts for it: its duration is the lap of
    /// `watch`, which the previous job (or the batch's start) began.
    fn run_job(
        &mut self,
        job: &Job,
        now: UnixMillis,
        watch: &mut Stopwatch,
        reply: &mut BatchReply,
    ) {
        let outcome = match job.dispatch {
            Dispatch::Key(f) | Dispatch::SubKey(f) | Dispatch::Multi { whole: f, .. } => {
                let start = reply.buf.len();
                let mut enc = ReplyEncoder::new(&mut reply.buf, job.protocol);
                f(&job.args, &mut self.ctx(job.db, now), &mut enc);
                JobOutcome::Reply(start..reply.buf.len())
            }
            Dispatch::KeysCount(f) => JobOutcome::Int(f(&job.args, &mut self.ctx(job.db, now))),
            Dispatch::AllShards { op, .. } => {
                JobOutcome::Int(op(&job.args, &mut self.ctx(job.db, now)))
            }
            Dispatch::Info => JobOutcome::Stats(self.info_snapshot()),
            // Connection commands never leave their connection's thread,
            // and jobs carry routes already taken.
            Dispatch::Connection(_)
            | Dispatch::Sub { .. }
            | Dispatch::Server(_)
            | Dispatch::Scatter { .. } => JobOutcome::Int(0),
        };
        let nanos = watch.lap();
        if let Some(id) = job.command {
            // A command, or this shard's part of one: INFO's `# Shards` ops.
            self.stats.ops += 1;
            let text = match &outcome {
                JobOutcome::Reply(range) => reply.buf.get(range.clone()).unwrap_or_default(),
                _ => &[],
            };
            if commands::command_done(&mut self.stats.commands, watch, id, nanos, text) {
                let index = reply.outcomes.len();
                reply.slow.push(SlowJob { index, nanos });
            }
        }
        reply.outcomes.push(outcome);
    }

    /// Runs one step of a transaction's hop: a part of a command over
    /// several shards, which INFO's `# Shards` counts in `ops`.
    fn run_op(&mut self, op: TxOp, now: UnixMillis) -> JobOutcome {
        self.stats.ops += 1;
        match op {
            TxOp::Count { f, db, args } => JobOutcome::Int(f(&args, &mut self.ctx(db, now))),
            TxOp::Mget { db, args } => {
                JobOutcome::Values(commands::mget_part(&args, &mut self.ctx(db, now)))
            }
            TxOp::Read { db, key, remove } => {
                let how = if remove { Take::Remove } else { Take::Clone };
                JobOutcome::Entry(commands::take_key(&mut self.ctx(db, now), &key, how))
            }
            TxOp::Write {
                db,
                key,
                entry,
                replace,
            } => {
                let ctx = &mut self.ctx(db, now);
                JobOutcome::Int(commands::put_key(ctx, db as usize, &key, entry, replace).into())
            }
            TxOp::Keys { db, args } => {
                JobOutcome::Keys(commands::keys_part(&args, &mut self.ctx(db, now)))
            }
            TxOp::RandomKey { db } => {
                let (count, key) = commands::randomkey_part(&mut self.ctx(db, now));
                JobOutcome::Random(count, key)
            }
            TxOp::Scan { db, args, position } => match commands::parse_scan(&args) {
                Ok(scan) => {
                    let ctx = &mut self.ctx(db, now);
                    let (next, keys) = commands::scan_part(&scan, ctx, position);
                    JobOutcome::Scanned(next, keys)
                }
                Err(_) => JobOutcome::Scanned(0, Vec::new()),
            },
        }
    }

    /// INFO's figures of this shard, read on its own thread: its counters,
    /// keyspaces and the memory they hold, and what its thread sent and
    /// used.
    fn info_snapshot(&self) -> Box<ShardStats> {
        let mut stats = self.stats.snapshot(&self.dbs);
        (stats.mesh_sent, stats.mesh_received) = crate::mesh::traffic();
        stats.cpu = crate::cpu::usage(crate::cpu::Who::Thread);
        Box::new(stats)
    }

    /// Active expiry: reclaims up to the tick's budget of due keys, and
    /// counts the time it took and whether the budget cut it short. A tick
    /// of `latency-monitor-threshold` ms or more is an `expire-cycle`
    /// latency sample, as Redis's `activeExpireCycle`.
    pub fn expire_tick(&mut self) {
        if !self.settings.active_expire {
            return;
        }
        let started = std::time::Instant::now();
        let now = store::now_millis();
        let mut budget = EXPIRE_BUDGET_PER_TICK;
        let mut cut = false;
        for db in self.dbs.iter_mut() {
            if budget == 0 {
                cut = true;
                break;
            }
            let outcome = db.expire_due(now, budget);
            budget -= outcome.expired.min(budget);
            cut |= outcome.more;
        }
        let elapsed = started.elapsed();
        self.stats.expire_cycles_cut += u64::from(cut);
        self.stats.expire_cycle_micros += elapsed.as_micros() as u64;
        commands::add_sample_if_needed(
            commands::LatencyEvent::ExpireCycle,
            elapsed.as_millis() as u64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(parts: &[&str]) -> Job {
        let args = Args::from_slices(parts);
        let spec = commands::lookup(args.get(0)).expect("a command");
        Job {
            dispatch: spec.route(&args),
            db: 0,
            protocol: Protocol::Resp2,
            command: commands::CommandId::resolve(spec, &args).ok(),
            args,
        }
    }

    fn set_op(key: &str, value: &str) -> TxOp {
        TxOp::Count {
            f: |args, ctx| {
                commands::mset_part(args, ctx);
                0
            },
            db: 0,
            args: Args::from_slices(&["mset", key, value]),
        }
    }

    fn locks(key: &str) -> Locks {
        Locks::Keys(vec![store::key_hash(key.as_bytes())])
    }

    fn tickets(done: &Finished) -> Vec<u64> {
        done.iter()
            .map(|(to, _)| match to {
                ReplyTo::Local(ticket) => *ticket,
                ReplyTo::Peer { ticket, .. } => *ticket,
            })
            .collect()
    }

    fn try_run(shard: &mut ShardState, parts: &[&str]) -> Option<BatchReply> {
        let mut reply = BatchReply::default();
        let now = store::now_millis();
        let mut watch = Stopwatch::start();
        shard
            .try_run(&[job(parts)], now, &mut watch, &mut reply)
            .then_some(reply)
    }

    fn schedule(shard: &mut ShardState, txid: u64, locks: Locks) -> bool {
        let mut done = Finished::new();
        shard.handle(Work::Schedule { txid, locks }, ReplyTo::Local(0), &mut done);
        matches!(done[0].1.outcomes[0], JobOutcome::Scheduled(true))
    }

    #[test]
    fn a_batch_reply_brings_its_jobs_and_buffers_back() {
        let mut shard = ShardState::new(16, store::SEGMENTS);
        let mut done = Finished::new();
        let reply = BatchReply {
            buf: Vec::with_capacity(64),
            ..BatchReply::default()
        };
        let buf = reply.buf.as_ptr();
        let jobs = vec![job(&["SET", "k", "v"]), job(&["GET", "k"])];
        let peer = ReplyTo::Peer {
            shard: 1,
            ticket: 7,
        };
        shard.handle(Work::Batch { jobs, reply }, peer, &mut done);
        let (_, reply) = &done[0];
        assert_eq!(reply.buf, b"+OK\r\n$1\r\nv\r\n");
        assert_eq!(reply.buf.as_ptr(), buf, "the sender's buffer is filled");
        assert_eq!(reply.jobs.len(), 2, "the jobs come back for reuse");
        assert_eq!((shard.stats.peer_batches, shard.stats.peer_jobs), (1, 2));
    }

    #[test]
    fn jobs_are_counted_where_they_run_and_slow_ones_reported() {
        let mut shard = ShardState::new(16, store::SEGMENTS);
        let jobs = [
            job(&["SET", "k", "v"]),
            job(&["INCR", "k"]),
            Job {
                command: None,
                ..job(&["GET", "k"])
            },
        ];
        let mut reply = BatchReply::default();
        // Every command is slow from 0 µs on.
        let mut watch = Stopwatch::with_thresholds(0, 0);
        assert!(shard.try_run(&jobs, store::now_millis(), &mut watch, &mut reply));
        let slow: Vec<usize> = reply.slow.iter().map(|s| s.index).collect();
        assert_eq!(slow, [0, 1], "the internal job is not a command");
        assert_eq!(shard.stats.ops, 2, "nor an op");
        let mut text = String::new();
        shard.stats.commands.render_commandstats(&mut text);
        let calls: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(",usec=").next().unwrap_or_default())
            .collect();
        assert_eq!(calls, ["cmdstat_set:calls=1", "cmdstat_incr:calls=1"]);
        assert!(text.contains("cmdstat_incr:calls=1,") && text.ends_with("failed_calls=1\r\n"));
        assert_eq!(shard.stats.commands.error_replies(), 1);
        // Nothing is slow without a threshold, and the list stays unallocated.
        let mut reply = BatchReply::default();
        let mut watch = Stopwatch::with_thresholds(-1, 0);
        assert!(shard.try_run(&jobs, store::now_millis(), &mut watch, &mut reply));
        assert_eq!(reply.slow.capacity(), 0);
    }

    #[test]
    fn ids_must_rise_on_every_shard() {
        let mut shard = ShardState::new(16, store::SEGMENTS);
        assert!(schedule(&mut shard, 5, locks("k")));
        assert!(
            !schedule(&mut shard, 4, locks("k")),
            "a lower id comes too late"
        );
        assert!(!schedule(&mut shard, 5, locks("k")));
        assert!(schedule(&mut shard, 6, Locks::Shard));
    }

    #[test]
    fn a_parked_job_runs_before_later_transactions_on_its_key() {
        let mut shard = ShardState::new(16, store::SEGMENTS);
        let mut done = Finished::new();
        assert!(schedule(&mut shard, 1, locks("k")));
        // GET k arrives while transaction 1 holds k: it parks.
        let get = Work::batch(vec![job(&["GET", "k"])]);
        shard.handle(get, ReplyTo::Local(100), &mut done);
        assert!(try_run(&mut shard, &["GET", "k"]).is_none());
        assert!(try_run(&mut shard, &["GET", "other"]).is_some());
        // Transaction 2 on k is scheduled later and its hop arrives first.
        assert!(schedule(&mut shard, 2, locks("k")));
        let hop = |txid, value| Work::Hop {
            txid,
            ops: vec![set_op("k", value)],
            release: true,
        };
        shard.handle(hop(2, "two"), ReplyTo::Local(102), &mut done);
        assert!(
            done.is_empty(),
            "transaction 2 waits for 1, and for the GET"
        );
        shard.handle(hop(1, "one"), ReplyTo::Local(101), &mut done);
        assert_eq!(tickets(&done), [101, 100, 102]);
        let (_, get) = &done[1];
        assert_eq!(get.buf, b"$3\r\none\r\n", "the GET saw 1 and not 2");
    }

    #[test]
    fn thousands_of_waiting_transactions_drain_without_recursion() {
        let mut shard = ShardState::new(16, store::SEGMENTS);
        let mut done = Finished::new();
        let count = 100_000;
        for txid in 1..=count {
            assert!(schedule(&mut shard, txid, locks("k")));
        }
        // Every hop but the first arrives early and waits...
        for txid in 2..=count {
            let value = txid.to_string();
            let hop = Work::Hop {
                txid,
                ops: vec![set_op("k", &value)],
                release: true,
            };
            shard.handle(hop, ReplyTo::Local(txid), &mut done);
        }
        assert!(done.is_empty());
        // ...until the first releases them all, in id order.
        let hop = Work::Hop {
            txid: 1,
            ops: vec![set_op("k", "1")],
            release: true,
        };
        shard.handle(hop, ReplyTo::Local(1), &mut done);
        assert_eq!(tickets(&done), (1..=count).collect::<Vec<_>>());
        let value = try_run(&mut shard, &["GET", "k"]).expect("no locks left");
        assert_eq!(value.buf, format!("$6\r\n{count}\r\n").as_bytes());
    }
}
