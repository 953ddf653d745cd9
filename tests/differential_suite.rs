//! Mayfly's differential suite: the hand-written corpus in `tests/corpus/*.txt`
//! and a long seeded random command sequence, each run against a real
//! `redis-server` (the oracle) and Mayfly (`--threads 2`) side by side, with
//! every reply compared byte for byte. Differences are collected, not fatal
//! one by one: each test fails at the end with a summary grouped by command,
//! so one run shows everything that differs.
//!
//! Needs `redis-server` on PATH; without it the tests say so and pass, unless
//! `CI` is set, where they fail (see [`RedisServer::start`]).
//!
//! Environment: `MAYFLY_DIFF_SEED` (decimal or `0x` hex) replays a random
//! run; `MAYFLY_DIFF_COUNT` changes its number of commands.
//!
//! The corpus files use tests/differential.rs's script format: one command
//! per line, split like redis-cli does ([`split_args`]), `#` comment lines, a
//! `~` prefix for a reply that is not compared (its reason in a comment
//! above it), and a `?` prefix for a reply whose shape only is compared
//! (see [`Check::Shape`]). Each file runs on a fresh pair of servers.
//!
//! The few replies that two correct servers may legitimately answer
//! differently are normalised in [`same_reply`] and [`scan_to_end`], each
//! with its reason; nothing else is.

#[macro_use]
mod common;

use common::{parse_value, show, split_args, Client, RedisServer, Server, Value};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Redis must allow DEBUG (SLEEP, SET-ACTIVE-EXPIRE, OBJECT) as Mayfly does.
const REDIS_ARGS: &[&str] = &["--enable-debug-command", "yes"];
/// Mayfly with two shards, so that about half of any key pair lands apart.
const MAYFLY_ARGS: &[&str] = &["--threads", "2"];

/// How a corpus line's reply is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Byte for byte (after [`same_reply`]'s per-command rules).
    Exact,
    /// `~`: sent to both, reply not compared.
    Skip,
    /// `?`: every run of decimal digits becomes `0` on both sides first, so
    /// ids, ports, file descriptors, clocks and sizes do not count, but the
    /// reply's type, fields and words do.
    Shape,
}

/// One difference between the servers, with what a reader needs to find it.
struct Mismatch {
    /// The command (and subcommand) it is grouped under.
    group: String,
    /// The command, both replies and where it happened.
    detail: String,
}

/// `GET`, or `CLIENT SETNAME` for commands with subcommands.
fn group_of(args: &[Vec<u8>]) -> String {
    let word = |a: &Vec<u8>| String::from_utf8_lossy(a).to_uppercase();
    let Some(name) = args.first().map(word) else {
        return "<empty>".into();
    };
    match (name.as_str(), args.get(1)) {
        ("CLIENT" | "OBJECT" | "CONFIG" | "DEBUG" | "MEMORY", Some(sub)) => {
            format!("{name} {}", word(sub))
        }
        _ => name,
    }
}

