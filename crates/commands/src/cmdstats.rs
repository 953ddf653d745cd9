//! Per-command accounting: how often each command (and subcommand) ran,
//! how long it took, how often it failed or was refused, and which errors
//! were replied; INFO's `commandstats`, `errorstats` and `latencystats`
//! sections and `total_error_replies` are rendered from it.
//!
//! Each thread counts what it runs in its own [`CommandStats`] (inside its
//! shard's [`crate::ShardStats`]): a key command on the shard that ran it,
//! a connection command, a refusal or a multi-shard command on the
//! connection's thread. Nothing is shared, so counting takes no lock and no
//! atomic; INFO adds the shards' figures up. A [`Stopwatch`] times the
//! commands a thread runs back to back with one clock read per command.
//!
//! Mayfly differs from Redis 7.0 in two ways, both in what a user cannot
//! rely on in Redis either: the sections list commands in the command
//! table's order (each container followed by its subcommands) where Redis
//! follows its command dictionary, whose order changes with every start
//! (its hash seed is random); and durations are measured in nanoseconds,
//! so `usec` is the sum of exact durations where Redis sums whole
//! microseconds, and latency percentiles come from a coarser histogram
//! (see `histogram.rs`).

use crate::histogram::LatencyHistogram;
use crate::{CommandError, CommandSpec, SubcommandSpec, TABLE};
use resp::Args;
use std::fmt::Write;
use std::num::NonZeroU16;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;
use store::UnixMillis;

/// A command or subcommand as Redis accounts for it (`get`, `config|get`):
/// an index into the table of full names, stored plus one so that an
/// `Option<CommandId>` takes two bytes (a job carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandId(NonZeroU16);

/// Every command's and subcommand's full name, by [`CommandId`].
struct Names {
    /// Full names: the table's commands first (id = table index), then the
    /// subcommands of each container, in table order.
    full: Vec<String>,
    /// Per table index: the id of its first subcommand.
    first_sub: Vec<usize>,
    /// Per table index: the name in capitals, for "Try CONFIG HELP.".
    upper: Vec<String>,
    /// The subcommands, by id less the table's length.
    subcommands: Vec<&'static SubcommandSpec>,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut full: Vec<String> = TABLE.iter().map(|c| c.name.to_string()).collect();
        let mut first_sub = Vec::with_capacity(TABLE.len());
        for spec in TABLE {
            first_sub.push(full.len());
            for sub in spec.subcommands {
                full.push(format!("{}|{}", spec.name, sub.name));
            }
        }
        let upper = TABLE.iter().map(|c| c.name.to_ascii_uppercase()).collect();
        let subcommands = TABLE.iter().flat_map(|c| c.subcommands).collect();
        Names {
            full,
            first_sub,
            upper,
            subcommands,
        }
    })
}

/// The position of `spec` in [`TABLE`] (every spec `lookup` returns is
/// there), found from its address: no search on the hot path.
#[inline]
fn table_index(spec: &CommandSpec) -> usize {
    let start = TABLE.as_ptr() as usize;
    let offset = (spec as *const CommandSpec as usize).wrapping_sub(start);
    let index = offset / std::mem::size_of::<CommandSpec>();
    debug_assert!(std::ptr::eq(&TABLE[index], spec));
    index.min(TABLE.len() - 1)
}

/// Why a command was refused before it ran, as Redis's `processCommand`
/// refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A container given a subcommand it does not have (its table index).
    UnknownSubcommand(usize),
    /// The wrong number of arguments for this command or subcommand.
    WrongArity(CommandId),
}

impl Refusal {
    /// The command whose `rejected_calls` counts it (none for an unknown
    /// subcommand, as in Redis).
    pub fn command(self) -> Option<CommandId> {
        match self {
            Refusal::UnknownSubcommand(_) => None,
            Refusal::WrongArity(id) => Some(id),
        }
    }

