//! The clients connected to this shard, for CLIENT LIST and CLIENT KILL, and
//! the commands that need every shard's registry or state (SLOWLOG and
//! LATENCY merge every thread's log) or must run one at a time.
//!
//! Each shard thread keeps a registry of its own connections (a thread-local
//! `BTreeMap` by id: one executor per thread, so no locks). A connection
//! registers on accept, refreshes its entry after every batch and leaves on
//! close. CLIENT LIST and CLIENT KILL (`Dispatch::Server`) ask every other
//! shard over the mesh with a job running a function private to this file
//! (`list_part`, `kill_part`, `resetstat_part`) that reads that shard's
//! registry. A kill marks the entry and shuts the socket down, which ends
//! the victim's pending read on its own thread; its task then closes the
//! connection.

use crate::reactor::Reactor;
use crate::shard::{Job, JobOutcome, Work};
use commands::{
    client_query, Client, ClientInfo, ClientQuery, Dispatch, KeyFn, KillFilter, ListFilter,
    ServerFacts, ServerOp, ShardCtx,
};
use glommio::net::TcpStream;
use resp::{Args, Protocol, ReplyEncoder};
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
    let now = store::now_millis();
    let mut enc = ReplyEncoder::new(out, client.protocol);
    match (op, client_query(args)) {
        (ServerOp::ClientList, Some(ClientQuery::List(filter))) => {
            let mut text = list_local(&filter, now);
            for part in on_other_shards(reactor, list_part, args).await {
                text.extend_from_slice(&part);
            }
            enc.verbatim("txt", &order_lines(&filter, &text));
        }
        (ServerOp::ClientKill, Some(ClientQuery::Kill(filter))) => {
            let mut killed = kill_local(&filter, client.id, now);
            if filter.matches(&ClientInfo::of(client), client.id, now) {
                client.close_after_reply = true;
                killed += 1;
            }
            let mut job_args =
                Args::from_slices(&[&b"client"[..], client.id.to_string().as_bytes()]);
            for word in args.iter().skip(2) {
                job_args.push(word);
            }
            for part in on_other_shards(reactor, kill_part, &job_args).await {
                killed += parse_count(&part);
            }
            filter.reply(killed, &mut enc);
        }
        (ServerOp::ResetStat, _) if args.len() == 2 => {
            commands::reset_stats(&mut reactor.state.borrow_mut().ctx(0, now));
            crate::mesh::reset_traffic();
            on_other_shards(reactor, resetstat_part, args).await;
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
            let parts = on_every_shard(reactor, commands::slowlog_part, args).await;
            commands::slowlog_reply(args, &parts, &mut enc);
        }
        (ServerOp::Latency, _) => {
            let parts = on_every_shard(reactor, commands::latency_part, args).await;
            commands::latency_reply(args, &parts, &mut enc);
        }
        (ServerOp::Monitor, _) => commands::monitor_command(args, client, facts, &mut enc),
        _ => commands::client_command(args, client, facts, &mut enc),
    }
}

/// Runs `f` with `args` on this shard, then on every other; returns each
/// one's reply bytes (shards that are shutting down are left out).
async fn on_every_shard(reactor: &Reactor, f: KeyFn, args: &Args) -> Vec<Vec<u8>> {
    let mut here = Vec::new();
    {
        let mut state = reactor.state.borrow_mut();
        let mut ctx = state.ctx(0, store::now_millis());
        f(
            args,
            &mut ctx,
            &mut ReplyEncoder::new(&mut here, Protocol::Resp2),
        );
    }
    let mut parts = on_other_shards(reactor, f, args).await;
    parts.push(here);
    parts
}

/// Runs `f` with `args` on every other shard; returns each one's reply
/// bytes (shards that are shutting down are left out).
async fn on_other_shards(reactor: &Reactor, f: KeyFn, args: &Args) -> Vec<Vec<u8>> {
    let mut tickets = Vec::new();
    for shard in (0..reactor.shards).filter(|&s| s != reactor.id) {
        let job = Job {
            dispatch: Dispatch::Key(f),
            db: 0,
            protocol: Protocol::Resp2,
            args: args.clone(),
            command: None,
        };
        if let Some(ticket) = reactor.send(shard, Work::batch(vec![job])).await {
            tickets.push(ticket);
        }
    }
    let mut parts = Vec::new();
    for ticket in tickets {
        let reply = reactor.wait(ticket).await;
        if let Some(JobOutcome::Reply(range)) = reply.outcomes.first() {
            parts.push(reply.buf[range.clone()].to_vec());
        }
    }
    parts
}

