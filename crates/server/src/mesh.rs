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
//! response that does not fit to a separate task that may wait.

use crate::shard::{BatchReply, Work};
use glommio::channels::channel_mesh::Senders;
use glommio::{GlommioError, ResourceType};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
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
        self.senders.send_to(shard, msg).await.is_ok()
    }

    /// Wakes `shard` if it sleeps; dropped if its channel is full (then it
    /// has messages to wake it anyway).
    pub fn poke(&self, shard: usize) {
        let _ = self.senders.try_send_to(shard, Msg::Poke);
    }

    /// Sends a response without ever blocking the calling peer task.
    pub fn respond(&self, to: usize, ticket: u64, reply: BatchReply) {
        match self
            .senders
            .try_send_to(to, Msg::Response { ticket, reply })
        {
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
