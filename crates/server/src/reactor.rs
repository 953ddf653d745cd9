//! One shard's executor: joins the mesh, serves peers, runs the expiry tick,
//! accepts connections, and shuts down in step with the other shards.

use crate::mesh::{Mesh, Msg, Ticket, Tickets};
use crate::shard::{BatchReply, Finished, ReplyTo, ShardState, Work};
use crate::{connection, Process};
use commands::ServerFacts;
use futures_lite::AsyncWriteExt;
use glommio::channels::channel_mesh::{Full, MeshBuilder};
use glommio::net::{TcpListener, TcpStream};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// How often each shard reclaims expired keys and looks for shutdown.
const TICK: Duration = Duration::from_millis(10);
/// Ticks between looks for clients idle longer than `timeout` (1 s, as
/// Redis's client cron); the recent buffer peaks move on at the same pace.
const IDLE_CHECK_TICKS: u64 = 100;
/// Ticks between samples of the instantaneous rates (100 ms, as Redis).
const RATE_SAMPLE_TICKS: u64 = 10;
/// How long a shard waits for its connections' in-flight batches at shutdown.
const DRAIN_LIMIT: Duration = Duration::from_millis(1000);

/// Everything one shard thread shares between its tasks.
pub(crate) struct Reactor {
    pub id: usize,
    pub shards: usize,
    pub state: RefCell<ShardState>,
    pub mesh: Option<Mesh>,
    /// Answers this thread's connections wait for.
    pub tickets: Tickets,
    pub process: Arc<Process>,
    pub facts: ServerFacts,
    /// Batches being executed by this thread's connections.
    pub active_batches: Cell<usize>,
    /// [`Reactor::submit`]'s list of finished work, kept between calls so
    /// that serving a peer's batch allocates nothing.
    finished: Cell<Finished>,
    stop: StopSignal,
}

/// Fires once, waking the accept loops (one per listener, its waiters).
#[derive(Default)]
struct StopSignal {
    fired: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

impl StopSignal {
    fn fire(&self) {
        self.fired.set(true);
        for waker in self.wakers.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.fired.get() {
                Poll::Ready(())
            } else {
                let mut wakers = self.wakers.borrow_mut();
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }
}

/// The body of shard `id`'s executor. `listener_fds` are its bound,
/// listening sockets, one per address of `bind`.
pub(crate) async fn run_shard(
    id: usize,
    listener_fds: Vec<RawFd>,
    mesh: MeshBuilder<Msg, Full>,
    process: Arc<Process>,
) {
    let shards = process.config.threads;
    let listeners: Vec<(TcpListener, RawFd)> = listener_fds
        .into_iter()
        // SAFETY: each fd is a listening TCP socket that this shard alone owns from now on.
        .map(|fd| (unsafe { TcpListener::from_raw_fd(fd) }, fd))
        .collect();
    let (mesh, receivers) = if shards > 1 {
        match crate::mesh::join(mesh).await {
            Ok((senders, receivers)) => (Some(Mesh::new(senders)), Some(receivers)),
            Err(e) => {
                log::error!("shard {id} could not join the mesh: {e}");
                return;
            }
        }
    } else {
        (None, None)
    };
    let reactor = Rc::new(Reactor {
        id,
        shards,
        state: RefCell::new(ShardState::new(
            process.config.options.databases,
            process.config.options.keyspace_segments,
        )),
        mesh,
        tickets: Tickets::default(),
        facts: ServerFacts {
            shards,
            node_id: process.run_id.clone(),
            options: process.config.options.clone(),
            config_file: process.config.config_file.clone(),
        },
        process,
        active_batches: Cell::new(0),
        finished: Cell::new(Finished::new()),
        stop: StopSignal::default(),
    });
    if let Some(mut receivers) = receivers {
        for (_, rx) in receivers.streams() {
            let reactor = reactor.clone();
            glommio::spawn_local(async move {
                while let Some(msg) = rx.recv().await {
                    serve_peer_message(&reactor, msg);
                }
            })
            .detach();
        }
    }
    // The first timer pays for membarrier registration: do it now, not on a client's time.
    glommio::timer::sleep(Duration::from_millis(1)).await;
    glommio::spawn_local(tick(reactor.clone())).detach();

    reactor.process.shutdown.mark_ready();
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|(listener, fd)| glommio::spawn_local(accept_loop(reactor.clone(), listener, fd)))
        .collect();
    for task in accepting {
        task.await;
    }
    shut_down(&reactor).await;
}

fn serve_peer_message(reactor: &Reactor, msg: Msg) {
    crate::mesh::count_received();
    match msg {
        Msg::Request { from, ticket, work } => reactor.submit(
            work,
            ReplyTo::Peer {
                shard: from,
                ticket,
            },
        ),
        Msg::Response { ticket, reply } => reactor.tickets.deliver(ticket, reply),
        Msg::Monitor(lines) => crate::monitor::deliver(&lines, None),
        Msg::Poke => {}
    }
}

impl Reactor {
    /// Hands `work` to this shard; its reply (and those of any work it
    /// unblocked) go where they are due.
    pub fn submit(&self, work: Work, to: ReplyTo) {
        let mut done = self.finished.take();
        self.state.borrow_mut().handle(work, to, &mut done);
        for (to, reply) in done.drain(..) {
            match to {
                ReplyTo::Local(ticket) => self.tickets.deliver(ticket, reply),
                ReplyTo::Peer { shard, ticket } => {
                    if let Some(mesh) = self.mesh.as_ref() {
                        mesh.respond(shard, ticket, reply);
                    }
                }
            }
        }
        self.finished.set(done);
    }

