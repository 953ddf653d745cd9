//! MONITOR's delivery: every command run by any client on any shard
//! reaches every monitoring client on every shard.
//!
//! Nothing here costs anything while nobody monitors: a connection reads
//! one relaxed atomic ([`Watchers::active`]) per batch and plans as usual.
//! When someone monitors, the connection that runs a command formats its
//! line (`commands::monitor_line`) into this thread's outbox; at the end of
//! the batch's plan the outbox goes to this thread's monitoring clients
//! (a per-thread registry, as `clients.rs`'s) and, in one mesh message
//! each ([`crate::mesh::Msg::Monitor`]), to the other shards that have
//! some, sent without waiting (DESIGN.md's mesh deadlock) and in order
//! (behind any earlier message still waiting for room, see `mesh.rs`). A
//! monitoring connection's task waits on both its socket and its
//! [`Feed`]. A monitoring client's own commands' lines go into its
//! replies, right after each command's reply, as Redis writes them.
//!
//! Lines from one connection arrive in order; between connections, and
//! between shards, the order is best effort (Redis's is the order in which
//! its one thread ran the commands). A monitoring client that reads slowly
//! has its lines wait in memory without limit, as in Redis (a monitor is a
//! normal client there, and normal clients' output is not limited by
//! default); once they are written, the buffers that held them give their
//! memory back (`reactor::empty_output`), as Redis frees its reply blocks.
//! A monitor is never closed for being idle (Redis skips replicas), and
//! each write to it counts as an interaction (CLIENT LIST's `idle=`).

use crate::reactor::{empty_output, Reactor};
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Poll, Waker};

/// How many clients monitor, in all and on each shard.
pub(crate) struct Watchers {
    total: AtomicUsize,
    per_shard: Box<[AtomicUsize]>,
}