    /// Redis's error for it: `unknown subcommand` or `wrong number of arguments`.
    pub fn error(self, args: &Args) -> CommandError {
        match self {
            Refusal::UnknownSubcommand(index) => {
                let sub = args.iter().nth(1).unwrap_or_default();
                CommandError::UnknownSubcommand {
                    sub: String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned(),
                    command: names().upper.get(index).map_or("", |s| s),
                }
            }
            Refusal::WrongArity(id) => CommandError::WrongArity(id.name().to_string()),
        }
    }
}

/// Whether `argc` arguments (the name included) fit Redis's `arity`.
#[inline]
fn arity_fits(arity: i32, argc: usize) -> bool {
    let (argc, arity) = (argc as i64, i64::from(arity));
    if arity > 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

impl CommandId {
    /// The id at `index` of the names (there are far fewer than 65535).
    #[inline]
    fn at(index: usize) -> CommandId {
        CommandId(NonZeroU16::new((index as u16).wrapping_add(1)).unwrap_or(NonZeroU16::MAX))
    }

    /// Its index in the names.
    #[inline]
    fn index(self) -> usize {
        usize::from(self.0.get() - 1)
    }

    /// What `args` runs, as Redis's `lookupCommand` finds it: `spec`, or
    /// for a container given a subcommand, that subcommand; then its
    /// argument count checked against its arity.
    #[inline]
    pub fn resolve(spec: &'static CommandSpec, args: &Args) -> Result<CommandId, Refusal> {
        let index = table_index(spec);
        if spec.subcommands.is_empty() || args.len() < 2 {
            let id = CommandId::at(index);
            return if arity_fits(spec.arity, args.len()) {
                Ok(id)
            } else {
                Err(Refusal::WrongArity(id))
            };
        }
        let sub = args.get(1);
        let Some(position) = spec
            .subcommands
            .iter()
            .position(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
        else {
            return Err(Refusal::UnknownSubcommand(index));
        };
        let id = CommandId::at(names().first_sub[index] + position);
        if arity_fits(spec.subcommands[position].arity, args.len()) {
            Ok(id)
        } else {
            Err(Refusal::WrongArity(id))
        }
    }

    /// The full name: `get`, `config|get`.
    pub fn name(self) -> &'static str {
        names().full.get(self.index()).map_or("", |s| s)
    }

    /// Whether Redis flags it `fast` (no subcommand Mayfly has is).
    pub fn is_fast(self) -> bool {
        TABLE.get(self.index()).is_some_and(|c| c.fast)
    }

    /// The subcommand it is, if it is one.
    fn subcommand(self) -> Option<&'static SubcommandSpec> {
        let sub = self.index().checked_sub(TABLE.len())?;
        names().subcommands.get(sub).copied()
    }

    /// Whether Redis flags it `admin` (MONITOR does not show it).
    pub fn is_admin(self) -> bool {
        match self.subcommand() {
            Some(sub) => sub.admin,
            None => TABLE.get(self.index()).is_some_and(|c| c.admin),
        }
    }

    /// Whether it reads or writes keys, as Redis's `readonly`, `write` and
    /// `may_replicate` flags say (none of Mayfly's commands is
    /// `may_replicate`): a replica, and so a monitor, may not run it.
    pub fn touches_keyspace(self) -> bool {
        match self.subcommand() {
            Some(sub) => sub.readonly,
            None => TABLE
                .get(self.index())
                .is_some_and(|c| c.readonly || c.write),
        }
    }
}

/// One command's counters on one thread.
#[derive(Debug, Clone, Default)]
struct Counters {
    calls: u64,
    nanos: u64,
    rejected: u64,
    failed: u64,
    /// Created on the first call, as Redis creates its HDR histogram.
    histogram: Option<Box<LatencyHistogram>>,
}

/// Error codes told apart (Redis 7.2's limit); errors with other codes
/// still count in `total_error_replies`.
const MAX_ERROR_CODES: usize = 128;

/// One thread's per-command counters and error counts.
#[derive(Debug, Clone, Default)]
pub struct CommandStats {
    /// By [`CommandId`]; sized on first use.
    counters: Vec<Counters>,
    /// Error replies by code (the error's first word).
    errors: Vec<(Box<[u8]>, u64)>,
    /// Every error reply.
    error_replies: u64,
}

