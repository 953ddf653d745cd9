//! A shard's state on its own thread, and the execution of a batch of jobs
//! on it. A batch comes either from a connection on the same thread (run
//! inline) or from another shard over the mesh; both run through
//! [`ShardState::run`], so a command behaves the same wherever it came from.

use commands::{Dispatch, ShardCtx, ShardStats};
use resp::{Args, Protocol, ReplyEncoder};
use store::Databases;

/// Keys the timer wheel may reclaim per tick and shard (about 1 ms of work),
/// so that a tick never blocks the thread for long.
pub(crate) const EXPIRE_BUDGET_PER_TICK: usize = 20_000;

/// One command (or one shard's part of a multi-shard command) to run on a shard.
pub(crate) struct Job {
    pub spec: &'static commands::CommandSpec,
    pub db: u32,
    pub protocol: Protocol,
    pub args: Args,
}

/// What one job produced.
pub(crate) enum JobOutcome {
    /// An encoded reply: this range of the batch's reply buffer.
    Reply(std::ops::Range<usize>),
    /// A partial integer (DEL/EXISTS counts, DBSIZE, FLUSH*).
    Int(i64),
    /// INFO's statistics of this shard.
    Stats(Box<ShardStats>),
}

/// The results of one batch, in job order.
#[derive(Default)]
pub(crate) struct BatchReply {
    pub buf: Vec<u8>,
    pub outcomes: Vec<JobOutcome>,
}

/// One shard's data and counters.
pub(crate) struct ShardState {
    pub dbs: Databases,
    pub stats: ShardStats,
}

impl ShardState {
    pub fn new(databases: usize) -> Self {
        Self {
            dbs: Databases::new(databases),
            stats: ShardStats::default(),
        }
    }

    /// Runs `jobs` in order at one instant.
    pub fn run(&mut self, jobs: &[Job]) -> BatchReply {
        let now = store::now_millis();
        let mut reply = BatchReply {
            buf: Vec::new(),
            outcomes: Vec::with_capacity(jobs.len()),
        };
        for job in jobs {
            let mut ctx = ShardCtx {
                dbs: &mut self.dbs,
                db: job.db as usize,
                now,
                stats: &mut self.stats,
            };
            let outcome = match job.spec.dispatch {
                Dispatch::Key(f) | Dispatch::SubKey(f) => {
                    let start = reply.buf.len();
                    f(
                        &job.args,
                        &mut ctx,
                        &mut ReplyEncoder::new(&mut reply.buf, job.protocol),
                    );
                    JobOutcome::Reply(start..reply.buf.len())
                }
                Dispatch::KeysCount(f) => JobOutcome::Int(f(&job.args, &mut ctx)),
                Dispatch::AllShards { op, .. } => JobOutcome::Int(op(&job.args, &mut ctx)),
                Dispatch::Info => JobOutcome::Stats(Box::new(self.stats.snapshot(&self.dbs))),
                // Connection commands never leave their connection's thread.
                Dispatch::Connection(_) => JobOutcome::Int(0),
            };
            reply.outcomes.push(outcome);
        }
        reply
    }

    /// Active expiry: reclaims up to the tick's budget of due keys.
    pub fn expire_tick(&mut self) {
        let now = store::now_millis();
        let mut budget = EXPIRE_BUDGET_PER_TICK;
        for db in self.dbs.iter_mut() {
            if budget == 0 {
                break;
            }
            let outcome = db.expire_due(now, budget);
            budget -= outcome.expired.min(budget);
        }
    }
}