/// A command as a reader would type it: arguments shown escaped.
fn show_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.iter()
                    .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
            if plain {
                String::from_utf8_lossy(a).into_owned()
            } else {
                show(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces every run of ASCII digits with a single `0`.
fn digits_to_zero(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_digits = false;
    for &b in bytes {
        if b.is_ascii_digit() {
            if !in_digits {
                out.push(b'0');
            }
            in_digits = true;
        } else {
            out.push(b);
            in_digits = false;
        }
    }
    out
}

fn decode(reply: &[u8]) -> Option<Value> {
    // Replies come from Client, which checked that each is well formed.
    Some(parse_value(reply))
}

fn int_reply(reply: &[u8]) -> Option<i64> {
    match decode(reply)? {
        Value::Int(n) => Some(n),
        _ => None,
    }
}

/// The elements of an array reply, sorted.
fn sorted_elements(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    match decode(reply)? {
        Value::Array(items) => {
            let mut keys: Vec<Vec<u8>> = items
                .into_iter()
                .map(|item| item.as_bytes().map(<[u8]>::to_vec))
                .collect::<Option<_>>()?;
            keys.sort();
            Some(keys)
        }
        _ => None,
    }
}

/// Whether `redis` and `mayfly` count as the same reply to `args`. Every rule
/// besides byte equality is a difference two correct servers may show, with
/// its reason next to it. `random` is set for the random run.
fn same_reply(args: &[Vec<u8>], check: Check, random: bool, redis: &[u8], mayfly: &[u8]) -> bool {
    if redis == mayfly || check == Check::Skip {
        return true;
    }
    if check == Check::Shape {
        return digits_to_zero(redis) == digits_to_zero(mayfly);
    }
    let group = group_of(args);
    let close = |tolerance: i64| match (int_reply(redis), int_reply(mayfly)) {
        // -1 (no TTL) and -2 (no key) are exact answers.
        (Some(a), Some(b)) if a >= 0 && b >= 0 => (a - b).abs() <= tolerance,
        _ => false,
    };
    match group.as_str() {
        // The two servers read their clocks a moment apart, and each rounds
        // milliseconds to seconds on its own: allow one second either way.
        "TTL" | "EXPIRETIME" => close(1),
        "PTTL" | "PEXPIRETIME" => close(1000),
        // KEYS lists keys in hash-table order, which depends on each server's
        // table layout (and Mayfly's shards): compare the keys as a set.
        "KEYS" => matches!(
            (sorted_elements(redis), sorted_elements(mayfly)),
            (Some(a), Some(b)) if a == b
        ),
        // RANDOMKEY picks any key; the random run cannot know which one
        // either server picks, only that both found one. (The corpus uses it
        // only on empty and single-key databases, and compares exactly.)
        "RANDOMKEY" if random => matches!(
            (decode(redis), decode(mayfly)),
            (Some(Value::Bulk(_)), Some(Value::Bulk(_)))
        ),
        // MEMORY USAGE reports allocator-specific byte counts (Redis asks
        // jemalloc; Mayfly counts its own structures): only check that both
        // answer an integer.
        "MEMORY USAGE" => int_reply(redis).is_some() && int_reply(mayfly).is_some(),
        _ => false,
    }
}

/// For a SCAN that started at cursor 0 and got a page back: follows the
/// cursor to the end and returns every key seen, sorted and deduplicated.
/// SCAN cursors and page boundaries are positions in each server's own hash
/// tables, so only the union over a full iteration is comparable (keys that
/// exist throughout must all be there, and nothing else). `None` when the
/// reply is not a page (an error, say): then it is compared as is.
fn scan_to_end(
    client: &mut Client,
    args: &[Vec<u8>],
    first: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    if args.get(1).map(Vec::as_slice) != Some(b"0".as_slice()) {
        return Ok(None);
    }
    let page = |reply: &[u8]| -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
        match decode(reply)? {
            Value::Array(mut items) if items.len() == 2 => {
                let keys = items.pop()?;
                let cursor = items.pop()?.as_bytes()?.to_vec();
                let Value::Array(keys) = keys else {
                    return None;
                };
                let keys = keys
                    .into_iter()
                    .map(|k| k.as_bytes().map(<[u8]>::to_vec))
                    .collect::<Option<Vec<_>>>()?;
                Some((cursor, keys))
            }
            _ => None,
        }
    };
    let Some((mut cursor, mut keys)) = page(first) else {
        return Ok(None);
    };
    let mut next = args.to_vec();
    let mut calls = 1;
    while cursor != b"0" {
        calls += 1;
        if calls > 100_000 {
            return Err(format!("SCAN did not finish after {calls} calls"));
        }
        next[1] = cursor;
        client.send(&next);
        let reply = client
            .try_read_reply()
            .map_err(|e| format!("<no reply to {}: {e}>", show_args(&next)))?;
        let Some((c, more)) = page(&reply) else {
            return Err(format!("{} replied {}", show_args(&next), show(&reply)));
        };
        cursor = c;
        keys.extend(more);
    }
    keys.sort();
    keys.dedup();
    let mut out = b"keys over the whole iteration: ".to_vec();
    for key in keys {
        out.extend_from_slice(show(&key).as_bytes());
        out.push(b' ');
    }
    Ok(Some(out))
}

/// Builds the failure message: counts, the first difference in full, then
/// one example per command, the commands with the most differences first.
fn summary(what: &str, seed: Option<u64>, compared: usize, mismatches: &[Mismatch]) -> String {
    let mut groups: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for m in mismatches {
        groups.entry(&m.group).or_insert((0, &m.detail)).0 += 1;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let seed = seed.map(|s| format!(" (seed {s:#x})")).unwrap_or_default();
    let mut out = format!(
        "{what}{seed}: {} of {compared} replies differ from Redis, in {} commands:\n",
        mismatches.len(),
        groups.len()
    );
    for (group, (count, _)) in &groups {
        out.push_str(&format!("  {count:6}  {group}\n"));
    }
    if let Some(first) = mismatches.first() {
        out.push_str(&format!(
            "\nThe first difference (later ones may follow from it):\n{}\n",
            first.detail
        ));
    }
    out.push_str("\nOne example per command:\n");
    for (group, (count, detail)) in &groups {
        out.push_str(&format!("== {group} ({count}):\n{detail}\n"));
    }
    out
}

/// Straight to stderr, past the test harness's capture, so it is always seen.
fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

// ---------------------------------------------------------------------------
// The corpus

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// One command line of a corpus file.
struct Case {
    line: usize,
    text: String,
    check: Check,
    args: Vec<Vec<u8>>,
}

fn parse_corpus(text: &str) -> Vec<Case> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (check, command) = match line.as_bytes()[0] {
                b'~' => (Check::Skip, &line[1..]),
                b'?' => (Check::Shape, &line[1..]),
                _ => (Check::Exact, line),
            };
            Some(Case {
                line: i + 1,
                text: line.to_string(),
                check,
                args: split_args(command),
            })
        })
        .collect()
}

/// Tracks CLIENT REPLY, which decides whether a command gets a reply.
#[derive(Default)]
struct ReplyMode {
    off: bool,
    skip_next: bool,
}

