//! One client connection: read → parse → route → execute → encode → write.
//!
//! Everything one read produced is executed as one batch: the commands are
//! planned in order (connection commands run at once, shard commands become
//! jobs, one list per shard), every remote shard gets one mesh message, the
//! local shard's jobs run inline, and the replies are stitched together in
//! request order into one write.

use crate::mesh::Ticket;
use crate::metrics::{self, Opening};
use crate::monitor::{Feed, Watch};
use crate::reactor::Reactor;
use crate::shard::{BatchReply, Job, JobOutcome, Work};
use commands::{
    lookup, render_info, unknown_command_error, Checks, Client, Combine, CommandError, CommandId,
    Dispatch, ProcessStats, ShardStats, Stopwatch, SETTINGS,
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use resp::{Args, ParseStatus, Protocol, ReplyEncoder, RequestParser};
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::Ordering;

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
    /// INFO, accounted for once its reply is rendered.
    Info(Args, CommandId),
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

    /// Answers an error; returns its bytes.
    fn ready_error(&mut self, protocol: Protocol, text: &str) -> &[u8] {
        let start = self.local.len();
        ReplyEncoder::new(&mut self.local, protocol).error(text);
        self.steps.push(Step::Ready(start..self.local.len()));
        &self.local[start..]
    }
}

/// Serves one connection until it closes: RESP, or HTTP for Prometheus
/// (told from its first bytes, see `metrics.rs`).
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
    let mut input: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    match metrics::opening(&reactor, &mut stream, &mut chunk, &mut input).await {
        Opening::Resp => serve_resp(&reactor, &mut stream, &mut client, chunk, input).await,
        Opening::Http => {
            metrics::serve(&reactor, &mut stream, &mut client, &mut chunk, input).await
        }
        Opening::Closed => {}
    }
    reactor.state.borrow_mut().stats.connected_clients -= 1;
    drop(registration); // before the close: CLIENT KILL must not reach a reused fd
    let _ = stream.close().await;
}

/// Serves RESP requests, starting with those in `input`, until the
/// connection closes.
async fn serve_resp(
    reactor: &Reactor,
    stream: &mut TcpStream,
    client: &mut Client,
    mut chunk: Vec<u8>,
    mut input: Vec<u8>,
) {
    let mut parser = RequestParser::new(max_bulk_len());
    let mut out: Vec<u8> = Vec::new();
    let mut batch = Batch::new(reactor.shards);
    let mut requests: Vec<Args> = Vec::new();
    // Set while the client monitors.
    let mut monitoring: Option<Watch> = None;
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
            let read = match monitoring.as_ref() {
                None => stream.read(&mut chunk).await,
                Some(watch) => match read_or_lines(stream, &mut chunk, watch.feed()).await {
                    Some(read) => read,
                    None => {
                        watch.feed().take_into(&mut out);
                        // As Redis, a write is an interaction (CLIENT
                        // LIST's `idle=`).
                        client.last_interaction = store::now_millis();
                        crate::clients::sync(client);
                        if !reactor.write(stream, &mut out).await {
                            break 'connection;
                        }
                        continue;
                    }
                },
            };
            let n = *read.as_ref().unwrap_or(&0);
            let query = input.len() + n + parser.pending_len();
            reactor.count_read(n, query);
            match read {
                Ok(0) | Err(_) => break 'connection,
                Ok(n) => input.extend_from_slice(&chunk[..n]),
            }
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
            // The batch's commands run at this time too: one clock read per
            // batch, which also starts the first command's timing.
            let watch = Stopwatch::start();
            client.last_interaction = watch.unix_millis();
            let batch = &mut batch;
            execute(
                reactor,
                client,
                batch,
                &mut parser,
                watch,
                &mut requests,
                &mut out,
            )
            .await;
            crate::clients::sync(client);
            reactor.active_batches.set(reactor.active_batches.get() - 1);
            // MONITOR started or RESET ended monitoring.
            if client.monitor != monitoring.is_some() {
                monitoring = client.monitor.then(|| Watch::start(reactor, client.id));
            }
        }
        if client.aborted {
            // Nothing of this read is answered, as Redis.
            warn_cross_protocol();
            break;
        }
        // After QUIT nothing else is answered, a protocol error included
        // (nor with CLIENT REPLY OFF).
        if let Some(e) = protocol_error
            .as_ref()
            .filter(|_| !client.close_after_reply && !client.reply.suppressed())
        {
            let start = out.len();
            ReplyEncoder::new(&mut out, client.protocol).error(&e.reply_text());
            let stats = &mut reactor.state.borrow_mut().stats;
            stats.commands.record_error(&out[start..]);
        }
        if let Some(watch) = monitoring.as_ref().filter(|_| !client.close_after_reply) {
            watch.feed().take_into(&mut out);
        }
        if !out.is_empty() && !reactor.write(stream, &mut out).await {
            break;
        }
        if protocol_error.is_some() || client.close_after_reply {
            break;
        }
    }
}

