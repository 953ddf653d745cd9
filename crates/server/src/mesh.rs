//! Calls between shards: glommio's channel mesh, plus the tickets by which a
//! connection waits for an answer, whether it comes from another shard or
//! (for work that had to wait for locks) from its own.
//!
//! A connection sends one [`Msg::Request`] per destination shard per batch
//! and awaits its ticket; the destination's peer task hands the work to its
//! shard and sends back a [`Msg::Response`] when it is done, which the peer
//! task on this side delivers to the waiting ticket. Peer tasks never
//! `send().await` (glommio's mesh deadlocks when two executors both block
//! sending into each other's full channel): they `try_send`, and hand a
//! response that does not fit to a separate task that may wait. Lines for
//! MONITOR clients travel the same way ([`Msg::Monitor`]).
//!
//! Each shard counts the messages it sends and receives (INFO's `# Shards`,
//! /metrics), in counters of its own thread.

use crate::shard::{BatchReply, Work};
use glommio::channels::channel_mesh::Senders;
use glommio::{GlommioError, ResourceType};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

/// Messages each pair of shards can hold in flight, each way.
pub(crate) const CHANNEL_CAPACITY: usize = 1024;

/// What travels between shards.
pub(crate) enum Msg {
    /// Do this work and answer `ticket` on shard `from`.
    Request {
        from: usize,
        ticket: u64,
        work: Work,
    },
    /// The answer to `ticket`.
    Response { ticket: u64, reply: BatchReply },
    /// Nothing to do: wakes a shard that seems asleep (see `stall.rs`).
    Poke,
    /// MONITOR lines for the monitoring clients of the destination (see
    /// `monitor.rs`), shared by every destination.
    Monitor(Arc<[u8]>),
}

/// This thread's mesh traffic.
struct Traffic {
    sent: Cell<u64>,
    received: Cell<u64>,
}

thread_local! {
    static TRAFFIC: Traffic = const {
        Traffic {
            sent: Cell::new(0),
            received: Cell::new(0),
        }
    };
}

fn count(counter: fn(&Traffic) -> &Cell<u64>) {
    TRAFFIC.with(|t| {
        let c = counter(t);
        c.set(c.get() + 1);
    });
}

/// Counts a message this shard received from another.
pub(crate) fn count_received() {
    count(|t| &t.received);
}

/// This shard's (messages sent, messages received) since start or the last
/// CONFIG RESETSTAT.
pub(crate) fn traffic() -> (u64, u64) {
    TRAFFIC.with(|t| (t.sent.get(), t.received.get()))
}

/// CONFIG RESETSTAT's part: this shard's traffic counts start again.
pub(crate) fn reset_traffic() {
    TRAFFIC.with(|t| {
        t.sent.set(0);
        t.received.set(0);
    });
}

/// This shard's end of the mesh.
pub(crate) struct Mesh {
    senders: Rc<Senders<Msg>>,
}

impl Mesh {
    pub fn new(senders: Senders<Msg>) -> Self {
        Self {
            senders: Rc::new(senders),
        }
    }

    /// Sends a request to `shard`; false if the mesh is closed (shutting down).
    pub async fn request(&self, shard: usize, msg: Msg) -> bool {
        count(|t| &t.sent);
        self.senders.send_to(shard, msg).await.is_ok()
    }

    /// Wakes `shard` if it sleeps; dropped if its channel is full (then it
    /// has messages to wake it anyway).
    pub fn poke(&self, shard: usize) {
        if self.senders.try_send_to(shard, Msg::Poke).is_ok() {
            count(|t| &t.sent);
        }
    }

    /// Sends a response without ever blocking the calling peer task.
    pub fn respond(&self, to: usize, ticket: u64, reply: BatchReply) {
        self.send_now(to, Msg::Response { ticket, reply });
    }

    /// Sends MONITOR lines to `shard`, without ever blocking the caller.
    pub fn monitor(&self, shard: usize, lines: Arc<[u8]>) {
        self.send_now(shard, Msg::Monitor(lines));
    }

    /// Sends `msg` at once if `to`'s channel has room; otherwise hands it
    /// to a task of its own that waits for room, so that the caller (a peer
    /// task, or a connection planning its batch) never blocks on the mesh.
    fn send_now(&self, to: usize, msg: Msg) {
        count(|t| &t.sent);
        match self.senders.try_send_to(to, msg) {
            Ok(()) => {}
            Err(GlommioError::WouldBlock(ResourceType::Channel(msg))) => {
                let senders = self.senders.clone();
                glommio::spawn_local(async move {
                    let _ = senders.send_to(to, msg).await;
                })
                .detach();
            }
            Err(_) => {} // the peer is gone: shutting down
        }
    }
}

#[derive(Default)]
struct Slot {
    reply: Option<BatchReply>,
    waker: Option<Waker>,
}

/// Answers this thread is waiting for.
#[derive(Default)]
pub(crate) struct Tickets {
    next: Cell<u64>,
    pending: RefCell<HashMap<u64, Slot>>,
}

/// An answer being waited for.
pub(crate) struct Ticket(pub u64);

impl Tickets {
    /// A new ticket to wait on.
    pub fn open(&self) -> Ticket {
        let ticket = self.next.get();
        self.next.set(ticket + 1);
        self.pending.borrow_mut().insert(ticket, Slot::default());
        Ticket(ticket)
    }

    /// Forgets a ticket whose request could not be sent.
    pub fn cancel(&self, ticket: Ticket) {
        self.pending.borrow_mut().remove(&ticket.0);
    }

    /// Waits for the answer to `ticket`.
    pub async fn wait(&self, ticket: Ticket) -> BatchReply {
        let id = ticket.0;
        let mut done = false;
        poll_fn(|cx| {
            if done {
                return Poll::Ready(BatchReply::default());
            }
            let mut pending = self.pending.borrow_mut();
            let Some(slot) = pending.get_mut(&id) else {
                return Poll::Ready(BatchReply::default());
            };
            match slot.reply.take() {
                Some(reply) => {
                    pending.remove(&id);
                    done = true;
                    Poll::Ready(reply)
                }
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Hands an answer to whoever waits for `ticket`.
    pub fn deliver(&self, ticket: u64, reply: BatchReply) {
        if let Some(slot) = self.pending.borrow_mut().get_mut(&ticket) {
            slot.reply = Some(reply);
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        }
    }
}