/// The code of an error reply (`-WRONGTYPE Operation ...` → `WRONGTYPE`),
/// as Redis's `afterErrorReply` takes it: the bytes before the first space
/// within the first 32, else `ERR`. None if `reply` is not an error.
pub fn error_code(reply: &[u8]) -> Option<&[u8]> {
    if reply.first() != Some(&b'-') {
        return None;
    }
    let head = &reply[..reply.len().min(32)];
    Some(match head.iter().position(|&c| c == b' ') {
        Some(space) => &reply[1..space],
        None => b"ERR",
    })
}

impl CommandStats {
    fn counters(&mut self, id: CommandId) -> &mut Counters {
        let index = id.index();
        if index >= self.counters.len() {
            self.counters
                .resize_with(names().full.len().max(index + 1), Counters::default);
        }
        &mut self.counters[index]
    }

    /// Counts a call of `id` that took `nanos` and replied `reply` (which
    /// fails it when it is an error).
    #[inline(always)]
    pub fn record_call(&mut self, id: CommandId, nanos: u64, reply: &[u8]) {
        match self.counters.get_mut(id.index()) {
            Some(Counters {
                calls,
                nanos: total,
                histogram: Some(histogram),
                ..
            }) => {
                *calls += 1;
                *total += nanos;
                histogram.record(nanos);
            }
            _ => self.record_first_call(id, nanos),
        }
        if reply.first() == Some(&b'-') {
            self.record_failure(id, reply);
        }
    }

    /// A call that replied an error.
    #[cold]
    fn record_failure(&mut self, id: CommandId, reply: &[u8]) {
        self.counters(id).failed += 1;
        self.record_error(reply);
    }

    /// A command's first call on this thread: its counters and histogram
    /// are made.
    #[cold]
    fn record_first_call(&mut self, id: CommandId, nanos: u64) {
        let counters = self.counters(id);
        counters.calls += 1;
        counters.nanos += nanos;
        match &mut counters.histogram {
            Some(histogram) => histogram.record(nanos),
            None => counters.histogram = Some(LatencyHistogram::boxed_with(nanos)),
        }
    }

    /// Counts a command refused before it ran with the error `reply`.
    pub fn record_refusal(&mut self, command: Option<CommandId>, reply: &[u8]) {
        if let Some(id) = command {
            self.counters(id).rejected += 1;
        }
        self.record_error(reply);
    }

    /// Counts an error reply (a protocol error, say) by its code.
    pub fn record_error(&mut self, reply: &[u8]) {
        let Some(code) = error_code(reply) else {
            return;
        };
        self.error_replies += 1;
        if let Some((_, count)) = self.errors.iter_mut().find(|(c, _)| **c == *code) {
            *count += 1;
        } else if self.errors.len() < MAX_ERROR_CODES {
            self.errors.push((code.into(), 1));
        }
    }

    /// Forgets everything (CONFIG RESETSTAT).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Error replies counted (INFO's `total_error_replies`).
    pub fn error_replies(&self) -> u64 {
        self.error_replies
    }