/// Waits for the socket (its read's result) or for MONITOR lines to send
/// (`None`), whichever comes first. A read dropped unfinished loses
/// nothing: glommio keeps its readiness poll in the stream.
async fn read_or_lines(
    stream: &mut TcpStream,
    chunk: &mut [u8],
    feed: &Feed,
) -> Option<std::io::Result<usize>> {
    futures_lite::future::or(async { Some(stream.read(chunk).await) }, async {
        feed.ready().await;
        None
    })
    .await
}

/// Redis's log line for a cross-protocol attack, at most once a minute.
fn warn_cross_protocol() {
    static LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = store::now_millis() / 1000;
    let last = LOGGED.load(Ordering::Relaxed);
    if now.abs_diff(last) > 60
        && LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        log::warn!(
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: \
             commands to Redis. This is likely due to an attacker attempting to use Cross \
             Protocol Scripting to compromise your Redis instance. Connection aborted."
        );
    }
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
/// Commands run at the time `watch` read (unix ms), which times them;
/// executed requests go back to `parser` for reuse.
async fn execute(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    parser: &mut RequestParser,
    mut watch: Stopwatch,
    requests: &mut Vec<Args>,
    out: &mut Vec<u8>,
) {
    let mut rest = requests.drain(..);
    loop {
        let (planned, transaction) = plan(reactor, client, batch, &mut watch, &mut rest);
        run_planned(reactor, client, batch, &mut watch, out).await;
        // Counted once run, as Redis: an INFO does not count itself, and
        // the deferred command counts once it ran (below), so that CONFIG
        // RESETSTAT counts itself after it zeroed the count.
        let ran = planned - usize::from(transaction.is_some());
        reactor.state.borrow_mut().stats.commands_processed += ran as u64;
        batch.recycle(parser);
        let Some(((dispatch, args, command), silent)) = transaction else {
            break;
        };
        // Its time starts now, not while the commands before it ran; and
        // what follows it (DEBUG SLEEP, say) runs after it.
        watch.lap();
        let start = out.len();
        match dispatch {
            Dispatch::Server(op) => {
                crate::clients::run(reactor, client, &reactor.facts, &args, op, out).await;
            }
            _ => {
                let db = client.db as u32;
                crate::cross::run(reactor, dispatch, db, client.protocol, &args, out).await;
            }
        }
        // CONFIG SET may have changed the slow log and latency thresholds:
        // they apply to it and to what follows it.
        watch.read_thresholds();
        account(reactor, client, &mut watch, command, &args, &out[start..]);
        reactor.state.borrow_mut().stats.commands_processed += 1;
        if silent {
            out.truncate(start);
        }
    }
}

/// Accounts for `command`, which just ran on this thread with `args` and
/// replied `reply`: its counters, its latency sample, and its slow log
/// entry if it took long enough. Its time is `watch`'s lap.
fn account(
    reactor: &Reactor,
    client: &Client,
    watch: &mut Stopwatch,
    command: CommandId,
    args: &Args,
    reply: &[u8],
) {
    let nanos = watch.lap();
    let stats = &mut reactor.state.borrow_mut().stats;
    if commands::command_done(&mut stats.commands, watch, command, nanos, reply) {
        commands::slowlog_record(args, nanos, watch.unix_millis() / 1000, client);
    }
}

/// Answers `error` for `command`, which ran here, and failed, in a check
/// before it was sent anywhere.
fn fail(
    reactor: &Reactor,
    client: &Client,
    batch: &mut Batch,
    watch: &mut Stopwatch,
    command: CommandId,
    error: &CommandError,
    args: &Args,
) {
    let reply = batch.ready_error(client.protocol, &error.to_string());
    account(reactor, client, watch, command, args, reply);
}