impl ReplyMode {
    /// Whether `args` will be answered, updating the mode as Redis does.
    fn expects_reply(&mut self, args: &[Vec<u8>]) -> bool {
        let mut answered = !self.off && !self.skip_next;
        self.skip_next = false;
        let word = |i: usize| args.get(i).map(|a| a.to_ascii_uppercase());
        if args.len() == 3
            && word(0).as_deref() == Some(b"CLIENT")
            && word(1).as_deref() == Some(b"REPLY")
        {
            match word(2).as_deref() {
                Some(b"ON") => {
                    self.off = false;
                    answered = true;
                }
                Some(b"OFF") => {
                    self.off = true;
                    answered = false;
                }
                Some(b"SKIP") if !self.off => {
                    self.skip_next = true;
                    answered = false;
                }
                _ => {}
            }
        }
        answered
    }
}

/// How long a silenced command is watched for an unexpected reply.
const SILENCE: Duration = Duration::from_millis(50);

/// Runs one corpus file on a fresh pair of servers; returns the number of
/// compared replies and the differences.
fn run_corpus_file(path: &Path, redis: RedisServer) -> (usize, Vec<Mismatch>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {name}: {e}"));
    let mayfly = Server::start(MAYFLY_ARGS);
    let mut r = redis.client();
    let mut m = mayfly.client();
    for client in [&mut r, &mut m] {
        assert_eq!(client.cmd(&["FLUSHALL"]), b"+OK\r\n", "{name}: FLUSHALL");
    }
    let mut mode = ReplyMode::default();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for case in parse_corpus(&text) {
        let at = format!("{name}:{}: {}", case.line, case.text);
        let differ = |redis: &[u8], mayfly: &[u8]| Mismatch {
            group: group_of(&case.args),
            detail: format!(
                "{at}\n     redis: {}\n    mayfly: {}",
                show(redis),
                show(mayfly)
            ),
        };
        r.send(&case.args);
        m.send(&case.args);
        if !mode.expects_reply(&case.args) {
            // A reply that should not come is reported (and, read whole,
            // leaves the connection in step); a failed read ends the file.
            let mut broken = false;
            for (side, client) in [("redis", &mut r), ("mayfly", &mut m)] {
                if let Some(reply) = client.reply_within(SILENCE) {
                    broken |= reply.is_err();
                    let got = reply.map(|b| show(&b)).unwrap_or_else(|e| format!("<{e}>"));
                    mismatches.push(Mismatch {
                        group: group_of(&case.args),
                        detail: format!(
                            "{at}\n    {side} replied {got}, but CLIENT REPLY silenced it"
                        ),
                    });
                }
            }
            if broken {
                break;
            }
            continue;
        }
        let (from_redis, from_mayfly) = match (r.try_read_reply(), m.try_read_reply()) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let side = |x: Result<Vec<u8>, std::io::Error>| match x {
                    Ok(bytes) => show(&bytes),
                    Err(e) => format!("<no reply: {e}>"),
                };
                mismatches.push(Mismatch {
                    group: group_of(&case.args),
                    detail: format!(
                        "{at}\n     redis: {}\n    mayfly: {}\n    (the connections are out of step: the rest of {name} was not run)",
                        side(a),
                        side(b)
                    ),
                });
                break;
            }
        };
        if case.check == Check::Skip {
            continue;
        }
        compared += 1;
        if group_of(&case.args) == "SCAN" && case.check == Check::Exact {
            match (
                scan_to_end(&mut r, &case.args, &from_redis),
                scan_to_end(&mut m, &case.args, &from_mayfly),
            ) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    if a != b {
                        mismatches.push(differ(&a, &b));
                    }
                    continue;
                }
                (Ok(None), Ok(None)) => {}
                (a, b) => {
                    let side = |x: Result<Option<Vec<u8>>, String>, first: &[u8]| match x {
                        Ok(Some(keys)) => show(&keys),
                        Ok(None) => show(first),
                        Err(e) => e,
                    };
                    mismatches.push(Mismatch {
                        group: "SCAN".into(),
                        detail: format!(
                            "{at}\n     redis: {}\n    mayfly: {}",
                            side(a, &from_redis),
                            side(b, &from_mayfly)
                        ),
                    });
                    continue;
                }
            }
        }
        if !same_reply(&case.args, case.check, false, &from_redis, &from_mayfly) {
            mismatches.push(differ(&from_redis, &from_mayfly));
        }
    }
    (compared, mismatches)
}

#[test]
fn corpus_replies_match_redis() {
    let files = corpus_files();
    let cases: usize = files
        .iter()
        .map(|f| parse_corpus(&std::fs::read_to_string(f).expect("read corpus")).len())
        .sum();
    assert!(cases >= 600, "the corpus has only {cases} cases");
    // One fresh pair of servers per file, the files side by side.
    let mut redis_servers = Vec::new();
    for _ in &files {
        let Some(redis) = RedisServer::start_with(REDIS_ARGS) else {
            return;
        };
        redis_servers.push(redis);
    }
    let results: Vec<(usize, Vec<Mismatch>)> = thread::scope(|scope| {
        let runs: Vec<_> = files
            .iter()
            .zip(redis_servers)
            .map(|(file, redis)| scope.spawn(move || run_corpus_file(file, redis)))
            .collect();
        runs.into_iter()
            .zip(&files)
            .map(|(run, file)| {
                run.join().unwrap_or_else(|_| {
                    (
                        0,
                        vec![Mismatch {
                            group: "<harness>".into(),
                            detail: format!("{}: the run panicked (see above)", file.display()),
                        }],
                    )
                })
            })
            .collect()
    });
    let compared = results.iter().map(|r| r.0).sum();
    let mismatches: Vec<Mismatch> = results.into_iter().flat_map(|r| r.1).collect();
    if !mismatches.is_empty() {
        panic!("{}", summary("corpus", None, compared, &mismatches));
    }
}