    /// The sum of several threads' figures.
    pub fn merged<'a>(all: impl IntoIterator<Item = &'a CommandStats>) -> CommandStats {
        let mut sum = CommandStats::default();
        for stats in all {
            for (i, theirs) in stats.counters.iter().enumerate() {
                let mine = sum.counters(CommandId::at(i));
                mine.calls += theirs.calls;
                mine.nanos += theirs.nanos;
                mine.rejected += theirs.rejected;
                mine.failed += theirs.failed;
                match (&mut mine.histogram, &theirs.histogram) {
                    (Some(mine), Some(theirs)) => mine.merge(theirs),
                    (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
                    (_, None) => {}
                }
            }
            for (code, count) in &stats.errors {
                match sum.errors.iter_mut().find(|(c, _)| c == code) {
                    Some((_, total)) => *total += count,
                    None => sum.errors.push((code.clone(), *count)),
                }
            }
            sum.error_replies += stats.error_replies;
        }
        sum
    }

    /// Ids in INFO's order: each command of the table, then its subcommands.
    fn in_table_order(&self) -> impl Iterator<Item = (CommandId, &Counters)> + '_ {
        let names = names();
        TABLE.iter().enumerate().flat_map(move |(index, spec)| {
            let first = names.first_sub[index];
            std::iter::once(index)
                .chain(first..first + spec.subcommands.len())
                .filter_map(|i| self.counters.get(i).map(|c| (CommandId::at(i), c)))
        })
    }

    /// Per command, what metrics exporters need (see [`CommandMetrics`]),
    /// in INFO's order; commands never called nor refused are left out.
    pub fn metrics(&self) -> impl Iterator<Item = CommandMetrics<'_>> + '_ {
        self.in_table_order()
            .filter(|(_, c)| c.calls > 0 || c.rejected > 0)
            .map(|(id, c)| CommandMetrics {
                name: id.name(),
                calls: c.calls,
                usec: c.nanos / 1000,
                failed: c.failed,
                rejected: c.rejected,
                histogram: c.histogram.as_deref(),
            })
    }

    /// Error replies by code, in byte order of the codes (as Redis's rax).
    pub fn errors(&self) -> Vec<(String, u64)> {
        let mut errors: Vec<(String, u64)> = self
            .errors
            .iter()
            .map(|(code, count)| (String::from_utf8_lossy(code).into_owned(), *count))
            .collect();
        errors.sort();
        errors
    }

    /// INFO's `# Commandstats` section, as Redis 7.0 writes it
    /// (`usec_per_call` from the exact durations).
    pub fn render_commandstats(&self, out: &mut String) {
        out.push_str("# Commandstats\r\n");
        for (id, c) in self.in_table_order() {
            if c.calls == 0 && c.rejected == 0 {
                continue;
            }
            let per_call = if c.calls == 0 {
                0.0
            } else {
                c.nanos as f64 / 1000.0 / c.calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                id.name(),
                c.calls,
                c.nanos / 1000,
                c.rejected,
                c.failed
            );
        }
    }

    /// INFO's `# Errorstats` section.
    pub fn render_errorstats(&self, out: &mut String) {
        out.push_str("# Errorstats\r\n");
        for (code, count) in self.errors() {
            let _ = write!(out, "errorstat_{code}:count={count}\r\n");
        }
    }

    /// INFO's `# Latencystats` section: the 50th, 99th and 99.9th
    /// percentiles of each called command's durations, in microseconds.
    pub fn render_latencystats(&self, out: &mut String) {
        out.push_str("# Latencystats\r\n");
        for m in self.metrics() {
            let Some(histogram) = m.histogram else {
                continue;
            };
            let _ = write!(out, "latency_percentiles_usec_{}:", m.name);
            for (i, (label, percentile)) in PERCENTILES.iter().enumerate() {
                let usec = histogram.value_at_percentile(*percentile) as f64 / 1000.0;
                let comma = if i + 1 < PERCENTILES.len() { "," } else { "" };
                let _ = write!(out, "p{label}={usec:.3}{comma}");
            }
            out.push_str("\r\n");
        }
    }
}

/// Redis's default `latency-tracking-info-percentiles`, with their labels.
const PERCENTILES: [(&str, f64); 3] = [("50", 50.0), ("99", 99.0), ("99.9", 99.9)];

/// One command's figures on one shard, for a metrics exporter:
/// `calls` (that ran), `failed` (ran and replied an error), `rejected`
/// (refused before running: arity, NOAUTH, OOM ...), the total time in
/// microseconds, and the durations' histogram (None until the first call):
/// [`LatencyHistogram::buckets`] gives each bucket's upper bound in
/// nanoseconds and its count, [`LatencyHistogram::cumulative`] the counts
/// at an exporter's own bounds. Sum the shards for the server's figures.
#[derive(Debug, Clone, Copy)]
pub struct CommandMetrics<'a> {
    /// Full name (`get`, `config|get`).
    pub name: &'static str,
    /// Calls that ran.
    pub calls: u64,
    /// Their total duration in whole microseconds.
    pub usec: u64,
    /// Calls that replied an error.
    pub failed: u64,
    /// Calls refused before running.
    pub rejected: u64,
    /// Their durations.
    pub histogram: Option<&'a LatencyHistogram>,
}