    /// Sends `work` to `shard` (this one included); None if the mesh is
    /// closed (shutting down).
    pub async fn send(&self, shard: usize, work: Work) -> Option<Ticket> {
        let ticket = self.tickets.open();
        if shard == self.id {
            self.submit(work, ReplyTo::Local(ticket.0));
            return Some(ticket);
        }
        let msg = Msg::Request {
            from: self.id,
            ticket: ticket.0,
            work,
        };
        match self.mesh.as_ref() {
            Some(mesh) if mesh.request(shard, msg).await => Some(ticket),
            _ => {
                self.tickets.cancel(ticket);
                None
            }
        }
    }

    /// Waits for the answer to `ticket`.
    pub async fn wait(&self, ticket: Ticket) -> BatchReply {
        self.tickets.wait(ticket).await
    }

    /// Counts a connection's read of `bytes`, after which it holds
    /// `buffered` unparsed bytes (INFO's net input and buffer figures).
    #[inline]
    pub fn count_read(&self, bytes: usize, buffered: usize) {
        self.state.borrow_mut().stats.count_read(bytes, buffered);
    }

    /// Counts a connection's write of `bytes` (INFO's net output).
    #[inline]
    pub fn count_write(&self, bytes: usize) {
        self.state.borrow_mut().stats.count_write(bytes);
    }

    /// Writes all of `out` to `stream`, counts it and empties it with
    /// [`empty_output`]; false if the connection failed.
    pub async fn write(&self, stream: &mut TcpStream, out: &mut Vec<u8>) -> bool {
        let written = stream.write_all(out).await.is_ok();
        if written {
            self.count_write(out.len());
        }
        empty_output(out);
        written
    }
}

/// Capacity an emptied output buffer keeps for reuse.
pub(crate) const KEPT_OUTPUT_BYTES: usize = 64 * 1024;

/// Empties an output buffer (a connection's replies, a monitor's lines)
/// and gives back its capacity beyond [`KEPT_OUTPUT_BYTES`], so that one
/// large reply, or a monitor that lagged, does not hold its peak memory
/// until the connection closes (Redis frees its reply blocks as they are
/// written).
pub(crate) fn empty_output(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > KEPT_OUTPUT_BYTES {
        buf.shrink_to(KEPT_OUTPUT_BYTES);
    }
}

async fn tick(reactor: Rc<Reactor>) {
    let mut ticks: u64 = 0;
    let mut peers = crate::stall::PeerWatch::new(reactor.shards);
    loop {
        glommio::timer::sleep(TICK).await;
        ticks += 1;
        {
            let mut state = reactor.state.borrow_mut();
            state.expire_tick();
            if ticks.is_multiple_of(RATE_SAMPLE_TICKS) {
                state.stats.sample_rates(store::now_millis());
            }
            if ticks.is_multiple_of(IDLE_CHECK_TICKS) {
                state.stats.input_peak.next_second();
                state.stats.output_peak.next_second();
            }
        }
        if let Some(mesh) = reactor.mesh.as_ref() {
            for peer in peers.due(reactor.id, &reactor.process.heartbeats) {
                mesh.poke(peer);
            }
        }
        if ticks.is_multiple_of(IDLE_CHECK_TICKS) {
            let timeout = commands::SETTINGS
                .timeout
                .load(std::sync::atomic::Ordering::Relaxed);
            if timeout > 0 {
                crate::clients::close_idle(timeout, store::now_millis());
            }
        }
        reactor.process.heartbeats.beat(reactor.id);
        if reactor.id == 0 {
            let used = store::memory::allocated_bytes();
            reactor
                .process
                .peak_memory
                .fetch_max(used, std::sync::atomic::Ordering::Relaxed);
        }
        if reactor.process.shutdown.requested() && !reactor.stop.fired.get() {
            reactor.stop.fire();
        }
    }
}

/// Accepts connections on one listener until the shard stops.
async fn accept_loop(reactor: Rc<Reactor>, listener: TcpListener, listener_fd: RawFd) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            reactor.stop.wait().await;
            None
        })
        .await;
        match accepted {
            Some(Ok(stream)) => {
                glommio::spawn_local(connection::serve(reactor.clone(), stream)).detach();
            }
            Some(Err(e)) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("shard {}: accept failed: {e}", reactor.id);
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            None => break,
        }
    }
    // A cancelled io_uring accept can keep the socket alive (and listening)
    // past the process's exit, so a quick restart on the same port would get
    // connections reset: take it out of LISTEN explicitly before closing it.
    // SAFETY: `listener` still owns `listener_fd`; shutdown does not close it.
    unsafe {
        libc::shutdown(listener_fd, libc::SHUT_RDWR);
    }
    drop(listener);
}

async fn shut_down(reactor: &Rc<Reactor>) {
    let shutdown = &reactor.process.shutdown;
    let start = Instant::now();
    while reactor.active_batches.get() > 0 && start.elapsed() < DRAIN_LIMIT {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    shutdown.mark_drained();
    // Keep serving peers until every shard has drained, so none waits forever on us.
    while shutdown.drained() < reactor.shards && start.elapsed() < DRAIN_LIMIT * 3 / 2 {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}
