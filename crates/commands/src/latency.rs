//! The latency monitor (LATENCY LATEST / HISTORY / GRAPH / RESET / HELP): events
//! that took at least `latency-monitor-threshold` ms, one sample per second
//! per event, the last 160 kept, as Redis's `latency.c`.
//!
//! Mayfly has three of Redis's events: `command` and `fast-command` (a
//! command, by Redis's `fast` flag, that ran that long) and `expire-cycle`
//! (a shard's active expiry tick). Each thread records what it ran in its
//! own monitor (a thread-local: one executor per thread, no locks); the
//! server asks every shard for its series ([`latency_part`]) and merges
//! them ([`latency_reply`]): an event seen on several shards reports the
//! latest sample (the largest on a tie) and the largest maximum, and its
//! history takes the largest sample of each second. LATEST lists events in
//! the order above, where Redis follows its event dictionary (whose order
//! changes with every start). DOCTOR (Redis's advice is about Redis) and
//! HISTOGRAM (per-command HDR buckets) are not offered.

use crate::error::{reply_error, subcommand_syntax_error};
use crate::table::{sub, SubcommandSpec};
use crate::CommandError;
use resp::{Args, ReplyEncoder};
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;

/// Samples kept per event (`LATENCY_TS_LEN`).
const SAMPLES: usize = 160;

/// An event the monitor records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A command without Redis's `fast` flag.
    Command,
    /// A command with it.
    FastCommand,
    /// A shard's active expiry tick.
    ExpireCycle,
}

const EVENTS: [Event; 3] = [Event::Command, Event::FastCommand, Event::ExpireCycle];

impl Event {
    /// Its name in LATENCY's replies.
    pub fn name(self) -> &'static str {
        match self {
            Event::Command => "command",
            Event::FastCommand => "fast-command",
            Event::ExpireCycle => "expire-cycle",
        }
    }

    fn named(name: &[u8]) -> Option<Event> {
        EVENTS.into_iter().find(|e| e.name().as_bytes() == name)
    }
}

/// One second's largest latency of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sample {
    /// Unix seconds; 0: an unused slot.
    time: u64,
    /// Milliseconds.
    latency: u64,
}

/// An event's samples, a ring of [`SAMPLES`] (Redis's `latencyTimeSeries`).
#[derive(Debug, Clone)]
struct Series {
    /// The slot the next sample goes to.
    next: usize,
    /// The largest latency ever recorded.
    max: u64,
    samples: [Sample; SAMPLES],
}

impl Series {
    fn new() -> Self {
        Self {
            next: 0,
            max: 0,
            samples: [Sample::default(); SAMPLES],
        }
    }

    /// Redis's `latencyAddSample`: a second holds one sample, its largest.
    fn add(&mut self, latency: u64, now: u64) {
        self.max = self.max.max(latency);
        let previous = &mut self.samples[(self.next + SAMPLES - 1) % SAMPLES];
        if previous.time == now {
            previous.latency = previous.latency.max(latency);
            return;
        }
        self.samples[self.next] = Sample { time: now, latency };
        self.next = (self.next + 1) % SAMPLES;
    }

    /// The samples, oldest first.
    fn in_order(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..SAMPLES)
            .map(|j| self.samples[(self.next + j) % SAMPLES])
            .filter(|s| s.time != 0)
    }
}

thread_local! {
    /// This thread's series, by event.
    static MONITOR: RefCell<[Option<Box<Series>>; 3]> = const { RefCell::new([None, None, None]) };
}

/// Records `latency` ms of `event` at unix second `now` on this thread
/// (the caller checked the threshold).
pub fn add_sample(event: Event, latency: u64, now: u64) {
    MONITOR.with(|m| {
        m.borrow_mut()[event as usize]
            .get_or_insert_with(|| Box::new(Series::new()))
            .add(latency, now)
    });
}

/// Records `latency` ms of `event` now if it reaches
/// `latency-monitor-threshold` (Redis's `latencyAddSampleIfNeeded`).
pub fn add_sample_if_needed(event: Event, latency: u64) {
    let threshold = crate::SETTINGS.latency_monitor_threshold.load(Relaxed);
    if threshold != 0 && latency >= threshold {
        add_sample(event, latency, store::now_millis() / 1000);
    }
}