/// Times the commands a thread runs back to back, with one clock read per
/// command: each read ends one command and starts the next. A batch's
/// first read is the one that also gives its commands their time (the
/// batch clock); the connection reads it once more when the batch is
/// planned, so that planning it is no shard job's time. The slow log and
/// latency thresholds are read when it starts and again after a command
/// that may change them ([`Stopwatch::read_thresholds`]).
///
/// It reads the wall clock, as Redis's `ustime()` does: `clock_gettime`
/// through the vDSO, about 20 ns here, the same as `Instant::now()` (the
/// monotonic clock); `rdtsc` takes 8 ns but needs a calibration and a
/// stable TSC, and the coarse clocks tick every few ms (see
/// `benches/clock.rs`). A step back of the clock counts as 0 ns.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    /// The last reading, unix nanoseconds.
    last: u64,
    /// Durations from this many ns on go to the slow log.
    slow_nanos: u64,
    /// Durations from this many ns on are latency samples.
    latency_nanos: u64,
    /// The smaller of the two.
    notable_nanos: u64,
}

/// The wall clock in unix nanoseconds, read straight from `clock_gettime`
/// (`SystemTime::now().duration_since(UNIX_EPOCH)` costs five times the
/// instructions around the same call).
#[inline]
fn unix_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to fill; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

/// `slowlog-log-slower-than` (µs) and `latency-monitor-threshold` (ms).
fn thresholds() -> (i64, u64) {
    (
        crate::SETTINGS.slowlog_log_slower_than.load(Relaxed),
        crate::SETTINGS.latency_monitor_threshold.load(Relaxed),
    )
}

impl Stopwatch {
    /// Reads the clock, and the slow log and latency thresholds of the
    /// settings.
    pub fn start() -> Self {
        let (slow_usec, latency_msec) = thresholds();
        Self::with_thresholds(slow_usec, latency_msec)
    }

    /// Reads the clock; commands of `slow_usec` µs or more (negative:
    /// none) go to the slow log, of `latency_msec` ms or more (0: none)
    /// are latency samples.
    pub fn with_thresholds(slow_usec: i64, latency_msec: u64) -> Self {
        let mut watch = Self {
            last: unix_nanos(),
            slow_nanos: u64::MAX,
            latency_nanos: u64::MAX,
            notable_nanos: u64::MAX,
        };
        watch.set_thresholds(slow_usec, latency_msec);
        watch
    }

    /// Reads `slowlog-log-slower-than` and `latency-monitor-threshold`
    /// again: a command that may have changed them (CONFIG SET) calls it
    /// once it ran, so that they apply to it and to every command after
    /// it, as Redis checks them after every command.
    pub fn read_thresholds(&mut self) {
        let (slow_usec, latency_msec) = thresholds();
        self.set_thresholds(slow_usec, latency_msec);
    }

    fn set_thresholds(&mut self, slow_usec: i64, latency_msec: u64) {
        self.slow_nanos = u64::try_from(slow_usec).map_or(u64::MAX, |u| u.saturating_mul(1000));
        self.latency_nanos = match latency_msec {
            0 => u64::MAX,
            ms => ms.saturating_mul(1_000_000),
        };
        self.notable_nanos = self.slow_nanos.min(self.latency_nanos);
    }

    /// The time of the last reading, unix milliseconds.
    pub fn unix_millis(&self) -> UnixMillis {
        self.last / 1_000_000
    }

    /// Nanoseconds since the last reading (which this one replaces).
    #[inline]
    pub fn lap(&mut self) -> u64 {
        let now = unix_nanos();
        let elapsed = now.saturating_sub(self.last);
        self.last = now;
        elapsed
    }

    /// Whether a command of `nanos` goes to the slow log
    /// (`slowlog-log-slower-than`, µs; negative: never).
    pub fn is_slow(&self, nanos: u64) -> bool {
        nanos >= self.slow_nanos
    }

