//! The clients connected to this shard, for CLIENT LIST and CLIENT KILL, and
//! the commands that need every shard's registry or state (SLOWLOG and
//! LATENCY merge every thread's log) or must run one at a time.
//!
//! Each shard thread keeps a registry of its own connections (a thread-local
//! `BTreeMap` by id: one executor per thread, so no locks). A connection
//! registers on accept, refreshes its entry after every batch and leaves on
//! close. CLIENT LIST, CLIENT KILL, CONFIG RESETSTAT, SLOWLOG and LATENCY
//! (`Dispatch::Server`) send every shard, this one included, a [`Part`]
//! ([`Work::Part`]), which [`run_part`] runs on that shard's thread; each
//! answers its share typed (clients, a count, log entries), and the
//! asking thread merges them. A kill marks the entry and shuts the socket
//! down, which ends the victim's pending read on its own thread; its task
//! then closes the connection.

use crate::reactor::Reactor;
use crate::shard::{JobOutcome, ShardState, Work};
use commands::{
    client_query, Client, ClientInfo, ClientQuery, KillFilter, ListFilter, ServerFacts, ServerOp,
};
use glommio::net::TcpStream;
use resp::{Args, ReplyEncoder};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;

/// One connection of this shard.
struct Entry {
    info: ClientInfo,
    /// Killed by CLIENT KILL: no longer listed or killed again.
    killed: bool,
}

thread_local! {
    /// This shard's connections by id.
    static REGISTRY: RefCell<BTreeMap<u64, Entry>> = const { RefCell::new(BTreeMap::new()) };
}

/// Keeps a connection registered; dropping it unregisters it. Drop it before
/// the socket is closed, so that a kill never reaches a reused descriptor.
pub(crate) struct Registration {
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        REGISTRY.with(|r| r.borrow_mut().remove(&self.id));
    }
}

/// Registers a new connection and fills in `client`'s addresses.
pub(crate) fn register(client: &mut Client, stream: &TcpStream) -> Registration {
    client.addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    client.laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    client.fd = stream.as_raw_fd();
    client.created = store::now_millis();
    client.last_interaction = client.created;
    let entry = Entry {
        info: ClientInfo::of(client),
        killed: false,
    };
    REGISTRY.with(|r| r.borrow_mut().insert(client.id, entry));
    Registration { id: client.id }
}

/// Copies `client`'s state into its registry entry.
pub(crate) fn sync(client: &Client) {
    REGISTRY.with(|r| {
        if let Some(entry) = r.borrow_mut().get_mut(&client.id) {
            entry.info.update(client);
        }
    });
}

/// Runs CLIENT LIST, CLIENT KILL, CONFIG RESETSTAT, CONFIG SET, DEBUG
/// SLEEP, SLOWLOG, LATENCY or MONITOR for `client` and appends the reply to
/// `out`. Malformed calls are answered by the connection commands, with
/// their errors.
pub(crate) async fn run(
    reactor: &Reactor,
    client: &mut Client,
    facts: &ServerFacts,
    args: &Args,
    op: ServerOp,
    out: &mut Vec<u8>,
) {
    sync(client);
    let mut enc = ReplyEncoder::new(out, client.protocol);
    match (op, client_query(args)) {
        (ServerOp::ClientList, Some(ClientQuery::List(filter))) => {
            let mut clients = Vec::new();
            for outcome in on_every_shard(reactor, || Part::ClientList(filter.clone())).await {
                if let JobOutcome::Clients(part) = outcome {
                    clients.extend(part);
                }
            }
            enc.verbatim("txt", &filter.render(&mut clients, store::now_millis()));
        }
        (ServerOp::ClientKill, Some(ClientQuery::Kill(filter))) => {
            let mut killed = 0;
            if filter.matches(&ClientInfo::of(client), client.id, store::now_millis()) {
                client.close_after_reply = true;
                killed += 1;
            }
            let caller = client.id;
            let part = || Part::ClientKill {
                filter: filter.clone(),
                caller,
            };
            for outcome in on_every_shard(reactor, part).await {
                if let JobOutcome::Int(n) = outcome {
                    killed += n.max(0) as usize;
                }
            }
            filter.reply(killed, &mut enc);
        }
        (ServerOp::ResetStat, _) if args.len() == 2 => {
            on_every_shard(reactor, || Part::ResetStat).await;
            reactor
                .process
                .peak_memory
                .store(0, std::sync::atomic::Ordering::Relaxed);
            enc.ok();
        }
        (ServerOp::ResetStat | ServerOp::ConfigSet, _) => {
            commands::config_command(args, client, facts, &mut enc)
        }
        (ServerOp::DebugSleep, _) => commands::debug_sleep(args, client, facts, &mut enc),
        (ServerOp::SlowLog, _) => {
            let mut parts = Vec::new();
            for outcome in on_every_shard(reactor, || Part::SlowLog(args.clone())).await {
                if let JobOutcome::SlowLog(part) = outcome {
                    parts.push(part);
                }
            }
            commands::slowlog_reply(args, parts, &mut enc);
        }
        (ServerOp::Latency, _) => {
            let mut parts = Vec::new();
            for outcome in on_every_shard(reactor, || Part::Latency(args.clone())).await {
                if let JobOutcome::Latency(part) = outcome {
                    parts.push(part);
                }
            }
            commands::latency_reply(args, &parts, &mut enc);
        }
        (ServerOp::Monitor, _) => commands::monitor_command(args, client, facts, &mut enc),
        _ => commands::client_command(args, client, facts, &mut enc),
    }
}