/// LATENCY's subcommands, their arities and flags.
pub(crate) const SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("graph", 3).admin(),
    sub("history", 3).admin(),
    sub("latest", 2).admin(),
    sub("reset", -2).admin(),
    sub("help", 2),
];

/// Redis 7.0's LATENCY HELP, cut down to the subcommands Mayfly has.
const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HELP",
    "    Prints this help.",
];

/// One thread's part of a LATENCY call, for [`latency_reply`] to merge.
#[derive(Debug, Default)]
pub struct LatencyPart {
    /// The thread's series, by event (a copy; none for RESET).
    series: [Option<Box<Series>>; 3],
    /// RESET: the events that had a series here, a bit each.
    reset: u8,
}

/// LATENCY's part on one shard (the server runs it on every shard, this
/// one included, then [`latency_reply`]): RESET resets this thread's
/// series of the events named (all without a name) and tells which
/// existed; any other subcommand takes a copy of its series.
pub fn latency_part(args: &Args) -> LatencyPart {
    let sub = args.iter().nth(1).unwrap_or_default();
    MONITOR.with(|m| {
        let mut monitor = m.borrow_mut();
        let mut part = LatencyPart::default();
        if sub.eq_ignore_ascii_case(b"reset") {
            for (i, series) in monitor.iter_mut().enumerate() {
                let named = args.len() == 2
                    || args
                        .iter()
                        .skip(2)
                        .any(|a| Event::named(a) == Some(EVENTS[i]));
                if named && series.take().is_some() {
                    part.reset |= 1 << i;
                }
            }
        } else {
            part.series = (*monitor).clone();
        }
        part
    })
}

/// One event's series merged over every shard.
#[derive(Debug, Default, PartialEq, Eq)]
struct Merged {
    max: u64,
    /// The latest sample of each shard's series.
    latest: Sample,
    /// Every sample, at most one per second (the largest), oldest first.
    history: Vec<Sample>,
}

/// Merges every shard's series, by event.
fn merge(parts: &[LatencyPart]) -> [Option<Merged>; 3] {
    let mut merged: [Option<Merged>; 3] = [None, None, None];
    for part in parts {
        for (slot, series) in merged.iter_mut().zip(&part.series) {
            let Some(series) = series else {
                continue;
            };
            let m = slot.get_or_insert_with(Merged::default);
            m.max = m.max.max(series.max);
            let first = m.history.len();
            m.history.extend(series.in_order());
            if let Some(&last) = m.history[first..].last() {
                if (last.time, last.latency) > (m.latest.time, m.latest.latency) {
                    m.latest = last;
                }
            }
        }
    }
    for m in merged.iter_mut().flatten() {
        m.history
            .sort_by_key(|s| (s.time, std::cmp::Reverse(s.latency)));
        m.history.dedup_by_key(|s| s.time);
        let excess = m.history.len().saturating_sub(SAMPLES);
        m.history.drain(..excess);
    }
    merged
}

/// LATENCY LATEST | HISTORY event | RESET [event ...] | HELP, from every
/// shard's part (see [`latency_part`]); the subcommand and its argument
/// count were checked before.
pub fn latency_reply(args: &Args, parts: &[LatencyPart], enc: &mut ReplyEncoder) {
    let sub = args.iter().nth(1).unwrap_or_default().to_ascii_lowercase();
    match sub.as_slice() {
        b"latest" => {
            let merged = merge(parts);
            enc.array_len(merged.iter().flatten().count());
            for (event, m) in EVENTS.iter().zip(&merged) {
                if let Some(m) = m {
                    enc.array_len(4);
                    enc.bulk(event.name().as_bytes());
                    enc.integer(m.latest.time as i64);
                    enc.integer(m.latest.latency as i64);
                    enc.integer(m.max as i64);
                }
            }
        }
        b"history" => {
            let merged = merge(parts);
            let history = Event::named(args.get(2))
                .and_then(|e| merged[e as usize].as_ref())
                .map_or(&[][..], |m| &m.history);
            enc.array_len(history.len());
            for s in history {
                enc.array_len(2);
                enc.integer(s.time as i64);
                enc.integer(s.latency as i64);
            }
        }
        b"graph" => {
            let merged = merge(parts);
            let event = Event::named(args.get(2));
            match event.and_then(|e| merged[e as usize].as_ref().map(|m| (e, m))) {
                Some((event, m)) => {
                    let now = store::now_millis() / 1000;
                    enc.verbatim("txt", graph(event.name(), m, now).as_bytes());
                }
                None => reply_error(
                    enc,
                    &CommandError::Other(format!(
                        "ERR No samples available for event '{}'",
                        String::from_utf8_lossy(args.get(2))
                    )),
                ),
            }
        }
        b"reset" => {
            let reset = parts.iter().fold(0, |all, p| all | p.reset);
            enc.integer(i64::from(reset.count_ones()));
        }
        b"help" => crate::client::reply_help(enc, HELP),
        _ => reply_error(enc, &subcommand_syntax_error(args)),
    }
}

