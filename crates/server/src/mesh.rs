//! Calls between shards: glommio's channel mesh, plus the tickets by which a
//! connection waits for an answer, whether it comes from another shard or
//! (for work that had to wait for locks) from its own.
//!
//! A connection sends one [`Msg::Request`] per destination shard per batch
//! and awaits its ticket; the destination's peer task hands the work to its
//! shard and sends back a [`Msg::Response`] when it is done, which the peer
//! task on this side delivers to the waiting ticket. Peer tasks never
//! `send().await` (glommio's mesh deadlocks when two executors both block
//! sending into each other's full channel): they `try_send`. A message that
//! does not fit goes to its peer's overflow queue, and so does every later
//! one to that peer while the queue is not empty; one task per peer sends
//! the queue in order, waiting for room. Lines for MONITOR clients travel
//! the same way ([`Msg::Monitor`]), so that a client's lines reach every
//! shard in its order.
//!
//! Each shard counts the messages it sends and receives (INFO's `# Shards`,
//! /metrics), in counters of its own thread.

use crate::shard::{BatchReply, Work};
use glommio::channels::channel_mesh::{Full, MeshBuilder, Receivers, Senders};
use glommio::{GlommioError, ResourceType};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

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

/// Joins the mesh `builder` describes: this shard's senders and receivers.
pub(crate) async fn join(
    builder: MeshBuilder<Msg, Full>,
) -> glommio::Result<(Senders<Msg>, Receivers<Msg>), ()> {
    // glommio can lose the cross-thread wake-up that ends a mesh join, leaving
    // both executors asleep forever (seen about once in 300 starts under load).
    // Any wake-up makes an executor re-check its channels, so a heartbeat timer
    // during the join turns a lost wake-up into a few ms of delay. After the
    // join, the expiry tick plays the same part for mesh traffic.
    let heartbeat = glommio::spawn_local(async {
        loop {
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    });
    let joined = builder.join().await;
    drop(heartbeat);
    joined
}

/// This shard's end of the mesh.
pub(crate) struct Mesh {
    senders: Rc<Senders<Msg>>,
    /// By peer: the messages waiting for room in its channel.
    overflow: Rc<[Overflow]>,
}

/// The messages to one peer that are waiting for room in its channel, in
/// the order they were sent.
#[derive(Default)]
struct Overflow {
    queue: RefCell<VecDeque<Msg>>,
    /// Whether a task is sending the queue (it may hold the queue's first
    /// message, taken out but not yet sent): later messages must wait.
    draining: Cell<bool>,
}

impl Mesh {
    pub fn new(senders: Senders<Msg>) -> Self {
        let overflow = (0..senders.nr_consumers())
            .map(|_| Overflow::default())
            .collect();
        Self {
            senders: Rc::new(senders),
            overflow,
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

    /// Sends `msg` to `to` without ever blocking the caller (a peer task,
    /// or a connection planning its batch), and after every message sent
    /// to `to` before it: at once if nothing waits for `to` and its channel
    /// has room; otherwise through `to`'s overflow queue.
    fn send_now(&self, to: usize, msg: Msg) {
        count(|t| &t.sent);
        let Some(overflow) = self.overflow.get(to) else {
            return;
        };
        if overflow.draining.get() {
            overflow.queue.borrow_mut().push_back(msg);
            return;
        }
        match self.senders.try_send_to(to, msg) {
            Ok(()) => {}
            Err(GlommioError::WouldBlock(ResourceType::Channel(msg))) => {
                overflow.queue.borrow_mut().push_back(msg);
                overflow.draining.set(true);
                let drain = drain(self.senders.clone(), self.overflow.clone(), to);
                glommio::spawn_local(drain).detach();
            }
            Err(_) => {} // the peer is gone: shutting down
        }
    }
}

/// Sends `to`'s overflow queue in order, each message once `to`'s channel
/// has room, until the queue is empty. The only task that waits to send a
/// peer anything but requests; it drains no receiver.
async fn drain(senders: Rc<Senders<Msg>>, overflow: Rc<[Overflow]>, to: usize) {
    let waiting = &overflow[to];
    loop {
        let next = waiting.queue.borrow_mut().pop_front();
        let Some(msg) = next else {
            break;
        };
        if senders.send_to(to, msg).await.is_err() {
            // The peer is gone: shutting down.
            waiting.queue.borrow_mut().clear();
            break;
        }
    }
    waiting.draining.set(false);
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

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::{LocalExecutorBuilder, Placement};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Runs `body` on an executor of its own, as a shard does.
    fn on_executor<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
        body: impl FnOnce() -> F + Send + 'static,
    ) -> glommio::ExecutorJoinHandle<T> {
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(64 * 1024)
            .spawn(body)
            .expect("an executor")
    }

    /// Lines sent to a peer whose channel is full (it holds one message,
    /// and the peer reads slowly) reach it in the order sent, though the
    /// sender never waits.
    #[test]
    fn messages_to_a_full_peer_arrive_in_order() {
        const LINES: u32 = 300;
        let builder = MeshBuilder::<Msg, Full>::full(2, 1);
        let received_all = Arc::new(AtomicBool::new(false));
        let sender = {
            let (builder, received_all) = (builder.clone(), received_all.clone());
            on_executor(move || async move {
                let (senders, _receivers) = join(builder).await.expect("joined");
                let mesh = Mesh::new(senders);
                for n in 0..LINES {
                    mesh.monitor(1, Arc::from(&n.to_le_bytes()[..]));
                    if n % 10 == 9 {
                        // Now and then, room appears meanwhile.
                        glommio::timer::sleep(Duration::from_micros(200)).await;
                    }
                }
                // The channel stays open until everything is read.
                while !received_all.load(Ordering::Relaxed) {
                    glommio::timer::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let receiver = on_executor(move || async move {
            let (_senders, mut receivers) = join(builder).await.expect("joined");
            let (_, from_sender) = receivers.streams().pop().expect("a peer");
            let mut got = Vec::new();
            while got.len() < LINES as usize {
                glommio::timer::sleep(Duration::from_micros(50)).await;
                match from_sender.recv().await {
                    Some(Msg::Monitor(line)) => {
                        let bytes = <[u8; 4]>::try_from(&line[..]).expect("4 bytes");
                        got.push(u32::from_le_bytes(bytes));
                    }
                    Some(_) => panic!("not a MONITOR line"),
                    None => break,
                }
            }
            received_all.store(true, Ordering::Relaxed);
            got
        });
        let got = receiver.join().expect("the receiver");
        sender.join().expect("the sender");
        assert_eq!(got, (0..LINES).collect::<Vec<_>>());
    }
}