/// A server command's part on one shard, run there by [`run_part`].
pub(crate) enum Part {
    /// CLIENT LIST: the shard's clients that the filter lists.
    ClientList(ListFilter),
    /// CLIENT KILL: kills the shard's clients that `filter` selects, but
    /// not `caller` (who closes itself); answers how many.
    ClientKill { filter: KillFilter, caller: u64 },
    /// CONFIG RESETSTAT: clears the shard's counters.
    ResetStat,
    /// SLOWLOG (these arguments): the shard's thread's slow log.
    SlowLog(Args),
    /// LATENCY (these arguments): the shard's thread's latency samples.
    Latency(Args),
}

/// Runs `part` on this shard's thread, with its `state`.
pub(crate) fn run_part(state: &mut ShardState, part: Part) -> JobOutcome {
    let now = store::now_millis();
    match part {
        Part::ClientList(filter) => JobOutcome::Clients(list_local(&filter)),
        Part::ClientKill { filter, caller } => {
            JobOutcome::Int(kill_local(&filter, caller, now) as i64)
        }
        Part::ResetStat => {
            commands::reset_stats(&mut state.ctx(0, now));
            crate::mesh::reset_traffic();
            JobOutcome::Int(0)
        }
        Part::SlowLog(args) => JobOutcome::SlowLog(commands::slowlog_part(&args)),
        Part::Latency(args) => JobOutcome::Latency(commands::latency_part(&args)),
    }
}

/// Sends every shard, this one included, the part `part` makes; returns
/// each one's outcome (shards that are shutting down are left out).
async fn on_every_shard(reactor: &Reactor, part: impl Fn() -> Part) -> Vec<JobOutcome> {
    let mut tickets = Vec::with_capacity(reactor.shards);
    for shard in 0..reactor.shards {
        if let Some(ticket) = reactor.send(shard, Work::Part(part())).await {
            tickets.push(ticket);
        }
    }
    let mut outcomes = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        outcomes.extend(reactor.wait(ticket).await.outcomes.pop());
    }
    outcomes
}

/// This shard's clients that `filter` lists (live ones).
fn list_local(filter: &ListFilter) -> Vec<ClientInfo> {
    REGISTRY.with(|r| {
        r.borrow()
            .values()
            .filter(|entry| !entry.killed && filter.matches(&entry.info))
            .map(|entry| entry.info.clone())
            .collect()
    })
}

/// Kills this shard's clients that `filter` selects, except `caller`
/// (whoever runs the command closes itself); returns how many.
fn kill_local(filter: &KillFilter, caller: u64, now: store::UnixMillis) -> usize {
    REGISTRY.with(|r| {
        let mut registry = r.borrow_mut();
        let mut killed = 0;
        for entry in registry.values_mut() {
            if entry.killed || entry.info.id == caller || !filter.matches(&entry.info, caller, now)
            {
                continue;
            }
            entry.killed = true;
            // SAFETY: the fd belongs to a live connection on this thread (its
            // entry is removed before its socket is closed); shutdown does not
            // close it, it only ends the connection's pending and later I/O.
            unsafe {
                libc::shutdown(entry.info.fd, libc::SHUT_RDWR);
            }
            killed += 1;
        }
        killed
    })
}

/// Closes this shard's clients idle for more than `timeout` seconds, as
/// Redis's `clientsCronHandleTimeout` (the idle time in whole seconds must
/// exceed it); returns how many. Monitoring clients are never closed: to
/// Redis they are replicas, which it skips.
pub(crate) fn close_idle(timeout: u64, now: store::UnixMillis) -> usize {
    REGISTRY.with(|r| {
        let mut closed = 0;
        for entry in r.borrow_mut().values_mut() {
            let idle_secs = now.saturating_sub(entry.info.last_interaction) / 1000;
            if entry.killed || entry.info.monitor || idle_secs <= timeout {
                continue;
            }
            entry.killed = true;
            // SAFETY: as in `kill_local`: the fd is a live connection of this thread.
            unsafe {
                libc::shutdown(entry.info.fd, libc::SHUT_RDWR);
            }
            closed += 1;
        }
        closed
    })
}