// ---------------------------------------------------------------------------
// The random run

/// SplitMix64: small, self-contained, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed the random run uses unless `MAYFLY_DIFF_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x6d61_7966_6c79; // "mayfly"
/// How many random commands run unless `MAYFLY_DIFF_COUNT` says otherwise.
const DEFAULT_COUNT: usize = 24_000;
/// Commands per pipelined batch.
const BATCH: usize = 200;
/// The run is paced over this many rounds, one per second, so that keys
/// given the next seconds as deadlines do expire during the run.
const ROUNDS: usize = 5;
/// How many earlier commands a mismatch shows.
const HISTORY: usize = 6;

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a number")))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

// Expiry and timing. A key whose deadline falls between the moments the two
// servers run the same command would legitimately differ, so:
// * relative TTLs are long (>= 100 s, far beyond the run; drawn from a wide
//   range so that GT / LT never compare two of the same length set a moment
//   apart) or not positive (an immediate deletion, or an error);
// * short TTLs are absolute deadlines on whole seconds ("boundaries") a
//   second or three ahead, and no batch runs from GUARD_BEFORE before a
//   boundary until GUARD_AFTER after it (by then Redis's active expiry has
//   reclaimed the keys too, which DBSIZE counts until it does);
// * SET never gets an absolute deadline already past: Redis 7.0 stores such a
//   key and leaves it to expiry (DBSIZE counts it meanwhile), where GETEX and
//   EXPIREAT delete it at once.
const GUARD_BEFORE: u64 = 50;
const GUARD_AFTER: u64 = 250;

/// How long to wait before a batch expected to take `estimate` ms may start
/// at `now` without coming near a boundary; 0 when it may start now.
fn guard_wait(now: u64, estimate: u64) -> u64 {
    let last = now / 1000 * 1000;
    if now < last + GUARD_AFTER {
        return last + GUARD_AFTER - now;
    }
    let next = last + 1000;
    if now + estimate + GUARD_BEFORE >= next {
        return next + GUARD_AFTER - now;
    }
    0
}

/// Whether a batch that ran from `start` to `end` came near a boundary.
fn near_boundary(start: u64, end: u64) -> bool {
    let first = start / 1000 * 1000;
    [first, first + 1000, first + 2000]
        .iter()
        .any(|&b| start < b + GUARD_AFTER && end + GUARD_BEFORE > b)
}

/// 20 keys: some plain, some sharing a hash tag, an empty and a binary one.
const KEYS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"d",
    b"e",
    b"f",
    b"g",
    b"h",
    b"i",
    b"j",
    b"counter",
    b"float",
    b"text",
    b"{t}a",
    b"{t}b",
    b"{t}c",
    b"{u}x",
    b"{u}y",
    b"",
    b"k\x00\xff",
];
const VALUES: &[&[u8]] = &[
    b"",
    b"v",
    b"hello",
    b"hello world",
    b"0",
    b"1",
    b"-1",
    b"42",
    b"007",
    b"9999",
    b"10000",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"3.14",
    b"1e3",
    b" 7",
    b"abc\x00def\xff",
    b"ohmytext",
    b"mynewtext",
    b"10.5",
    b"inf",
    b"-0",
    b"12345678901234567890123456789012345678901234",
    b"123456789012345678901234567890123456789012345",
];
const INTEGERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "7",
    "-100",
    "1000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "99999999999999999999",
    "abc",
    "1.5",
    "",
    " 1",
    "+1",
    "0x10",
];
const FLOATS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.1",
    "1.5",
    "-2.25",
    "1e3",
    "5.0e-3",
    "1e308",
    "-1e308",
    "inf",
    "nan",
    "abc",
    "",
    "3.0",
    "1e-5",
    "10.5",
    "17179869184",
    "1.0000000000000002",
];
const RANGE_ENDS: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "-2",
    "-5",
    "3",
    "10",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
    "99999999999999999999",
];
/// Small offsets, and ones that fail. Never 536870911: with a one-byte value
/// that would build a 512 MB string (the corpus does that once).
const SETRANGE_OFFSETS: &[&str] = &[
    "0",
    "0",
    "1",
    "2",
    "5",
    "10",
    "20",
    "50",
    "100",
    "300",
    "-1",
    "abc",
    "1.5",
    "536870912",
    "9223372036854775807",
];
const NOT_POSITIVE_SECONDS: &[&str] = &["0", "-1", "-100"];
const BAD_SECONDS: &[&str] = &[
    "abc",
    "1.5",
    "",
    "9223372036854775807",
    "9223372036854775",
    "-9223372036854775808",
    "99999999999999999999",
];
const NOT_POSITIVE_MS: &[&str] = &["0", "-1", "-100000"];
const BAD_MS: &[&str] = &["abc", "1.5", "9223372036854775807", "9223372036854775000"];
const FAR_SECONDS: &[&str] = &["4102444800", "99999999999", "9223372036854775"];
const PAST_SECONDS: &[&str] = &["1", "0", "-5", "1000000000"];
const FAR_MS: &[&str] = &["4102444800000", "99999999999999", "9223372036854775807"];
const PAST_MS: &[&str] = &["1", "1000", "0", "-1", "-9223372036854775808"];
const DBS: &[&str] = &["0", "1", "2"];
const BAD_DBS: &[&str] = &["16", "-1", "abc", "99999999999999999999", ""];
const PATTERNS: &[&[u8]] = &[
    b"*",
    b"a*",
    b"?",
    b"[a-c]",
    b"[^a-c]",
    b"{t}*",
    b"\\{t\\}*",
    b"{u}?",
    b"*[",
    b"[",
    b"\\*",
    b"k\x00*",
    b"*o*",
    b"",
    b"[a-z][^a-z]*",
    b"c*r",
];