impl Watchers {
    /// No monitors yet, on `shards` shards.
    pub fn new(shards: usize) -> Self {
        Self {
            total: AtomicUsize::new(0),
            per_shard: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Whether any client monitors: the one load a batch pays.
    #[inline]
    pub fn active(&self) -> bool {
        self.total.load(Relaxed) > 0
    }

    fn on(&self, shard: usize) -> bool {
        self.per_shard[shard].load(Relaxed) > 0
    }

    fn add(&self, shard: usize, delta: isize) {
        let update = |counter: &AtomicUsize| {
            if delta > 0 {
                counter.fetch_add(1, Relaxed);
            } else {
                counter.fetch_sub(1, Relaxed);
            }
        };
        update(&self.total);
        update(&self.per_shard[shard]);
    }
}

/// The lines waiting for one monitoring client.
#[derive(Default)]
pub(crate) struct Feed {
    lines: RefCell<Vec<u8>>,
    waker: RefCell<Option<Waker>>,
}

impl Feed {
    fn push(&self, lines: &[u8]) {
        self.lines.borrow_mut().extend_from_slice(lines);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Waits until lines are waiting.
    pub async fn ready(&self) {
        poll_fn(|cx| {
            if self.lines.borrow().is_empty() {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    /// Moves the waiting lines to the end of `out` (the connection's
    /// output, emptied with [`empty_output`] once written). The feed keeps
    /// an empty buffer of at most [`KEPT_OUTPUT_BYTES`](crate::reactor::KEPT_OUTPUT_BYTES).
    pub fn take_into(&self, out: &mut Vec<u8>) {
        let mut lines = self.lines.borrow_mut();
        if out.is_empty() {
            std::mem::swap(out, &mut lines);
        } else {
            out.extend_from_slice(&lines);
        }
        empty_output(&mut lines);
    }
}

thread_local! {
    /// This thread's monitoring clients, by client id.
    static LOCAL: RefCell<Vec<(u64, Rc<Feed>)>> = const { RefCell::new(Vec::new()) };
    /// Lines formatted on this thread and not yet delivered.
    static OUTBOX: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A monitoring client's place in the registry; dropping it takes the
/// client out.
pub(crate) struct Watch {
    id: u64,
    shard: usize,
    feed: Rc<Feed>,
    process: Arc<crate::Process>,
}

impl Watch {
    /// Registers client `id` of this shard as monitoring.
    pub fn start(reactor: &Reactor, id: u64) -> Watch {
        let feed = Rc::new(Feed::default());
        LOCAL.with(|l| l.borrow_mut().push((id, feed.clone())));
        reactor.process.monitors.add(reactor.id, 1);
        Watch {
            id,
            shard: reactor.id,
            feed,
            process: reactor.process.clone(),
        }
    }

    /// Its lines.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        LOCAL.with(|l| l.borrow_mut().retain(|(id, _)| *id != self.id));
        self.process.monitors.add(self.shard, -1);
    }
}

/// The MONITOR line of a command `client` ran, `described` by
/// `commands::monitor_args`, stamped now with the client's database as the
/// command left it (as Redis: SELECT shows the database it selected).
pub(crate) fn line(client: &commands::Client, described: &[u8]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = Vec::with_capacity(described.len() + 48);
    commands::monitor_line(&mut line, now, client.db, &client.addr, described);
    line
}

/// Queues `line` for delivery by [`flush`].
pub(crate) fn publish(line: &[u8]) {
    OUTBOX.with(|o| o.borrow_mut().extend_from_slice(line));
}

/// Delivers the queued lines: to this thread's monitoring clients but
/// `except` (the connection that ran them), and to every other shard that
/// has monitoring clients.
pub(crate) fn flush(reactor: &Reactor, except: u64) {
    OUTBOX.with(|o| {
        let mut outbox = o.borrow_mut();
        if outbox.is_empty() {
            return;
        }
        deliver(&outbox, Some(except));
        if let Some(mesh) = reactor.mesh.as_ref() {
            let monitors = &reactor.process.monitors;
            let mut shared: Option<Arc<[u8]>> = None;
            for shard in (0..reactor.shards).filter(|&s| s != reactor.id && monitors.on(s)) {
                let lines = shared.get_or_insert_with(|| Arc::from(&outbox[..]));
                mesh.monitor(shard, lines.clone());
            }
        }
        outbox.clear();
    });
}

/// Hands `lines` to this thread's monitoring clients, but `except`.
pub(crate) fn deliver(lines: &[u8], except: Option<u64>) {
    LOCAL.with(|l| {
        for (id, feed) in l.borrow().iter() {
            if Some(*id) != except {
                feed.push(lines);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::KEPT_OUTPUT_BYTES;

    /// A monitor that lagged has 1 MB of lines waiting, twice: once they
    /// are written, neither its feed nor its output keeps that much.
    #[test]
    fn a_lagging_monitor_gives_its_buffers_back() {
        let feed = Feed::default();
        let lag = |feed: &Feed| {
            for _ in 0..1000 {
                feed.push(&[b'x'; 1000]);
            }
        };
        let kept = |buf: &Vec<u8>| buf.capacity() <= KEPT_OUTPUT_BYTES;
        let mut out = Vec::new();
        for round in 0..2 {
            lag(&feed);
            feed.take_into(&mut out);
            assert_eq!(out.len(), 1_000_000);
            assert!(kept(&feed.lines.borrow()), "round {round}");
            // As `Reactor::write` leaves it once written.
            empty_output(&mut out);
            assert!(kept(&out), "round {round}");
        }
        // Lines that follow replies.
        lag(&feed);
        out.extend_from_slice(b"+OK\r\n");
        feed.take_into(&mut out);
        assert_eq!(out.len(), 1_000_005);
        assert!(kept(&feed.lines.borrow()));
        // A modest buffer stays for reuse.
        empty_output(&mut out);
        assert_eq!(out.capacity(), KEPT_OUTPUT_BYTES);
    }
}
