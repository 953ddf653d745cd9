//! The coordinator's side of a transaction: a command whose keys live on
//! several shards (see `shard.rs` for the shards' side and the scheme).
//!
//! [`Transaction::begin`] takes a global id and schedules it on every shard
//! involved, retrying with a fresh id when a shard has already scheduled a
//! later one; [`Transaction::hop`] runs one step on some of the shards and
//! returns their answers; the last hop releases every shard.

use crate::reactor::Reactor;
use crate::shard::{BatchReply, JobOutcome, Locks, TxOp, Work};
use std::sync::atomic::Ordering;

/// A transaction scheduled on its shards.
pub(crate) struct Transaction {
    txid: u64,
    shards: Vec<usize>,
}

impl Transaction {
    /// Schedules a transaction taking `locks` on each shard listed; None if
    /// the server is shutting down.
    pub async fn begin(reactor: &Reactor, locks: Vec<(usize, Locks)>) -> Option<Self> {
        loop {
            let txid = reactor.process.next_txid.fetch_add(1, Ordering::Relaxed) + 1;
            let mut tickets = Vec::with_capacity(locks.len());
            for (shard, locks) in &locks {
                let work = Work::Schedule {
                    txid,
                    locks: locks.clone(),
                };
                match reactor.send(*shard, work).await {
                    Some(ticket) => tickets.push((*shard, ticket)),
                    None => break,
                }
            }
            let complete = tickets.len() == locks.len();
            let mut accepted = Vec::with_capacity(tickets.len());
            for (shard, ticket) in tickets {
                let reply = reactor.wait(ticket).await;
                if let Some(JobOutcome::Scheduled(true)) = reply.outcomes.first() {
                    accepted.push(shard);
                }
            }
            if complete && accepted.len() == locks.len() {
                return Some(Self {
                    txid,
                    shards: accepted,
                });
            }
            // A shard had seen a later id (or the mesh is closing): undo.
            for shard in accepted {
                if let Some(ticket) = reactor.send(shard, Work::Abort { txid }).await {
                    reactor.wait(ticket).await;
                }
            }
            if !complete {
                return None;
            }
        }
    }

    /// Runs `ops` on their shards, in parallel, and returns each shard's
    /// answer (indexed by shard; None for shards not involved or gone).
    /// `last` releases the transaction on all its shards.
    pub async fn hop(
        &self,
        reactor: &Reactor,
        mut ops: Vec<(usize, Vec<TxOp>)>,
        last: bool,
    ) -> Vec<Option<BatchReply>> {
        if last {
            for &shard in &self.shards {
                if !ops.iter().any(|(s, _)| *s == shard) {
                    ops.push((shard, Vec::new()));
                }
            }
        }
        let mut tickets = Vec::with_capacity(ops.len());
        for (shard, ops) in ops {
            let work = Work::Hop {
                txid: self.txid,
                ops,
                release: last,
            };
            if let Some(ticket) = reactor.send(shard, work).await {
                tickets.push((shard, ticket));
            }
        }
        let mut replies: Vec<Option<BatchReply>> = (0..reactor.shards).map(|_| None).collect();
        for (shard, ticket) in tickets {
            replies[shard] = Some(reactor.wait(ticket).await);
        }
        replies
    }
}