/// Generates random commands over [`KEYS`] in databases 0 to 2.
struct Generator {
    rng: Rng,
    /// The next boundary (unix seconds) ahead of the batch being generated.
    boundary: u64,
}

fn b(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

impl Generator {
    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(KEYS).to_vec()
    }

    fn keys(&mut self, most: usize) -> Vec<Vec<u8>> {
        let n = 1 + self.rng.below(most);
        (0..n).map(|_| self.key()).collect()
    }

    fn value(&mut self) -> Vec<u8> {
        if self.rng.chance(10) {
            let len = self.rng.below(80);
            vec![b'x'; len]
        } else {
            self.rng.pick(VALUES).to_vec()
        }
    }

    fn word(&mut self, words: &[&str]) -> Vec<u8> {
        let word = words[self.rng.below(words.len())];
        b(word)
    }

    /// A boundary a second or three ahead, in seconds.
    fn boundary_seconds(&mut self) -> Vec<u8> {
        b(&(self.boundary + self.rng.below(3) as u64).to_string())
    }

    fn boundary_ms(&mut self) -> Vec<u8> {
        b(&((self.boundary + self.rng.below(3) as u64) * 1000).to_string())
    }

    /// A relative TTL far beyond the run, drawn from a wide range: two
    /// deadlines of the same length set a moment apart would make GT / LT
    /// depend on whether a millisecond passed in between.
    fn long_seconds(&mut self) -> Vec<u8> {
        b(&(100 + self.rng.below(10_000_000)).to_string())
    }

    fn long_ms(&mut self) -> Vec<u8> {
        b(&(100_000 + self.rng.below(10_000_000_000)).to_string())
    }

    fn relative_seconds(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => self.long_seconds(),
            6..=7 => self.word(NOT_POSITIVE_SECONDS),
            _ => self.word(BAD_SECONDS),
        }
    }

    fn relative_ms(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => self.long_ms(),
            6..=7 => self.word(NOT_POSITIVE_MS),
            _ => self.word(BAD_MS),
        }
    }

    /// An absolute deadline in seconds; `past` allows ones already gone.
    fn absolute_seconds(&mut self, past: bool) -> Vec<u8> {
        match self.rng.below(10) {
            0..=4 => self.boundary_seconds(),
            5..=6 => self.word(FAR_SECONDS),
            7..=8 if past => self.word(PAST_SECONDS),
            _ => self.word(&[
                "abc",
                "9223372036854775807",
                "-9223372036854775808",
                "0",
                "-5",
            ]),
        }
    }

    fn absolute_ms(&mut self, past: bool) -> Vec<u8> {
        match self.rng.below(10) {
            0..=4 => self.boundary_ms(),
            5..=6 => self.word(FAR_MS),
            7..=8 if past => self.word(PAST_MS),
            _ => self.word(&["abc", "1.5", "0", "-1"]),
        }
    }

    /// SET/GETEX's expiry options: `EX s`, `PX ms`, `EXAT`, `PXAT`.
    fn expiry_option(&mut self, past_deadlines: bool) -> Vec<Vec<u8>> {
        match self.rng.below(4) {
            0 => vec![b("EX"), self.relative_seconds()],
            1 => vec![b("PX"), self.relative_ms()],
            2 => vec![b("EXAT"), self.absolute_seconds(past_deadlines)],
            _ => vec![b("PXAT"), self.absolute_ms(past_deadlines)],
        }
    }

    fn set(&mut self) -> Vec<Vec<u8>> {
        let mut cmd = vec![b("SET"), self.key(), self.value()];
        let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
        if self.rng.chance(30) {
            options.push(vec![self.word(&["NX", "XX", "nx", "xx"])]);
        }
        if self.rng.chance(30) {
            options.push(vec![self.word(&["GET", "get"])]);
        }
        match self.rng.below(10) {
            0..=3 => options.push(self.expiry_option(false)),
            4 => options.push(vec![b("KEEPTTL")]),
            _ => {}
        }
        if self.rng.chance(5) {
            // A conflicting or unknown option.
            options.push(vec![
                self.word(&["NX", "XX", "KEEPTTL", "PERSIST", "FOO", "EX"])
            ]);
        }
        // Options come in any order.
        for i in (1..options.len()).rev() {
            let j = self.rng.below(i + 1);
            options.swap(i, j);
        }
        cmd.extend(options.into_iter().flatten());
        cmd
    }

    fn getex(&mut self) -> Vec<Vec<u8>> {
        let mut cmd = vec![b("GETEX"), self.key()];
        match self.rng.below(10) {
            0..=1 => {}
            2..=6 => cmd.extend(self.expiry_option(true)),
            7..=8 => cmd.push(self.word(&["PERSIST", "persist"])),
            _ => {
                cmd.extend(self.expiry_option(true));
                cmd.push(self.word(&["PERSIST", "EX", "KEEPTTL", "FOO"]));
            }
        }
        cmd
    }

    fn expire(&mut self) -> Vec<Vec<u8>> {
        let (name, time) = match self.rng.below(4) {
            0 => ("EXPIRE", self.relative_seconds()),
            1 => ("PEXPIRE", self.relative_ms()),
            2 => ("EXPIREAT", self.absolute_seconds(true)),
            _ => ("PEXPIREAT", self.absolute_ms(true)),
        };
        let mut cmd = vec![b(name), self.key(), time];
        let flags = match self.rng.below(20) {
            0..=9 => 0,
            10..=17 => 1,
            _ => 2,
        };
        for _ in 0..flags {
            cmd.push(self.word(&["NX", "XX", "GT", "LT", "gt", "FOO"]));
        }
        cmd
    }

    fn lcs(&mut self) -> Vec<Vec<u8>> {
        let mut cmd = vec![b("LCS"), self.key(), self.key()];
        match self.rng.below(6) {
            0..=1 => {}
            2 => cmd.push(b("LEN")),
            3 => cmd.push(b("IDX")),
            4 => cmd.extend([
                b("IDX"),
                b("MINMATCHLEN"),
                self.word(&["0", "2", "4", "-1", "abc"]),
            ]),
            _ => {
                cmd.push(b("IDX"));
                if self.rng.chance(50) {
                    cmd.extend([b("MINMATCHLEN"), self.word(&["1", "3"])]);
                }
                cmd.push(b("WITHMATCHLEN"));
                if self.rng.chance(20) {
                    cmd.push(self.word(&["LEN", "FOO"]));
                }
            }
        }
        cmd
    }

    fn pairs(&mut self, name: &str) -> Vec<Vec<u8>> {
        let mut cmd = vec![b(name)];
        for _ in 0..1 + self.rng.below(4) {
            cmd.push(self.key());
            cmd.push(self.value());
        }
        cmd
    }

    fn db(&mut self) -> Vec<u8> {
        if self.rng.chance(8) {
            self.word(BAD_DBS)
        } else {
            self.word(DBS)
        }
    }

    fn scan(&mut self) -> Vec<Vec<u8>> {
        let mut cmd = vec![b("SCAN"), b("0")];
        if self.rng.chance(50) {
            cmd.extend([b("MATCH"), self.rng.pick(PATTERNS).to_vec()]);
        }
        if self.rng.chance(50) {
            cmd.extend([b("COUNT"), self.word(&["1", "2", "5", "100", "0", "abc"])]);
        }
        if self.rng.chance(25) {
            cmd.extend([b("TYPE"), self.word(&["string", "list", "STRING", "foo"])]);
        }
        cmd
    }

    /// One command; SCAN, which needs a full iteration, only when `scan`.
    fn command(&mut self, scan: bool) -> Vec<Vec<u8>> {
        let mut cmd = match self.rng.below(1000) {
            0..=89 => self.set(),
            90..=159 => vec![b("GET"), self.key()],
            160..=179 => vec![b("SETNX"), self.key(), self.value()],
            180..=199 => vec![
                b("SETEX"),
                self.key(),
                self.relative_seconds(),
                self.value(),
            ],
            200..=214 => vec![b("PSETEX"), self.key(), self.relative_ms(), self.value()],
            215..=234 => vec![b("GETSET"), self.key(), self.value()],
            235..=249 => vec![b("GETDEL"), self.key()],
            250..=289 => self.getex(),
            290..=314 => vec![b("APPEND"), self.key(), self.value()],
            315..=334 => vec![b("STRLEN"), self.key()],
            335..=354 => {
                let name = self.word(&["GETRANGE", "SUBSTR"]);
                vec![
                    name,
                    self.key(),
                    self.word(RANGE_ENDS),
                    self.word(RANGE_ENDS),
                ]
            }
            355..=374 => {
                let offset = self.word(SETRANGE_OFFSETS);
                vec![b("SETRANGE"), self.key(), offset, self.value()]
            }
            375..=404 => vec![self.word(&["INCR", "DECR"]), self.key()],
            405..=429 => {
                let name = self.word(&["INCRBY", "DECRBY"]);
                vec![name, self.key(), self.word(INTEGERS)]
            }
            430..=449 => vec![b("INCRBYFLOAT"), self.key(), self.word(FLOATS)],
            450..=464 => self.lcs(),
            465..=484 => {
                let mut cmd = vec![b("MGET")];
                cmd.extend(self.keys(5));
                cmd
            }
            485..=499 => self.pairs("MSET"),
            500..=509 => self.pairs("MSETNX"),
            510..=589 => self.expire(),
            590..=629 => vec![self.word(&["TTL", "PTTL"]), self.key()],
            630..=649 => vec![self.word(&["EXPIRETIME", "PEXPIRETIME"]), self.key()],
            650..=664 => vec![b("PERSIST"), self.key()],
            665..=699 => {
                let mut cmd = vec![self.word(&["DEL", "UNLINK", "EXISTS", "TOUCH"])];
                cmd.extend(self.keys(5));
                cmd
            }
            700..=714 => vec![b("TYPE"), self.key()],
            715..=734 => vec![self.word(&["RENAME", "RENAMENX"]), self.key(), self.key()],
            735..=749 => vec![b("MOVE"), self.key(), self.db()],
            750..=769 => {
                let mut cmd = vec![b("COPY"), self.key(), self.key()];
                if self.rng.chance(50) {
                    cmd.extend([b("DB"), self.db()]);
                }
                if self.rng.chance(40) {
                    cmd.push(b("REPLACE"));
                }
                if self.rng.chance(5) {
                    cmd.push(self.word(&["FOO", "DB", "REPLACE"]));
                }
                cmd
            }
            770..=779 => vec![b("SWAPDB"), self.db(), self.db()],
            780..=809 => vec![b("SELECT"), self.db()],
            810..=824 => vec![b("DBSIZE")],
            825..=839 => vec![b("KEYS"), self.rng.pick(PATTERNS).to_vec()],
            840..=849 if scan => self.scan(),
            840..=849 => vec![b("EXISTS"), self.key()],
            850..=857 => vec![b("RANDOMKEY")],
            858..=860 => {
                let mut cmd = vec![b("FLUSHDB")];
                if self.rng.chance(50) {
                    cmd.push(self.word(&["ASYNC", "SYNC", "FOO"]));
                }
                cmd
            }
            861 => vec![b("FLUSHALL"), self.word(&["ASYNC", "SYNC"])],
            862..=899 => {
                let sub = self.word(&["ENCODING", "ENCODING", "REFCOUNT", "FREQ", "encoding"]);
                vec![b("OBJECT"), sub, self.key()]
            }
            900..=914 => vec![b("MEMORY"), b("USAGE"), self.key()],
            // An unknown command, and commands with wrong arguments below.
            915..=919 => vec![b("NOSUCHCOMMAND"), self.word(&["a", "{t}b", ""])],
            _ => {
                let mut cmd = self.set();
                cmd[0] = self.word(&["GET", "STRLEN", "INCR", "TTL", "TYPE", "GETDEL"]);
                cmd
            }
        };
        if self.rng.chance(3) && cmd[0] != b"SCAN" {
            // Wrong arity or a stray argument.
            if self.rng.chance(50) && cmd.len() > 1 {
                cmd.pop();
            } else {
                cmd.push(self.word(&["junk", "1", "EX"]));
            }
        }
        cmd
    }
}