    /// Whether a command of `nanos` needs a look beyond its counters: a
    /// slow log entry or a latency sample.
    #[inline]
    pub fn is_notable(&self, nanos: u64) -> bool {
        nanos >= self.notable_nanos
    }
}

/// What the thread that ran command `id` does with it: counts it (`nanos`,
/// failed if `reply` is an error) and, when it took long enough, feeds
/// LATENCY's `command` or `fast-command` event. True when it belongs in
/// the slow log, which the client's thread keeps.
#[inline(always)]
pub fn command_done(
    stats: &mut CommandStats,
    watch: &Stopwatch,
    id: CommandId,
    nanos: u64,
    reply: &[u8],
) -> bool {
    stats.record_call(id, nanos, reply);
    watch.is_notable(nanos) && notable(watch, id, nanos)
}

/// [`command_done`]'s rare part: a latency sample, and whether the slow
/// log wants it.
#[cold]
fn notable(watch: &Stopwatch, id: CommandId, nanos: u64) -> bool {
    if nanos >= watch.latency_nanos {
        let event = if id.is_fast() {
            crate::latency::Event::FastCommand
        } else {
            crate::latency::Event::Command
        };
        crate::latency::add_sample(event, nanos / 1_000_000, watch.unix_millis() / 1000);
    }
    watch.is_slow(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;

    fn resolve(parts: &[&str]) -> Result<&'static str, (String, Option<&'static str>)> {
        let args = Args::from_slices(parts);
        let spec = lookup(args.get(0)).expect("a command");
        CommandId::resolve(spec, &args)
            .map(CommandId::name)
            .map_err(|r| (r.error(&args).to_string(), r.command().map(CommandId::name)))
    }

    #[test]
    fn commands_and_subcommands_resolve_as_redis_looks_them_up() {
        assert_eq!(resolve(&["GET", "k"]), Ok("get"));
        assert_eq!(resolve(&["config", "GET", "x"]), Ok("config|get"));
        assert_eq!(resolve(&["COMMAND"]), Ok("command"));
        assert_eq!(resolve(&["command", "count"]), Ok("command|count"));
        assert_eq!(
            resolve(&["get"]),
            Err((
                "ERR wrong number of arguments for 'get' command".into(),
                Some("get")
            ))
        );
        assert_eq!(
            resolve(&["config"]),
            Err((
                "ERR wrong number of arguments for 'config' command".into(),
                Some("config")
            ))
        );
        assert_eq!(
            resolve(&["CONFIG", "GET"]),
            Err((
                "ERR wrong number of arguments for 'config|get' command".into(),
                Some("config|get")
            ))
        );
        assert_eq!(
            resolve(&["config", "nope", "x"]),
            Err((
                "ERR unknown subcommand 'nope'. Try CONFIG HELP.".into(),
                None
            ))
        );
        assert_eq!(
            resolve(&["Object", "nope"]),
            Err((
                "ERR unknown subcommand 'nope'. Try OBJECT HELP.".into(),
                None
            ))
        );
    }

    #[test]
    fn every_id_has_its_name() {
        for (i, spec) in TABLE.iter().enumerate() {
            assert_eq!(table_index(spec), i);
            assert_eq!(CommandId::at(i).name(), spec.name);
            assert_eq!(CommandId::at(i).is_admin(), spec.admin);
            for sub in spec.subcommands {
                let args = Args::from_slices(&[spec.name, sub.name, "a", "b", "c"]);
                let id = match CommandId::resolve(spec, &args) {
                    Ok(id) => id,
                    Err(refusal) => refusal.command().expect("a known subcommand"),
                };
                assert_eq!(id.name(), format!("{}|{}", spec.name, sub.name));
                assert!(!id.is_fast());
                assert_eq!(id.is_admin(), sub.admin, "{}", id.name());
                assert_eq!(id.touches_keyspace(), sub.readonly, "{}", id.name());
            }
        }
    }

    #[test]
    fn error_codes_as_redis() {
        assert_eq!(error_code(b"-ERR syntax error\r\n"), Some(&b"ERR"[..]));
        assert_eq!(
            error_code(b"-WRONGTYPE Operation against a key\r\n"),
            Some(&b"WRONGTYPE"[..])
        );
        assert_eq!(
            error_code(b"-NOAUTH Authentication required.\r\n"),
            Some(&b"NOAUTH"[..])
        );
        assert_eq!(
            error_code(b"-ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG x\r\n"),
            Some(&b"ERR"[..])
        );
        assert_eq!(error_code(b"-OK\r\n"), Some(&b"ERR"[..]));
        assert_eq!(error_code(b"+OK\r\n"), None);
        assert_eq!(error_code(b""), None);
    }

    fn id(name: &str) -> CommandId {
        let mut parts: Vec<&str> = name.split('|').collect();
        if parts.len() > 1 {
            parts.extend(["a", "b", "c"]);
        }
        let args = Args::from_slices(&parts[..]);
        match CommandId::resolve(lookup(args.get(0)).expect("known"), &args) {
            Ok(id) => id,
            Err(refusal) => refusal.command().expect("known"),
        }
    }

    #[test]
    fn sections_in_table_order_with_redis_fields() {
        let mut a = CommandStats::default();
        let mut b = CommandStats::default();
        a.record_call(id("set"), 2_500, b"+OK\r\n");
        b.record_call(id("get"), 1_000, b"$1\r\nv\r\n");
        b.record_call(id("get"), 1_000, b"-WRONGTYPE Operation\r\n");
        a.record_refusal(Some(id("get")), b"-ERR wrong number\r\n");
        a.record_refusal(None, b"-ERR unknown command\r\n");
        a.record_call(id("config|get"), 4_000, b"*0\r\n");
        b.record_refusal(Some(id("config")), b"-NOAUTH Authentication required.\r\n");
        b.record_error(b"-ERR Protocol error: invalid bulk length\r\n");
        let sum = CommandStats::merged([&a, &b]);
        let mut out = String::new();
        sum.render_commandstats(&mut out);
        assert_eq!(
            out,
            "# Commandstats\r\n\
             cmdstat_get:calls=2,usec=2,usec_per_call=1.00,rejected_calls=1,failed_calls=1\r\n\
             cmdstat_set:calls=1,usec=2,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_config:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n\
             cmdstat_config|get:calls=1,usec=4,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n"
        );
        let mut out = String::new();
        sum.render_errorstats(&mut out);
        assert_eq!(
            out,
            "# Errorstats\r\nerrorstat_ERR:count=3\r\nerrorstat_NOAUTH:count=1\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(sum.error_replies(), 5);
        let mut out = String::new();
        sum.render_latencystats(&mut out);
        assert_eq!(
            out,
            "# Latencystats\r\n\
             latency_percentiles_usec_get:p50=1.023,p99=1.023,p99.9=1.023\r\n\
             latency_percentiles_usec_set:p50=2.559,p99=2.559,p99.9=2.559\r\n\
             latency_percentiles_usec_config|get:p50=4.095,p99=4.095,p99.9=4.095\r\n"
        );
        let mut reset = sum.clone();
        reset.reset();
        let mut out = String::new();
        reset.render_commandstats(&mut out);
        assert_eq!(out, "# Commandstats\r\n");
        assert_eq!(reset.error_replies(), 0);
    }

    #[test]
    fn metrics_for_exporters() {
        let mut stats = CommandStats::default();
        stats.record_call(id("get"), 1_500, b"$-1\r\n");
        stats.record_call(id("get"), 3_000_000, b"$-1\r\n");
        let metrics: Vec<CommandMetrics> = stats.metrics().collect();
        assert_eq!(metrics.len(), 1);
        let get = metrics[0];
        assert_eq!(
            (get.name, get.calls, get.usec, get.failed),
            ("get", 2, 3001, 0)
        );
        let histogram = get.histogram.expect("called");
        assert_eq!(histogram.cumulative(&[10_000, 10_000_000]), vec![1, 2]);
    }

    #[test]
    fn the_stopwatch_counts_laps() {
        let mut watch = Stopwatch::start();
        let first = watch.unix_millis();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(watch.lap() >= 2_000_000);
        assert!(watch.unix_millis() >= first + 2);
    }
}