/// CLIENT LIST's part on another shard: that shard's matching lines.
fn list_part(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    if let Ok(filter) = ListFilter::parse(args) {
        enc.buffer()
            .extend_from_slice(&list_local(&filter, ctx.now));
    }
}

/// CLIENT KILL's part on another shard (`client <caller id> <filter...>`):
/// the number killed.
fn kill_part(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let caller = resp::parse_integer(args.get(1)).unwrap_or(0) as u64;
    let words: Vec<&[u8]> = args.iter().skip(2).collect();
    let killed = KillFilter::parse(&words).map_or(0, |f| kill_local(&f, caller, ctx.now));
    enc.integer(killed as i64);
}

/// CONFIG RESETSTAT's part on another shard.
fn resetstat_part(_: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    commands::reset_stats(ctx);
    crate::mesh::reset_traffic();
    enc.ok();
}

/// This shard's CLIENT LIST lines for `filter` (live clients, id order).
pub(crate) fn list_local(filter: &ListFilter, now: store::UnixMillis) -> Vec<u8> {
    let mut out = Vec::new();
    REGISTRY.with(|r| {
        for entry in r.borrow().values() {
            if !entry.killed && filter.matches(&entry.info) {
                entry.info.render(now, &mut out);
            }
        }
    });
    out
}

/// Kills this shard's clients that `filter` selects, except `caller`
/// (whoever runs the command closes itself); returns how many.
pub(crate) fn kill_local(filter: &KillFilter, caller: u64, now: store::UnixMillis) -> usize {
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
/// exceed it); returns how many.
pub(crate) fn close_idle(timeout: u64, now: store::UnixMillis) -> usize {
    REGISTRY.with(|r| {
        let mut closed = 0;
        for entry in r.borrow_mut().values_mut() {
            let idle_secs = now.saturating_sub(entry.info.last_interaction) / 1000;
            if entry.killed || idle_secs <= timeout {
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

/// Puts every shard's CLIENT LIST lines in Redis's order: by id, or in the
/// order of `ID`'s arguments.
fn order_lines(filter: &ListFilter, text: &[u8]) -> Vec<u8> {
    let mut lines: Vec<(i64, &[u8])> = text
        .split_inclusive(|&c| c == b'\n')
        .map(|line| (line_id(line), line))
        .collect();
    let mut out = Vec::with_capacity(text.len());
    match filter {
        ListFilter::Ids(ids) => {
            for id in ids {
                if let Some((_, line)) = lines.iter().find(|(l, _)| l == id) {
                    out.extend_from_slice(line);
                }
            }
        }
        _ => {
            lines.sort_by_key(|(id, _)| *id);
            for (_, line) in lines {
                out.extend_from_slice(line);
            }
        }
    }
    out
}

/// The id of a CLIENT LIST line (`id=<n> ...`).
fn line_id(line: &[u8]) -> i64 {
    let digits: Vec<u8> = line
        .iter()
        .skip(3)
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    resp::parse_integer(&digits).unwrap_or(-1)
}

/// The integer of a `:<n>\r\n` reply.
fn parse_count(reply: &[u8]) -> usize {
    let digits = reply
        .strip_prefix(b":")
        .and_then(|r| r.strip_suffix(b"\r\n"))
        .unwrap_or_default();
    resp::parse_integer(digits).map_or(0, |n| n.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_ordered_by_id_or_by_request() {
        let text = b"id=12 a\nid=3 b\nid=7 c\n";
        assert_eq!(
            order_lines(&ListFilter::All, text),
            b"id=3 b\nid=7 c\nid=12 a\n"
        );
        assert_eq!(
            order_lines(&ListFilter::Ids(vec![7, 5, 12, 7]), text),
            b"id=7 c\nid=12 a\nid=7 c\n"
        );
    }

    #[test]
    fn counts_parse() {
        assert_eq!(parse_count(b":3\r\n"), 3);
        assert_eq!(parse_count(b"-ERR x\r\n"), 0);
    }
}