/// Sends `batch` to both servers at (nearly) the same moment, each pipelined
/// on its own thread, and returns both sides' replies.
fn exchange(
    r: &mut Client,
    m: &mut Client,
    batch: &[Vec<Vec<u8>>],
) -> [(Vec<Vec<u8>>, Option<std::io::Error>); 2] {
    let request: Vec<u8> = batch.iter().flat_map(|cmd| common::encode(cmd)).collect();
    let n = batch.len();
    thread::scope(|scope| {
        let to_redis = request.clone();
        let redis = scope.spawn(move || r.try_pipeline(to_redis, n));
        let mayfly = m.try_pipeline(request, n);
        let redis = redis
            .join()
            .unwrap_or_else(|_| (Vec::new(), Some(std::io::Error::other("reader panicked"))));
        [redis, mayfly]
    })
}

#[test]
fn random_commands_match_redis() {
    let seed = env_number("MAYFLY_DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("MAYFLY_DIFF_COUNT").map_or(DEFAULT_COUNT, |n| n as usize);
    let Some(redis) = RedisServer::start_with(REDIS_ARGS) else {
        return;
    };
    notice(&format!(
        "random differential run: seed {seed:#x}, {count} commands (MAYFLY_DIFF_SEED replays it)"
    ));
    let started = Instant::now();
    let mayfly = Server::start(MAYFLY_ARGS);
    let mut r = redis.client();
    let mut m = mayfly.client();
    for client in [&mut r, &mut m] {
        assert_eq!(client.cmd(&["FLUSHALL"]), b"+OK\r\n", "FLUSHALL");
    }
    let mut gen = Generator {
        rng: Rng(seed),
        boundary: 0,
    };
    let mut history: VecDeque<String> = VecDeque::new();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    let mut index = 0;
    let mut slowest_batch = 20;
    let per_round = count.div_ceil(ROUNDS);
    let mut pending_scan = None;
    'rounds: for round in 0..ROUNDS {
        if round > 0 {
            // Start each round just after a boundary has passed.
            let now = unix_ms();
            thread::sleep(Duration::from_millis(
                now / 1000 * 1000 + 1000 + GUARD_AFTER - now,
            ));
        }
        let round_end = count.min((round + 1) * per_round);
        while index < round_end {
            let wait = guard_wait(unix_ms(), slowest_batch * 2 + 10);
            if wait > 0 {
                thread::sleep(Duration::from_millis(wait));
            }
            let start = unix_ms();
            gen.boundary = start / 1000 + 1;
            // A SCAN runs alone (it iterates); one generated behind a batch
            // waits for the next.
            let mut batch: Vec<Vec<Vec<u8>>> = pending_scan.take().into_iter().collect();
            while batch.len() < BATCH && index + batch.len() < round_end {
                if batch.first().is_some_and(|cmd| cmd[0] == b"SCAN") {
                    break;
                }
                let cmd = gen.command(true);
                if cmd[0] == b"SCAN" && !batch.is_empty() {
                    pending_scan = Some(cmd);
                    break;
                }
                batch.push(cmd);
            }
            let in_step = exchange_and_compare(
                &mut r,
                &mut m,
                &batch,
                seed,
                index,
                start,
                &mut history,
                &mut mismatches,
            );
            compared += batch.len();
            index += batch.len();
            slowest_batch = slowest_batch.max(unix_ms() - start);
            if !in_step {
                break 'rounds;
            }
        }
    }
    notice(&format!(
        "random differential run: {compared} replies compared in {:.1} s, {} differ",
        started.elapsed().as_secs_f64(),
        mismatches.len()
    ));
    if !mismatches.is_empty() {
        panic!(
            "{}",
            summary("random run", Some(seed), compared, &mismatches)
        );
    }
    assert!(
        compared >= 20_000 || count < 20_000,
        "only {compared} commands ran"
    );
}