/// Refuses a command before it runs with `error`, counting a rejected call
/// of `command` (none: an unknown command or subcommand) and the error.
fn refuse(
    reactor: &Reactor,
    batch: &mut Batch,
    protocol: Protocol,
    command: Option<CommandId>,
    error: &CommandError,
) {
    let reply = batch.ready_error(protocol, &error.to_string());
    let stats = &mut reactor.state.borrow_mut().stats;
    stats.commands.record_refusal(command, reply);
}

/// Sends the planned jobs (one message per remote shard), runs the local
/// ones (timed by `watch`), enters the slow ones of every shard in this
/// thread's slow log, and assembles every planned step's reply into `out`.
async fn run_planned(
    reactor: &Reactor,
    client: &Client,
    batch: &mut Batch,
    watch: &mut Stopwatch,
    out: &mut Vec<u8>,
) {
    let now = watch.unix_millis();
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
        // Planning the batch and sending to the other shards is no local
        // job's time.
        watch.lap();
        let mut reply = batch.spare_reply();
        let ran = reactor
            .state
            .borrow_mut()
            .try_run(&batch.jobs[local], now, watch, &mut reply);
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
    for reply in batch.replies.iter().flatten() {
        for slow in &reply.slow {
            if let Some(job) = reply.jobs.get(slow.index) {
                let time = watch.unix_millis() / 1000;
                commands::slowlog_record(&job.args, slow.nanos, time, client);
            }
        }
    }
    assemble(reactor, client, batch, watch, out);
    batch.steps.clear();
    batch.parts.clear();
    batch.local.clear();
}

/// A command to run after the steps before it are answered: a transaction,
/// or a command the server runs itself.
type Deferred = (Dispatch, Args, CommandId);

/// Plans requests in order until one must be deferred (returned, with
/// whether CLIENT REPLY silences it); also returns how many commands were
/// planned.
fn plan(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    watch: &mut Stopwatch,
    requests: &mut impl Iterator<Item = Args>,
) -> (usize, Option<(Deferred, bool)>) {
    // What MONITOR costs a batch while nobody monitors: this one load.
    if client.monitor || reactor.process.monitors.active() {
        plan_requests::<true>(reactor, client, batch, watch, requests)
    } else {
        plan_requests::<false>(reactor, client, batch, watch, requests)
    }
}

/// [`plan`]'s loop. `WATCHED`: someone monitors, so every command that
/// runs is shown to them, and a monitoring client may not touch keys.
fn plan_requests<const WATCHED: bool>(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    watch: &mut Stopwatch,
    requests: &mut impl Iterator<Item = Args>,
) -> (usize, Option<(Deferred, bool)>) {
    let mut planned = 0;
    let mut deferred = None;
    batch.over_maxmemory = None;
    for args in requests.by_ref() {
        if client.close_after_reply {
            continue; // after QUIT nothing else runs
        }
        let steps = batch.steps.len();
        let mut shown = None;
        let to_defer = plan_one::<WATCHED>(
            reactor,
            client,
            batch,
            watch,
            args,
            &mut planned,
            &mut shown,
        );
        // CLIENT REPLY OFF / SKIP: the command runs, its reply is dropped.
        let silent = client.reply.suppressed();
        client.reply.command_done();
        if silent && to_defer.is_none() && batch.steps.len() > steps {
            batch.steps.pop();
            batch.steps.push(Step::Silent);
        }
        if let Some(shown) = shown {
            show(client, batch, &shown, silent);
        }
        if let Some(to_defer) = to_defer {
            deferred = Some((to_defer, silent));
            break;
        }
    }
    if WATCHED {
        crate::monitor::flush(reactor, client.id);
    }
    (planned, deferred)
}

/// Shows a command `client` ran to every monitoring client: its own line
/// follows its reply, as Redis writes it (unless the reply is silenced or
/// the client is closing); the others' are queued for delivery.
fn show(client: &Client, batch: &mut Batch, shown: &[u8], silent: bool) {
    let line = crate::monitor::line(client, shown);
    if client.monitor && !silent && !client.close_after_reply {
        let start = batch.local.len();
        batch.local.extend_from_slice(&line);
        batch.steps.push(Step::Ready(start..batch.local.len()));
    }
    crate::monitor::publish(&line);
}

