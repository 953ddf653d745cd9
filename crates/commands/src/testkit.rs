//! Drives commands through the table's dispatch on one in-memory shard with a
//! fake clock, as the server would (minus the network).

use crate::table::KeyFn;
use crate::{
    lookup, Checks, Client, CommandId, Dispatch, ServerFacts, ShardCtx, ShardSettings, ShardStats,
};
use resp::{Args, Protocol, ReplyEncoder};
use store::Databases;

pub(crate) struct Harness {
    dbs: Databases,
    stats: ShardStats,
    settings: ShardSettings,
    pub now: u64,
    pub db: usize,
}

impl Harness {
    /// The shard's state as a command sees it.
    fn ctx(&mut self) -> ShardCtx<'_> {
        ShardCtx {
            dbs: &mut self.dbs,
            db: self.db,
            now: self.now,
            stats: &mut self.stats,
            settings: &mut self.settings,
        }
    }

    pub fn new() -> Self {
        Self {
            dbs: Databases::new(16),
            stats: ShardStats::default(),
            settings: ShardSettings::default(),
            now: 1_700_000_000_000,
            db: 0,
        }
    }

    /// Runs CONFIG RESETSTAT's per-shard part; returns the stats INFO would see.
    pub fn reset_stats(&mut self) -> ShardStats {
        let mut ctx = self.ctx();
        crate::config::reset_stats(&mut ctx);
        self.stats.snapshot(&self.dbs)
    }

    /// Runs one command and returns its reply bytes.
    pub fn run(&mut self, parts: &[&str]) -> Vec<u8> {
        self.run_with(Protocol::Resp2, parts)
    }

    /// Runs a shard function that is not in the table (e.g. a subcommand
    /// the server routes itself) on `parts`, in RESP2.
    pub fn run_key_fn(&mut self, f: KeyFn, parts: &[&str]) -> Vec<u8> {
        let args = Args::from_slices(parts);
        let mut out = Vec::new();
        let mut enc = ReplyEncoder::new(&mut out, Protocol::Resp2);
        let mut ctx = self.ctx();
        f(&args, &mut ctx, &mut enc);
        out
    }

    /// Runs one command in the given protocol and returns its reply bytes.
    pub fn run_with(&mut self, proto: Protocol, parts: &[&str]) -> Vec<u8> {
        let args = Args::from_slices(parts);
        let spec = lookup(args.get(0)).expect("known command");
        let mut out = Vec::new();
        let mut enc = ReplyEncoder::new(&mut out, proto);
        if let Err(e) = spec.check_arity(args.len()) {
            enc.error(&e.to_string());
            return out;
        }
        let checks = Checks {
            databases: 16,
            db: self.db,
        };
        let mut ctx = self.ctx();
        match spec.route(&args) {
            Dispatch::Key(f) | Dispatch::SubKey(f) => f(&args, &mut ctx, &mut enc),
            Dispatch::KeysCount(f) => enc.integer(f(&args, &mut ctx)),
            Dispatch::Multi {
                validate, whole, ..
            } => match validate(&args, &checks) {
                Ok(()) => whole(&args, &mut ctx, &mut enc),
                Err(e) => enc.error(&e.to_string()),
            },
            Dispatch::AllShards {
                validate,
                op,
                combine,
            } => match validate(&args, &checks) {
                Ok(()) => {
                    let n = op(&args, &mut ctx);
                    match combine {
                        crate::Combine::Sum => enc.integer(n),
                        crate::Combine::Ok => enc.ok(),
                    }
                }
                Err(e) => enc.error(&e.to_string()),
            },
            Dispatch::Connection(_)
            | Dispatch::Info
            | Dispatch::Sub { .. }
            | Dispatch::Server(_)
            | Dispatch::Scatter { .. } => {
                panic!("not a shard command")
            }
        }
        out
    }
}

/// The command (or subcommand) `parts` run, as the server resolves it
/// before running it: none for one it refuses first (unknown command or
/// subcommand, wrong arity).
pub(crate) fn command_of<S: AsRef<[u8]>>(parts: &[S]) -> Option<CommandId> {
    let args = Args::from_slices(parts);
    CommandId::resolve(lookup(args.get(0))?, &args).ok()
}

/// Runs a connection command on a fresh client (id 7, 16 databases).
pub(crate) fn run_connection(parts: &[&str]) -> (Vec<u8>, Client) {
    run_connection_on(&[parts])
}

/// The facts the connection commands' tests run with.
pub(crate) fn facts() -> ServerFacts {
    ServerFacts {
        shards: 1,
        node_id: "0".repeat(40),
        options: crate::config::Startup::default(),
        config_file: None,
    }
}

/// Runs connection commands in order on one fresh client (id 7, 16
/// databases), each encoded in the protocol the client has when it starts.
pub(crate) fn run_connection_on(commands: &[&[&str]]) -> (Vec<u8>, Client) {
    run_connection_with(facts(), commands)
}

/// [`run_connection_on`] with the server facts given.
pub(crate) fn run_connection_with(facts: ServerFacts, commands: &[&[&str]]) -> (Vec<u8>, Client) {
    let mut client = Client::new(7);
    let mut out = Vec::new();
    for parts in commands {
        let args = Args::from_slices(parts);
        let spec = lookup(args.get(0)).expect("known command");
        client.last_cmd = CommandId::resolve(spec, &args).ok();
        let mut enc = ReplyEncoder::new(&mut out, client.protocol);
        match spec.check_arity(args.len()) {
            Err(e) => enc.error(&e.to_string()),
            Ok(()) => match spec.route(&args) {
                Dispatch::Connection(f) => f(&args, &mut client, &facts, &mut enc),
                // With one client on one shard, the connection commands
                // answer CLIENT LIST / KILL and CONFIG RESETSTAT themselves.
                Dispatch::Server(crate::ServerOp::ResetStat | crate::ServerOp::ConfigSet) => {
                    crate::config::config(&args, &mut client, &facts, &mut enc)
                }
                Dispatch::Server(crate::ServerOp::Monitor) => {
                    crate::monitor::monitor(&args, &mut client, &facts, &mut enc)
                }
                Dispatch::Server(crate::ServerOp::DebugSleep) => {
                    crate::debug::debug_sleep(&args, &mut client, &facts, &mut enc)
                }
                // This thread's part is every shard's.
                Dispatch::Server(crate::ServerOp::SlowLog) => {
                    crate::slowlog_reply(&args, vec![crate::slowlog_part(&args)], &mut enc)
                }
                Dispatch::Server(crate::ServerOp::Latency) => {
                    crate::latency_reply(&args, &[crate::latency_part(&args)], &mut enc)
                }
                Dispatch::Server(_) => crate::client::client(&args, &mut client, &facts, &mut enc),
                _ => panic!("not a connection command"),
            },
        }
    }
    (out, client)
}