/// Runs one batch (or one SCAN, followed to its end) on both servers and
/// records the differences. False when the connections are out of step.
#[allow(clippy::too_many_arguments)]
fn exchange_and_compare(
    r: &mut Client,
    m: &mut Client,
    batch: &[Vec<Vec<u8>>],
    seed: u64,
    first_index: usize,
    start: u64,
    history: &mut VecDeque<String>,
    mismatches: &mut Vec<Mismatch>,
) -> bool {
    let [(from_redis, redis_error), (from_mayfly, mayfly_error)] = exchange(r, m, batch);
    let mut scanned = None;
    if let [cmd] = batch {
        if cmd[0] == b"SCAN" && from_redis.len() == 1 && from_mayfly.len() == 1 {
            scanned = Some((
                scan_to_end(r, cmd, &from_redis[0]),
                scan_to_end(m, cmd, &from_mayfly[0]),
            ));
        }
    }
    let timing = if near_boundary(start, unix_ms()) {
        "\n    (this batch ran close to an expiry boundary: the difference may be timing)"
    } else {
        ""
    };
    let context = |history: &VecDeque<String>, i: usize, cmd: &[Vec<u8>]| {
        let mut text = format!("seed {seed:#x}, command #{}:", first_index + i);
        for earlier in history {
            text.push_str(&format!("\n      {earlier}"));
        }
        text.push_str(&format!("\n    > {}", show_args(cmd)));
        text
    };
    for (i, cmd) in batch.iter().enumerate() {
        let (Some(a), Some(b)) = (from_redis.get(i), from_mayfly.get(i)) else {
            let why = |reply: Option<&Vec<u8>>, error: &Option<std::io::Error>| match (reply, error)
            {
                (Some(reply), _) => show(reply),
                (None, Some(e)) => format!("<no reply: {e}>"),
                (None, None) => "<no reply>".into(),
            };
            mismatches.push(Mismatch {
                group: group_of(cmd),
                detail: format!(
                    "{}\n     redis: {}\n    mayfly: {}\n    (the connections are out of step: the run stopped here)",
                    context(history, i, cmd),
                    why(from_redis.get(i), &redis_error),
                    why(from_mayfly.get(i), &mayfly_error)
                ),
            });
            return false;
        };
        let (a, b, same) = match &scanned {
            Some((Ok(Some(x)), Ok(Some(y)))) => (x.clone(), y.clone(), x == y),
            Some((x, y)) if !matches!((x, y), (Ok(None), Ok(None))) => {
                let side = |s: &Result<Option<Vec<u8>>, String>, first: &Vec<u8>| match s {
                    Ok(Some(keys)) => keys.clone(),
                    Ok(None) => first.clone(),
                    Err(e) => e.clone().into_bytes(),
                };
                (side(x, a), side(y, b), false)
            }
            _ => (
                a.clone(),
                b.clone(),
                same_reply(cmd, Check::Exact, true, a, b),
            ),
        };
        if !same {
            mismatches.push(Mismatch {
                group: group_of(cmd),
                detail: format!(
                    "{}\n     redis: {}\n    mayfly: {}{timing}",
                    context(history, i, cmd),
                    show(&a),
                    show(&b)
                ),
            });
        }
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(show_args(cmd));
    }
    true
}