/// Columns of LATENCY GRAPH (`LATENCY_GRAPH_COLS`).
const GRAPH_COLUMNS: usize = 80;
/// Rows of its sparkline.
const GRAPH_ROWS: usize = 4;
/// The sparkline's characters from low to high, per row (`charset_fill`).
const SPARK: [u8; 3] = *b"_o#";

/// LATENCY GRAPH's text for an event's samples at unix second `now`, as
/// Redis's `latencyCommandGenSparkeline` and `sparklineRender` draw it: a
/// title, a rule, then per 80 samples a 4-row sparkline (filled, linear)
/// over how long ago each sample was, written downwards (`12s`, `3m`, `1h`).
fn graph(event: &str, m: &Merged, now: u64) -> String {
    let values: Vec<u64> = m.history.iter().map(|s| s.latency).collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        m.max,
        "-".repeat(GRAPH_COLUMNS)
    );
    let labels: Vec<String> = m
        .history
        .iter()
        .map(|s| {
            let ago = now.saturating_sub(s.time);
            match ago {
                0..60 => format!("{ago}s"),
                60..3600 => format!("{}m", ago / 60),
                3600..86400 => format!("{}h", ago / 3600),
                _ => format!("{}d", ago / 86400),
            }
        })
        .collect();
    let range = (high - low) as f64;
    let range = if range == 0.0 { 1.0 } else { range };
    let steps = SPARK.len() * GRAPH_ROWS;
    let step = |value: u64| {
        let step = (((value - low) as f64 * steps as f64) as i64) as f64 / range;
        (step as usize).min(steps - 1)
    };
    for (chunk, first) in (0..values.len()).step_by(GRAPH_COLUMNS).enumerate() {
        if chunk > 0 {
            out.push('\n');
        }
        let columns = first..(first + GRAPH_COLUMNS).min(values.len());
        for row in 0..GRAPH_ROWS {
            let line: String = columns
                .clone()
                .map(|j| {
                    let below = (GRAPH_ROWS - row - 1) * SPARK.len();
                    match step(values[j]).checked_sub(below) {
                        Some(l) if l < SPARK.len() => char::from(SPARK[l]),
                        Some(_) => '|',
                        None => ' ',
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        // A blank row, then the labels downwards, as long as one lasts.
        out.push_str(&" ".repeat(columns.len()));
        out.push('\n');
        let longest = columns.clone().map(|j| labels[j].len()).max().unwrap_or(0);
        for i in 0..longest {
            let line: String = columns
                .clone()
                .map(|j| labels[j].as_bytes().get(i).map_or(' ', |&c| char::from(c)))
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run_connection;
    use resp::Protocol;

    /// Runs LATENCY over this thread's part.
    fn latency(parts: &[&str]) -> String {
        String::from_utf8_lossy(&run_connection(parts).0).into_owned()
    }

    #[test]
    fn one_sample_per_second_the_largest() {
        add_sample(Event::Command, 150, 1000);
        add_sample(Event::Command, 120, 1000);
        add_sample(Event::Command, 180, 1000);
        add_sample(Event::Command, 110, 1001);
        assert_eq!(
            latency(&["LATENCY", "HISTORY", "command"]),
            "*2\r\n*2\r\n:1000\r\n:180\r\n*2\r\n:1001\r\n:110\r\n"
        );
        assert_eq!(
            latency(&["latency", "latest"]),
            "*1\r\n*4\r\n$7\r\ncommand\r\n:1001\r\n:110\r\n:180\r\n"
        );
        assert_eq!(latency(&["LATENCY", "HISTORY", "nope"]), "*0\r\n");
        assert_eq!(
            latency(&["LATENCY", "RESET", "nope", "command", "command"]),
            ":1\r\n"
        );
        assert_eq!(latency(&["LATENCY", "LATEST"]), "*0\r\n");
    }

    #[test]
    fn a_ring_of_160_samples() {
        for t in 1..=200 {
            add_sample(Event::ExpireCycle, t, t);
        }
        let history = latency(&["LATENCY", "HISTORY", "expire-cycle"]);
        assert!(
            history.starts_with("*160\r\n*2\r\n:41\r\n:41\r\n"),
            "{history}"
        );
        assert!(history.ends_with("*2\r\n:200\r\n:200\r\n"));
        assert_eq!(latency(&["LATENCY", "RESET"]), ":1\r\n");
    }

    #[test]
    fn shards_merge_latest_max_and_history() {
        let part = |samples: &[(Event, u64, u64)]| {
            let mut part = LatencyPart::default();
            for &(event, time, latency) in samples {
                part.series[event as usize]
                    .get_or_insert_with(|| Box::new(Series::new()))
                    .add(latency, time);
            }
            part
        };
        let (command, expire) = (Event::Command, Event::ExpireCycle);
        let parts = [
            // command: max 300, samples (10, 300), (12, 100); expire-cycle: (11, 5)
            part(&[(command, 10, 300), (command, 12, 100), (expire, 11, 5)]),
            // command: max 200, samples (11, 200), (12, 150)
            part(&[(command, 11, 200), (command, 12, 150)]),
        ];
        let reply = |sub: &[&str]| {
            let mut out = Vec::new();
            let args = Args::from_slices(sub);
            latency_reply(
                &args,
                &parts,
                &mut ReplyEncoder::new(&mut out, Protocol::Resp3),
            );
            String::from_utf8_lossy(&out).into_owned()
        };
        assert_eq!(
            reply(&["LATENCY", "LATEST"]),
            "*2\r\n*4\r\n$7\r\ncommand\r\n:12\r\n:150\r\n:300\r\n\
             *4\r\n$12\r\nexpire-cycle\r\n:11\r\n:5\r\n:5\r\n"
        );
        assert_eq!(
            reply(&["LATENCY", "HISTORY", "command"]),
            "*3\r\n*2\r\n:10\r\n:300\r\n*2\r\n:11\r\n:200\r\n*2\r\n:12\r\n:150\r\n"
        );
        assert_eq!(reply(&["LATENCY", "HISTORY", "fast-command"]), "*0\r\n");
    }

    #[test]
    fn graph_as_redis_draws_it() {
        let sample = |time, latency| Sample { time, latency };
        let m = Merged {
            max: 500,
            latest: sample(102, 250),
            history: vec![sample(100, 100), sample(101, 400), sample(102, 250)],
        };
        assert_eq!(
            graph("command", &m, 104),
            format!(
                "command - high 400 ms, low 100 ms (all time high 500 ms)\n{}\n \
                 # \n |_\n ||\n_||\n   \n432\nsss\n",
                "-".repeat(80)
            )
        );
        // 81 samples: two ranges of columns; a flat series sits at the bottom.
        let m = Merged {
            max: 7,
            latest: sample(180, 7),
            history: (100..181).map(|t| sample(t, 7)).collect(),
        };
        let text = graph("expire-cycle", &m, 180 + 3600);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "expire-cycle - high 7 ms, low 7 ms (all time high 7 ms)"
        );
        assert_eq!(lines[5], "_".repeat(80));
        assert_eq!(lines[7], "1".repeat(80));
        assert_eq!(lines[8], "h".repeat(80));
        assert_eq!(lines[9], "");
        assert_eq!(&lines[10..], [" ", " ", " ", "_", " ", "1", "h"]);
    }

    #[test]
    fn help_and_syntax_error() {
        assert!(latency(&["LATENCY", "HELP"]).starts_with(
            "*12\r\n+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
    }
}
