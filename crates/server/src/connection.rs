//! One client connection: read → parse → route → execute → encode → write.
//!
//! Everything one read produced is executed as one batch: the commands are
//! planned in order (connection commands run at once, shard commands become
//! jobs, one list per shard), every remote shard gets one mesh message, the
//! local shard's jobs run inline, and the replies are stitched together in
//! request order into one write.

use crate::mesh::Ticket;
use crate::reactor::Reactor;
use crate::shard::{BatchReply, Job, JobOutcome, Work};
use commands::{
    lookup, render_info, unknown_command_error, Checks, Client, Combine, CommandError, Dispatch,
    ProcessStats, ShardStats, SETTINGS,
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use resp::{Args, ParseStatus, Protocol, ReplyEncoder, RequestParser};
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use store::UnixMillis;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;
/// Most commands executed as one batch; a longer pipeline runs in several.
const MAX_BATCH: usize = 1024;
/// A batch reply whose buffer grew beyond this (a big MGET or KEYS) is not
/// kept for reuse, so that one large reply does not pin memory.
const MAX_SPARE_REPLY_BYTES: usize = 256 * 1024;

/// How one command's reply is obtained once the batch has run.
enum Step {
    /// Already encoded, in the connection's local buffer.
    Ready(Range<usize>),
    /// The reply of job `index` on `shard`.
    Job { shard: usize, index: usize },
    /// A step whose reply CLIENT REPLY drops (its jobs still run).
    Silent,
    /// Combines the outcomes of `parts` (indexes into `Batch::parts`).
    Gather {
        parts: Range<usize>,
        protocol: Protocol,
        kind: GatherKind,
    },
}

enum GatherKind {
    Combine(Combine),
    Info(Args),
}

/// A batch being planned and executed; reused across reads, with every
/// allocation in it, so that a connection in steady state allocates nothing
/// per batch.
struct Batch {
    steps: Vec<Step>,
    /// (shard, job index) of every part of every Gather step.
    parts: Vec<(usize, usize)>,
    /// The jobs for each shard.
    jobs: Vec<Vec<Job>>,
    local: Vec<u8>,
    /// Each shard's reply, once it came.
    replies: Vec<Option<BatchReply>>,
    /// Empty replies to send out with the next jobs.
    spare: Vec<BatchReply>,
    /// The shards whose replies are awaited, and their tickets.
    tickets: Vec<(usize, Ticket)>,
    /// Whether used memory is above `maxmemory`, found out at most once per
    /// plan (summing the allocator's counters costs more than a command).
    over_maxmemory: Option<bool>,
}

impl Batch {
    fn new(shards: usize) -> Self {
        Self {
            steps: Vec::new(),
            parts: Vec::new(),
            jobs: (0..shards).map(|_| Vec::new()).collect(),
            local: Vec::new(),
            replies: (0..shards).map(|_| None).collect(),
            spare: Vec::new(),
            tickets: Vec::new(),
            over_maxmemory: None,
        }
    }

    /// Whether commands that may add memory are refused now, as Redis's
    /// `maxmemory` with the `noeviction` policy does.
    fn over_maxmemory(&mut self) -> bool {
        *self.over_maxmemory.get_or_insert_with(|| {
            let limit = SETTINGS.maxmemory.load(Ordering::Relaxed);
            limit != 0 && store::memory::allocated_bytes() as u64 > limit
        })
    }

    /// An empty reply to fill, reused if one is at hand.
    fn spare_reply(&mut self) -> BatchReply {
        self.spare.pop().unwrap_or_default()
    }

    /// Takes the replies back for the next batch: their jobs' arguments go
    /// to `parser`, their job lists and buffers to this batch.
    fn recycle(&mut self, parser: &mut RequestParser) {
        let shards = self.replies.len();
        for (shard, slot) in self.replies.iter_mut().enumerate() {
            let Some(mut reply) = slot.take() else {
                continue;
            };
            for job in reply.jobs.drain(..) {
                parser.recycle(job.args);
            }
            if self.jobs[shard].capacity() == 0 {
                std::mem::swap(&mut self.jobs[shard], &mut reply.jobs);
            }
            reply.clear();
            if self.spare.len() < shards && reply.buf.capacity() <= MAX_SPARE_REPLY_BYTES {
                self.spare.push(reply);
            }
        }
    }

    fn push_job(&mut self, shard: usize, job: Job) -> usize {
        self.jobs[shard].push(job);
        self.jobs[shard].len() - 1
    }

    /// Queues each `(shard, job)` and gathers their outcomes as `kind` says.
    fn gather(
        &mut self,
        protocol: Protocol,
        kind: GatherKind,
        jobs: impl IntoIterator<Item = (usize, Job)>,
    ) {
        let start = self.parts.len();
        for (shard, job) in jobs {
            let index = self.push_job(shard, job);
            self.parts.push((shard, index));
        }
        let parts = start..self.parts.len();
        self.steps.push(Step::Gather {
            parts,
            protocol,
            kind,
        });
    }

    fn ready_error(&mut self, protocol: Protocol, text: &str) {
        let start = self.local.len();
        ReplyEncoder::new(&mut self.local, protocol).error(text);
        self.steps.push(Step::Ready(start..self.local.len()));
    }
}

/// Serves one connection until it closes.
pub(crate) async fn serve(reactor: Rc<Reactor>, mut stream: TcpStream) {
    // As Redis, a client over `maxclients` gets an error and is closed
    // before it is given an id or counted as received.
    let Some(_slot) = ClientSlot::take(&reactor.process) else {
        reactor.state.borrow_mut().stats.rejected_connections += 1;
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.close().await;
        return;
    };
    let _ = stream.set_nodelay(true);
    set_keepalive(&stream, SETTINGS.tcp_keepalive.load(Ordering::Relaxed));
    let id = reactor
        .process
        .next_client_id
        .fetch_add(1, Ordering::Relaxed);
    {
        let stats = &mut reactor.state.borrow_mut().stats;
        stats.connections_received += 1;
        stats.connected_clients += 1;
    }
    let mut client = Client::new(id);
    client.authenticated = !commands::settings::password_required();
    let registration = crate::clients::register(&mut client, &stream);
    let mut parser = RequestParser::new(max_bulk_len());
    let mut input: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut out: Vec<u8> = Vec::new();
    let mut batch = Batch::new(reactor.shards);
    let mut requests: Vec<Args> = Vec::new();
    'connection: loop {
        // CONFIG SET proto-max-bulk-len applies to the requests still to come.
        parser.set_max_bulk_len(max_bulk_len());
        // Parse what we have; read more only when no whole request is buffered.
        let mut consumed = 0;
        let mut protocol_error = None;
        while requests.len() < MAX_BATCH {
            match parser.parse(&input[consumed..]) {
                Ok(ParseStatus::Complete { args, consumed: n }) => {
                    consumed += n;
                    requests.push(args);
                }
                Ok(ParseStatus::Incomplete { consumed: n }) => {
                    consumed += n;
                    break;
                }
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        input.drain(..consumed);
        if requests.is_empty() && protocol_error.is_none() {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break 'connection,
                Ok(n) => input.extend_from_slice(&chunk[..n]),
            }
            let query = input.len() + parser.pending_len();
            if query as u64 > SETTINGS.client_query_buffer_limit.load(Ordering::Relaxed) {
                // As Redis: logged, and the client is closed without a reply.
                log::warn!(
                    "Closing client that reached max query buffer length: id={} addr={} qbuf={query}",
                    client.id,
                    client.addr
                );
                break 'connection;
            }
            continue;
        }
        if !requests.is_empty() {
            reactor.active_batches.set(reactor.active_batches.get() + 1);
            // CLIENT LIST's `idle=`; its `cmd=` is noted as commands are planned.
            // The batch's commands run at this time too: one clock read per batch.
            client.last_interaction = store::now_millis();
            let now = client.last_interaction;
            let batch = &mut batch;
            execute(
                &reactor,
                &mut client,
                batch,
                &mut parser,
                now,
                &mut requests,
                &mut out,
            )
            .await;
            crate::clients::sync(&client);
            reactor.active_batches.set(reactor.active_batches.get() - 1);
        }
        // After QUIT nothing else is answered, a protocol error included
        // (nor with CLIENT REPLY OFF).
        if let Some(e) = protocol_error
            .as_ref()
            .filter(|_| !client.close_after_reply && !client.reply.suppressed())
        {
            ReplyEncoder::new(&mut out, client.protocol).error(&e.reply_text());
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if protocol_error.is_some() || client.close_after_reply {
            break;
        }
    }
    reactor.state.borrow_mut().stats.connected_clients -= 1;
    drop(registration); // before the close: CLIENT KILL must not reach a reused fd
    let _ = stream.close().await;
}

/// One of the `maxclients` connections the process may have, given back
/// when the connection ends.
struct ClientSlot<'a>(&'a std::sync::atomic::AtomicU64);

impl<'a> ClientSlot<'a> {
    /// A slot, unless `maxclients` clients are connected already.
    fn take(process: &'a crate::Process) -> Option<Self> {
        let connected = &process.connected_clients;
        let before = connected.fetch_add(1, Ordering::Relaxed);
        if before >= SETTINGS.maxclients.load(Ordering::Relaxed) {
            connected.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(ClientSlot(connected))
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `proto-max-bulk-len`, as the parser takes it.
fn max_bulk_len() -> usize {
    let limit = SETTINGS.proto_max_bulk_len.load(Ordering::Relaxed);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// Turns on TCP keepalive as Redis's `anetKeepAlive`: probes after `secs`
/// idle seconds, then every `secs / 3` (at least 1), 3 unanswered probes
/// close the connection. 0: off.
fn set_keepalive(stream: &TcpStream, secs: u64) {
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::time::Duration;
    if secs == 0 {
        return;
    }
    // SAFETY: the descriptor belongs to `stream`, which outlives this borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(&fd).set_tcp_keepalive(&keepalive) {
        log::debug!("could not set TCP keepalive: {e}");
    }
}

/// Runs `requests` as one batch and appends their replies, in order, to `out`.
///
/// A command whose keys span shards runs as a transaction, which takes
/// several round trips: the commands before it are executed and answered
/// first, then it, then the planning goes on with the rest.
/// Commands run at `now` (unix ms); executed requests go back to `parser`
/// for reuse.
async fn execute(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    parser: &mut RequestParser,
    mut now: UnixMillis,
    requests: &mut Vec<Args>,
    out: &mut Vec<u8>,
) {
    let mut rest = requests.drain(..);
    loop {
        let (planned, transaction) = plan(reactor, client, batch, &mut rest);
        reactor.state.borrow_mut().stats.commands_processed += planned as u64;
        run_planned(reactor, batch, now, out).await;
        batch.recycle(parser);
        let Some(((dispatch, args), silent)) = transaction else {
            break;
        };
        // What follows a deferred command (DEBUG SLEEP, say) runs after it.
        now = store::now_millis();
        let start = out.len();
        match dispatch {
            Dispatch::Server(op) => {
                crate::clients::run(reactor, client, &reactor.facts, args, op, out).await;
            }
            _ => {
                let db = client.db as u32;
                crate::cross::run(reactor, dispatch, db, client.protocol, args, out).await;
            }
        }
        if silent {
            out.truncate(start);
        }
    }
}

/// Sends the planned jobs (one message per remote shard), runs the local
/// ones, and assembles every planned step's reply into `out`.
async fn run_planned(reactor: &Reactor, batch: &mut Batch, now: UnixMillis, out: &mut Vec<u8>) {
    for shard in (0..reactor.shards).filter(|&s| s != reactor.id) {
        if !batch.jobs[shard].is_empty() {
            let work = Work::Batch {
                jobs: std::mem::take(&mut batch.jobs[shard]),
                reply: batch.spare_reply(),
            };
            if let Some(ticket) = reactor.send(shard, work).await {
                batch.tickets.push((shard, ticket));
            }
        }
    }
    let local = reactor.id;
    if !batch.jobs[local].is_empty() {
        let mut reply = batch.spare_reply();
        let ran = reactor
            .state
            .borrow_mut()
            .try_run(&batch.jobs[local], now, &mut reply);
        let jobs = std::mem::take(&mut batch.jobs[local]);
        if ran {
            reply.jobs = jobs;
            batch.replies[local] = Some(reply);
        } else {
            // A key is locked by a transaction: wait for it like a peer would.
            if let Some(ticket) = reactor.send(local, Work::Batch { jobs, reply }).await {
                batch.tickets.push((local, ticket));
            }
        }
    }
    for (shard, ticket) in batch.tickets.drain(..) {
        batch.replies[shard] = Some(reactor.wait(ticket).await);
    }
    assemble(reactor, batch, out);
    batch.steps.clear();
    batch.parts.clear();
    batch.local.clear();
}

/// A command to run after the steps before it are answered: a transaction,
/// or a command the server runs itself.
type Deferred = (Dispatch, Args);

/// Plans requests in order until one must be deferred (returned, with
/// whether CLIENT REPLY silences it); also returns how many commands were
/// planned.
fn plan(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    requests: &mut impl Iterator<Item = Args>,
) -> (usize, Option<(Deferred, bool)>) {
    let mut planned = 0;
    batch.over_maxmemory = None;
    for args in requests.by_ref() {
        if client.close_after_reply {
            continue; // after QUIT nothing else runs
        }
        let steps = batch.steps.len();
        let deferred = plan_one(reactor, client, batch, args, &mut planned);
        // CLIENT REPLY OFF / SKIP: the command runs, its reply is dropped.
        let silent = client.reply.suppressed();
        client.reply.command_done();
        if let Some(deferred) = deferred {
            return (planned, Some((deferred, silent)));
        }
        if silent && batch.steps.len() > steps {
            batch.steps.pop();
            batch.steps.push(Step::Silent);
        }
    }
    (planned, None)
}

/// Plans one request: its step, or the command to defer.
fn plan_one(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    args: Args,
    planned: &mut usize,
) -> Option<Deferred> {
    let shards = reactor.shards;
    let protocol = client.protocol;
    let spec = lookup(args.get(0));
    commands::set_full_name(&mut client.last_cmd, spec, &args);
    let Some(spec) = spec else {
        batch.ready_error(protocol, &unknown_command_error(&args).to_string());
        return None;
    };
    if let Err(e) = spec.check_arity(args.len()) {
        batch.ready_error(protocol, &e.to_string());
        return None;
    }
    // As Redis: looked up and arity-checked first, then refused before AUTH
    // while a password is set (only a client that has not authenticated
    // looks at the password, so clearing it lets such clients in).
    if !client.authenticated && !spec.no_auth && commands::settings::password_required() {
        batch.ready_error(protocol, &CommandError::NoAuth.to_string());
        return None;
    }
    if spec.deny_oom && batch.over_maxmemory() {
        batch.ready_error(protocol, &CommandError::OutOfMemory.to_string());
        return None;
    }
    // Redis counts commands that were looked up and passed the arity check.
    *planned += 1;
    let db = client.db as u32;
    let dispatch = spec.route(&args);
    let checks = Checks {
        databases: reactor.facts.options.databases,
        db: client.db,
    };
    let job = |args| Job {
        dispatch,
        db,
        protocol,
        args,
    };
    match dispatch {
        Dispatch::Connection(f) => {
            let start = batch.local.len();
            f(
                &args,
                client,
                &reactor.facts,
                &mut ReplyEncoder::new(&mut batch.local, protocol),
            );
            batch.steps.push(Step::Ready(start..batch.local.len()));
        }
        Dispatch::Key(_) | Dispatch::SubKey(_) => {
            let key = match dispatch {
                Dispatch::SubKey(_) => args.iter().nth(2).unwrap_or_default(),
                _ => args.get(1),
            };
            let shard = store::shard_of(key, shards);
            let index = batch.push_job(shard, job(args));
            batch.steps.push(Step::Job { shard, index });
        }
        Dispatch::KeysCount(_) => {
            let sum = GatherKind::Combine(Combine::Sum);
            match single_shard(args.iter().skip(1), shards) {
                Some(shard) => batch.gather(protocol, sum, [(shard, job(args))]),
                None => return Some((dispatch, args)),
            }
        }
        Dispatch::Multi { validate, keys, .. } => {
            if let Err(e) = validate(&args, &checks) {
                batch.ready_error(protocol, &e.to_string());
                return None;
            }
            match single_shard(keys.keys(&args), shards) {
                Some(shard) => {
                    let index = batch.push_job(shard, job(args));
                    batch.steps.push(Step::Job { shard, index });
                }
                None => return Some((dispatch, args)),
            }
        }
        Dispatch::AllShards {
            validate, combine, ..
        } => match validate(&args, &checks) {
            Ok(()) if shards == 1 => {
                batch.gather(protocol, GatherKind::Combine(combine), [(0, job(args))])
            }
            Ok(()) => return Some((dispatch, args)),
            Err(e) => batch.ready_error(protocol, &e.to_string()),
        },
        Dispatch::Info => {
            let jobs = (0..shards).map(|shard| (shard, job(Args::new())));
            batch.gather(protocol, GatherKind::Info(args), jobs)
        }
        Dispatch::Server(_) => return Some((dispatch, args)),
        Dispatch::Scatter { validate, .. } => match validate(&args, &checks) {
            Ok(()) => return Some((dispatch, args)),
            Err(e) => batch.ready_error(protocol, &e.to_string()),
        },
        // `route` never returns a Sub.
        Dispatch::Sub { .. } => batch.ready_error(protocol, "ERR unknown subcommand"),
    }
    None
}

/// The shard all `keys` live on, if they share one.
fn single_shard<'a>(mut keys: impl Iterator<Item = &'a [u8]>, shards: usize) -> Option<usize> {
    let first = store::shard_of(keys.next()?, shards);
    keys.all(|key| store::shard_of(key, shards) == first)
        .then_some(first)
}

/// Writes every step's reply, in request order, into `out`.
fn assemble(reactor: &Reactor, batch: &Batch, out: &mut Vec<u8>) {
    let outcome = |shard: usize, index: usize| {
        batch.replies[shard]
            .as_ref()
            .and_then(|r| r.outcomes.get(index).map(|o| (r, o)))
    };
    for step in &batch.steps {
        match step {
            Step::Silent => {}
            Step::Ready(range) => out.extend_from_slice(&batch.local[range.clone()]),
            Step::Job { shard, index } => match outcome(*shard, *index) {
                Some((reply, JobOutcome::Reply(range))) => {
                    out.extend_from_slice(&reply.buf[range.clone()])
                }
                _ => shard_unavailable(out, *shard),
            },
            Step::Gather {
                parts,
                protocol,
                kind,
            } => {
                let mut enc = ReplyEncoder::new(out, *protocol);
                match kind {
                    GatherKind::Combine(combine) => {
                        let mut sum = 0i64;
                        for &(shard, index) in &batch.parts[parts.clone()] {
                            if let Some((_, JobOutcome::Int(n))) = outcome(shard, index) {
                                sum += n;
                            }
                        }
                        match combine {
                            Combine::Sum => enc.integer(sum),
                            Combine::Ok => enc.ok(),
                        }
                    }
                    GatherKind::Info(args) => {
                        let stats: Vec<ShardStats> = batch.parts[parts.clone()]
                            .iter()
                            .filter_map(|&(shard, index)| match outcome(shard, index) {
                                Some((_, JobOutcome::Stats(s))) => Some((**s).clone()),
                                _ => None,
                            })
                            .collect();
                        let text = render_info(args, &stats, &process_stats(reactor));
                        enc.verbatim("txt", text.as_bytes());
                    }
                }
            }
        }
    }
}

fn shard_unavailable(out: &mut Vec<u8>, shard: usize) {
    out.extend_from_slice(format!("-ERR shard {shard} is shutting down\r\n").as_bytes());
}

fn process_stats(reactor: &Reactor) -> ProcessStats {
    let p = &reactor.process;
    let used = store::memory::allocated_bytes();
    ProcessStats {
        mayfly_version: env!("CARGO_PKG_VERSION"),
        port: p.config.options.port,
        uptime_seconds: p.started.elapsed().as_secs(),
        run_id: p.run_id.clone(),
        executable: p.executable.clone(),
        used_memory: used,
        used_memory_peak: p.peak_memory.fetch_max(used, Ordering::Relaxed).max(used),
        used_memory_rss: store::memory::rss_bytes(),
    }
}
