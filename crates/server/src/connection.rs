//! One client connection: read → parse → route → execute → encode → write.
//!
//! Everything one read produced is executed as one batch: the commands are
//! planned in order (connection commands run at once, shard commands become
//! jobs, one list per shard), every remote shard gets one mesh message, the
//! local shard's jobs run inline, and the replies are stitched together in
//! request order into one write.

use crate::reactor::Reactor;
use crate::shard::{BatchReply, Job, JobOutcome};
use commands::{
    lookup, render_info, unknown_command_error, Client, Combine, Dispatch, ProcessStats, ShardStats,
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

/// How one command's reply is obtained once the batch has run.
enum Step {
    /// Already encoded, in the connection's local buffer.
    Ready(Range<usize>),
    /// The reply of job `index` on `shard`.
    Job { shard: usize, index: usize },
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

/// A batch being planned and executed; reused across reads.
struct Batch {
    steps: Vec<Step>,
    /// (shard, job index) of every part of every Gather step.
    parts: Vec<(usize, usize)>,
    jobs: Vec<Vec<Job>>,
    local: Vec<u8>,
}

impl Batch {
    fn new(shards: usize) -> Self {
        Self {
            steps: Vec::new(),
            parts: Vec::new(),
            jobs: (0..shards).map(|_| Vec::new()).collect(),
            local: Vec::new(),
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
    let _ = stream.set_nodelay(true);
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
    let registration = crate::clients::register(&mut client, &stream);
    let mut parser = RequestParser::new(resp::DEFAULT_MAX_BULK_LEN);
    let mut input: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut out: Vec<u8> = Vec::new();
    let mut batch = Batch::new(reactor.shards);
    let mut requests: Vec<Args> = Vec::new();
    'connection: loop {
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
            continue;
        }
        if !requests.is_empty() {
            reactor.active_batches.set(reactor.active_batches.get() + 1);
            // clients.rs: commands that need every shard's clients, CLIENT
            // REPLY and CONFIG RESETSTAT run one at a time.
            if crate::clients::one_by_one(&client, &requests) {
                for args in std::mem::take(&mut requests) {
                    if client.close_after_reply {
                        break;
                    }
                    crate::clients::note_command(&mut client, &args);
                    let start = out.len();
                    if let Some(what) = crate::clients::gathered(&args) {
                        crate::clients::run(&reactor, &mut client, args, what, &mut out).await;
                    } else {
                        let mut one = vec![args];
                        execute(&reactor, &mut client, &mut batch, &mut one, &mut out).await;
                    }
                    crate::clients::apply_reply_mode(&mut client, &mut out, start);
                }
            } else {
                if let Some(last) = requests.last() {
                    crate::clients::note_command(&mut client, last);
                }
                execute(&reactor, &mut client, &mut batch, &mut requests, &mut out).await;
            }
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

/// Runs `requests` as one batch and appends their replies, in order, to `out`.
async fn execute(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    requests: &mut Vec<Args>,
    out: &mut Vec<u8>,
) {
    let planned = plan(reactor, client, batch, requests);
    reactor.state.borrow_mut().stats.commands_processed += planned as u64;

    let mut replies: Vec<Option<BatchReply>> = (0..reactor.shards).map(|_| None).collect();
    let mut tickets = Vec::new();
    if let Some(mesh) = reactor.mesh.as_ref() {
        for shard in (0..reactor.shards).filter(|&s| s != reactor.id) {
            if !batch.jobs[shard].is_empty() {
                let jobs = std::mem::take(&mut batch.jobs[shard]);
                if let Some(ticket) = mesh.send(shard, jobs).await {
                    tickets.push((shard, ticket));
                }
            }
        }
    }
    if !batch.jobs[reactor.id].is_empty() {
        replies[reactor.id] = Some(reactor.state.borrow_mut().run(&batch.jobs[reactor.id]));
        batch.jobs[reactor.id].clear();
    }
    if let Some(mesh) = reactor.mesh.as_ref() {
        for (shard, ticket) in tickets {
            replies[shard] = Some(mesh.wait(ticket).await);
        }
    }
    assemble(reactor, batch, &replies, out);
    batch.steps.clear();
    batch.parts.clear();
    batch.local.clear();
}

/// Plans every request in order; returns how many commands were planned.
fn plan(
    reactor: &Reactor,
    client: &mut Client,
    batch: &mut Batch,
    requests: &mut Vec<Args>,
) -> usize {
    let shards = reactor.shards;
    let mut planned = 0;
    for args in requests.drain(..) {
        if client.close_after_reply {
            continue; // after QUIT nothing else runs
        }
        let protocol = client.protocol;
        let Some(spec) = lookup(args.get(0)) else {
            batch.ready_error(protocol, &unknown_command_error(&args).to_string());
            continue;
        };
        if let Err(e) = spec.check_arity(args.len()) {
            batch.ready_error(protocol, &e.to_string());
            continue;
        }
        // Redis counts commands that were looked up and passed the arity check.
        planned += 1;
        let db = client.db as u32;
        let job = |args| Job {
            spec,
            db,
            protocol,
            args,
        };
        match spec.dispatch {
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
                let key = match spec.dispatch {
                    Dispatch::SubKey(_) => args.iter().nth(2).unwrap_or_default(),
                    _ => args.get(1),
                };
                let shard = store::shard_of(key, shards);
                let index = batch.push_job(shard, job(args));
                batch.steps.push(Step::Job { shard, index });
            }
            Dispatch::KeysCount(_) => {
                let sum = GatherKind::Combine(Combine::Sum);
                let first = store::shard_of(args.get(1), shards);
                if args
                    .iter()
                    .skip(2)
                    .all(|key| store::shard_of(key, shards) == first)
                {
                    // All keys on one shard (always so with one shard): no split.
                    batch.gather(protocol, sum, [(first, job(args))]);
                } else {
                    let mut per_shard: Vec<Option<Args>> = (0..shards).map(|_| None).collect();
                    for key in args.iter().skip(1) {
                        per_shard[store::shard_of(key, shards)]
                            .get_or_insert_with(|| Args::from_slices(&[args.get(0)]))
                            .push(key);
                    }
                    let jobs = per_shard.into_iter().enumerate();
                    batch.gather(
                        protocol,
                        sum,
                        jobs.filter_map(|(shard, sub)| Some((shard, job(sub?)))),
                    );
                }
            }
            Dispatch::AllShards {
                validate, combine, ..
            } => match validate(&args) {
                Ok(()) => {
                    let jobs = (0..shards).map(|shard| (shard, job(args.clone())));
                    batch.gather(protocol, GatherKind::Combine(combine), jobs)
                }
                Err(e) => batch.ready_error(protocol, &e.to_string()),
            },
            Dispatch::Info => {
                let jobs = (0..shards).map(|shard| (shard, job(Args::new())));
                batch.gather(protocol, GatherKind::Info(args), jobs)
            }
        }
    }
    planned
}

/// Writes every step's reply, in request order, into `out`.
fn assemble(reactor: &Reactor, batch: &Batch, replies: &[Option<BatchReply>], out: &mut Vec<u8>) {
    let outcome = |shard: usize, index: usize| {
        replies[shard]
            .as_ref()
            .and_then(|r| r.outcomes.get(index).map(|o| (r, o)))
    };
    for step in &batch.steps {
        match step {
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
        port: p.config.port,
        uptime_seconds: p.started.elapsed().as_secs(),
        run_id: p.run_id.clone(),
        executable: p.executable.clone(),
        used_memory: used,
        used_memory_peak: p.peak_memory.fetch_max(used, Ordering::Relaxed).max(used),
        used_memory_rss: store::memory::rss_bytes(),
    }
}