/// Plans one request: its step, or the command to defer. A command that
/// runs here (a connection command, or one refused) is timed by `watch`.
/// `WATCHED`: see [`plan_requests`]; then a command that is not refused
/// leaves in `shown` what MONITOR shows of it, if anything.
fn plan_one<const WATCHED: bool>(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    watch: &mut Stopwatch,
    args: Args,
    planned: &mut usize,
    shown: &mut Option<Vec<u8>>,
) -> Option<Deferred> {
    let shards = reactor.shards;
    let protocol = client.protocol;
    let Some(spec) = lookup(args.get(0)) else {
        client.last_cmd = None;
        if commands::cross_protocol_attack(args.get(0)) {
            client.aborted = true;
            client.close_after_reply = true;
            return None;
        }
        refuse(
            reactor,
            batch,
            protocol,
            None,
            &unknown_command_error(&args),
        );
        return None;
    };
    // As Redis: the command and subcommand looked up and their arity
    // checked first, then refused before AUTH while a password is set (only
    // a client that has not authenticated looks at the password, so
    // clearing it lets such clients in), then above maxmemory.
    let command = match CommandId::resolve(spec, &args) {
        Ok(command) => command,
        Err(refusal) => {
            client.last_cmd = refusal.command();
            let error = refusal.error(&args);
            refuse(reactor, batch, protocol, refusal.command(), &error);
            return None;
        }
    };
    client.last_cmd = Some(command);
    if !client.authenticated && !spec.no_auth && commands::settings::password_required() {
        refuse(
            reactor,
            batch,
            protocol,
            Some(command),
            &CommandError::NoAuth,
        );
        return None;
    }
    if spec.deny_oom && batch.over_maxmemory() {
        refuse(
            reactor,
            batch,
            protocol,
            Some(command),
            &CommandError::OutOfMemory,
        );
        return None;
    }
    if WATCHED && client.monitor && commands::refused_to_monitors(command) {
        let error = CommandError::ReplicaKeyspace;
        refuse(reactor, batch, protocol, Some(command), &error);
        return None;
    }
    // Redis counts commands that were looked up and passed the arity check.
    *planned += 1;
    if WATCHED {
        // Shown once it was not refused (Redis shows what it ran).
        *shown = commands::monitor_args(command, &args);
    }
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
        command: Some(command),
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
            account(
                reactor,
                client,
                watch,
                command,
                &args,
                &batch.local[start..],
            );
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
                None => return Some((dispatch, args, command)),
            }
        }
        Dispatch::Multi { validate, keys, .. } => {
            if let Err(e) = validate(&args, &checks) {
                fail(reactor, client, batch, watch, command, &e, &args);
                return None;
            }
            match single_shard(keys.keys(&args), shards) {
                Some(shard) => {
                    let index = batch.push_job(shard, job(args));
                    batch.steps.push(Step::Job { shard, index });
                }
                None => return Some((dispatch, args, command)),
            }
        }
        Dispatch::AllShards {
            validate, combine, ..
        } => match validate(&args, &checks) {
            Ok(()) if shards == 1 => {
                batch.gather(protocol, GatherKind::Combine(combine), [(0, job(args))])
            }
            Ok(()) => return Some((dispatch, args, command)),
            Err(e) => fail(reactor, client, batch, watch, command, &e, &args),
        },
        Dispatch::Info => {
            let jobs = (0..shards).map(|shard| {
                let part = Job {
                    command: None,
                    ..job(Args::new())
                };
                (shard, part)
            });
            batch.gather(protocol, GatherKind::Info(args, command), jobs)
        }
        Dispatch::Server(_) => return Some((dispatch, args, command)),
        Dispatch::Scatter { validate, .. } => match validate(&args, &checks) {
            Ok(()) => return Some((dispatch, args, command)),
            Err(e) => fail(reactor, client, batch, watch, command, &e, &args),
        },
        // `route` never returns a Sub.
        Dispatch::Sub { .. } => {
            batch.ready_error(protocol, "ERR unknown subcommand");
        }
    }
    None
}

