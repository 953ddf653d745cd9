//! Cross-shard calls over glommio's channel mesh.
//!
//! A connection sends one [`Msg::Request`] per destination shard per batch
//! and awaits its ticket; the destination's peer task runs the jobs and sends
//! back a [`Msg::Response`], which its peer task on this side delivers to the
//! waiting ticket. Peer tasks never `send().await` (glommio's mesh deadlocks
//! when two executors both block sending into each other's full channel):
//! they `try_send`, and hand a response that does not fit to a separate task
//! that may wait.

use crate::shard::{BatchReply, Job};
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
    /// Run these jobs and answer `ticket` on shard `from`.
    Request {
        from: usize,
        ticket: u64,
        jobs: Vec<Job>,
    },
    /// The answer to `ticket`.
    Response { ticket: u64, reply: BatchReply },
}

#[derive(Default)]
struct Slot {
    reply: Option<BatchReply>,
    waker: Option<Waker>,
}

/// This shard's end of the mesh.
pub(crate) struct Mesh {
    id: usize,
    senders: Rc<Senders<Msg>>,
    next_ticket: Cell<u64>,
    pending: RefCell<HashMap<u64, Slot>>,
}

/// A request in flight.
pub(crate) struct Ticket(u64);

impl Mesh {
    pub fn new(id: usize, senders: Senders<Msg>) -> Self {
        Self {
            id,
            senders: Rc::new(senders),
            next_ticket: Cell::new(0),
            pending: RefCell::new(HashMap::new()),
        }
    }

    /// Sends `jobs` to `shard`; None if the mesh is closed (shutting down).
    pub async fn send(&self, shard: usize, jobs: Vec<Job>) -> Option<Ticket> {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        self.pending.borrow_mut().insert(ticket, Slot::default());
        match self
            .senders
            .send_to(
                shard,
                Msg::Request {
                    from: self.id,
                    ticket,
                    jobs,
                },
            )
            .await
        {
            Ok(()) => Some(Ticket(ticket)),
            Err(_) => {
                self.pending.borrow_mut().remove(&ticket);
                None
            }
        }
    }

    /// Waits for the reply to `ticket`.
    pub async fn wait(&self, ticket: Ticket) -> BatchReply {
        let mut ticket = Some(ticket);
        poll_fn(|cx| {
            let Some(Ticket(id)) = ticket.as_ref() else {
                return Poll::Ready(BatchReply::default());
            };
            let mut pending = self.pending.borrow_mut();
            let Some(slot) = pending.get_mut(id) else {
                return Poll::Ready(BatchReply::default());
            };
            match slot.reply.take() {
                Some(reply) => {
                    pending.remove(id);
                    ticket = None;
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

    /// Hands an arrived response to the connection waiting for it.
    pub fn deliver(&self, ticket: u64, reply: BatchReply) {
        if let Some(slot) = self.pending.borrow_mut().get_mut(&ticket) {
            slot.reply = Some(reply);
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        }
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