/// The shard all `keys` live on, if they share one.
fn single_shard<'a>(mut keys: impl Iterator<Item = &'a [u8]>, shards: usize) -> Option<usize> {
    let first = store::shard_of(keys.next()?, shards);
    keys.all(|key| store::shard_of(key, shards) == first)
        .then_some(first)
}

/// Writes every step's reply, in request order, into `out` (rendering INFO,
/// timed by `watch`, on the way).
fn assemble(
    reactor: &Reactor,
    client: &Client,
    batch: &Batch,
    watch: &mut Stopwatch,
    out: &mut Vec<u8>,
) {
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
            } => match kind {
                GatherKind::Combine(combine) => {
                    let mut enc = ReplyEncoder::new(out, *protocol);
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
                GatherKind::Info(args, command) => {
                    // Its time is its rendering's, not the other shards' replies'.
                    watch.lap();
                    let stats: Vec<ShardStats> = batch.parts[parts.clone()]
                        .iter()
                        .filter_map(|&(shard, index)| match outcome(shard, index) {
                            Some((_, JobOutcome::Stats(s))) => Some((**s).clone()),
                            _ => None,
                        })
                        .collect();
                    let text = render_info(args, &stats, &process_stats(reactor));
                    let start = out.len();
                    ReplyEncoder::new(out, *protocol).verbatim("txt", text.as_bytes());
                    account(reactor, client, watch, *command, args, &out[start..]);
                }
            },
        }
    }
}

fn shard_unavailable(out: &mut Vec<u8>, shard: usize) {
    out.extend_from_slice(format!("-ERR shard {shard} is shutting down\r\n").as_bytes());
}

/// The process's figures for INFO and /metrics, as of now, read on the
/// thread that serves the asking connection.
pub(crate) fn process_stats(reactor: &Reactor) -> ProcessStats {
    use crate::cpu::{usage, Who};
    let p = &reactor.process;
    let used = store::memory::allocated_bytes();
    ProcessStats {
        mayfly_version: env!("CARGO_PKG_VERSION"),
        os: os_name(),
        port: p.config.options.port,
        now_us: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
        uptime_seconds: p.started.elapsed().as_secs(),
        started_unix: p.started_unix,
        run_id: p.run_id.clone(),
        replid: p.replid.clone(),
        executable: p.executable.clone(),
        config_file: p
            .config
            .config_file
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default(),
        supervised_by_systemd: p.supervised,
        cluster_enabled: p.config.options.cluster_mode == commands::config::ClusterMode::Emulated,
        used_memory: used,
        used_memory_peak: p.peak_memory.fetch_max(used, Ordering::Relaxed).max(used),
        used_memory_startup: p.startup_memory.load(Ordering::Relaxed),
        used_memory_rss: store::memory::rss_bytes(),
        total_system_memory: total_system_memory(),
        cpu: usage(Who::Process),
        cpu_children: usage(Who::Children),
        cpu_this_thread: usage(Who::Thread),
    }
}

/// `uname -s -r -m`, as Redis's INFO `os:`.
fn os_name() -> String {
    // SAFETY: uname fills the zeroed struct we own; its fields are
    // NUL-terminated C strings.
    unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return String::new();
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!(
            "{} {} {}",
            field(&name.sysname),
            field(&name.release),
            field(&name.machine)
        )
    }
}

/// The machine's physical memory in bytes, as Redis's `zmalloc_get_memory_size`.
fn total_system_memory() -> u64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(size.max(0) as u64)
}

/// Every shard's statistics, by shard number (a shard that is shutting
/// down is left out), as INFO gathers them: a job on each shard.
pub(crate) async fn gather_stats(reactor: &Reactor) -> Vec<(usize, ShardStats)> {
    let mut tickets = Vec::with_capacity(reactor.shards);
    for shard in 0..reactor.shards {
        let job = Job {
            dispatch: Dispatch::Info,
            db: 0,
            protocol: Protocol::Resp2,
            args: Args::new(),
            command: None,
        };
        if let Some(ticket) = reactor.send(shard, Work::batch(vec![job])).await {
            tickets.push((shard, ticket));
        }
    }
    let mut stats = Vec::with_capacity(tickets.len());
    for (shard, ticket) in tickets {
        if let Some(JobOutcome::Stats(s)) = reactor.wait(ticket).await.outcomes.pop() {
            stats.push((shard, *s));
        }
    }
    stats
}
