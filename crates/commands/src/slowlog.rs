//! The slow log (SLOWLOG GET / LEN / RESET / HELP): commands that took at
//! least `slowlog-log-slower-than` µs, newest first, at most
//! `slowlog-max-len`, as Redis's `slowlog.c`: each entry has an id, the
//! unix time, the duration in µs, the arguments (at most 32, the last
//! replaced by `... (N more arguments)`; each cut at 128 bytes with
//! `... (N more bytes)`; passwords replaced by `(redacted)`), and the
//! client's address and name.
//!
//! Each thread keeps the entries of its own clients (a thread-local: one
//! executor per thread, no locks). A key command that ran on another shard
//! is reported back with its batch's reply and entered by the client's
//! thread, which knows the client. Ids come from one process-wide counter,
//! touched only when a command is slow. The server asks every shard for
//! its part ([`slowlog_part`]) and merges them ([`slowlog_reply`]), newest
//! (highest id) first. A shard's entries are recorded once its batch has
//! run, so a client that renames itself later in the same pipeline shows
//! its new name on them.
//!
//! Redis trims its log to `slowlog-max-len` after every command while the
//! log is on (`slowlog-log-slower-than` not negative). Since ids are given
//! only to logged entries, the newest `max` entries of all threads are
//! exactly those with an id of at least the next id minus `max`: one
//! process-wide floor, raised when an entry is logged and when CONFIG SET
//! changes the settings ([`trim`]), tells every thread which of its entries
//! are gone, and each drops them when it records and when SLOWLOG asks it,
//! with no coordination. A lower `slowlog-max-len` drops entries at once; a
//! higher one brings none back.

use crate::error::{reply_error, subcommand_syntax_error};
use crate::number::parse_i64;
use crate::table::{sub, SubcommandSpec};
use crate::{Client, CommandError};
use resp::{Args, ReplyEncoder};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Arguments an entry keeps (`SLOWLOG_ENTRY_MAX_ARGC`).
const MAX_ARGS: usize = 32;
/// Bytes of an argument an entry keeps (`SLOWLOG_ENTRY_MAX_STRING`).
const MAX_ARG_BYTES: usize = 128;

/// The next entry's id, for every thread.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
/// The lowest id the log keeps: entries below it were trimmed away.
static KEEP_FROM: AtomicU64 = AtomicU64::new(0);

/// One slow command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id: u64,
    /// Unix seconds when it ended.
    time: u64,
    /// Microseconds it took.
    duration: u64,
    args: Vec<Vec<u8>>,
    /// The client's `ip:port`.
    addr: String,
    /// The client's name, or empty.
    name: Vec<u8>,
}

impl Entry {
    /// The entry as SLOWLOG GET replies it (the same in RESP2 and RESP3).
    fn encode(&self, enc: &mut ReplyEncoder) {
        enc.array_len(6);
        enc.integer(self.id as i64);
        enc.integer(self.time as i64);
        enc.integer(self.duration as i64);
        enc.array_len(self.args.len());
        for arg in &self.args {
            enc.bulk(arg);
        }
        enc.bulk(self.addr.as_bytes());
        enc.bulk(&self.name);
    }
}

thread_local! {
    /// This thread's entries, newest first.
    static LOG: RefCell<VecDeque<Entry>> = const { RefCell::new(VecDeque::new()) };
}

/// The floor of ids that keeps the newest `max_len` of the ids below
/// `next_id`.
fn floor(next_id: u64, max_len: u64) -> u64 {
    next_id.saturating_sub(max_len)
}

/// Raises the floor to keep the newest `slowlog-max-len` entries of those
/// logged before `next_id`.
fn raise_floor(next_id: u64) {
    let max_len = crate::SETTINGS.slowlog_max_len.load(Relaxed);
    KEEP_FROM.fetch_max(floor(next_id, max_len), Relaxed);
}

/// What Redis does to its slow log after every command: while the log is
/// on, it keeps only the newest `slowlog-max-len` entries. Only logging an
/// entry and CONFIG SET change what that keeps; CONFIG SET calls this.
pub(crate) fn trim() {
    if crate::SETTINGS.slowlog_log_slower_than.load(Relaxed) >= 0 {
        raise_floor(NEXT_ID.load(Relaxed));
    }
}

/// Drops the entries of `log` (newest first) below id `floor`.
fn drop_below(log: &mut VecDeque<Entry>, floor: u64) {
    while log.back().is_some_and(|e| e.id < floor) {
        log.pop_back();
    }
}

/// Enters `args`, run by `client` for `nanos` and ended at unix second
/// `time`, in this thread's slow log (the caller found it slow enough).
pub fn record(args: &Args, nanos: u64, time: u64, client: &Client) {
    let redacted = redacted(args);
    let kept = args.len().min(MAX_ARGS);
    let mut entry_args = Vec::with_capacity(kept);
    for (i, arg) in args.iter().take(kept).enumerate() {
        let arg = if kept != args.len() && i == kept - 1 {
            format!("... ({} more arguments)", args.len() - kept + 1).into_bytes()
        } else if redacted.contains(&i) {
            b"(redacted)".to_vec()
        } else if arg.len() > MAX_ARG_BYTES {
            let mut cut = arg[..MAX_ARG_BYTES].to_vec();
            cut.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes(),
            );
            cut
        } else {
            arg.to_vec()
        };
        entry_args.push(arg);
    }
    let id = NEXT_ID.fetch_add(1, Relaxed);
    raise_floor(id + 1);
    let entry = Entry {
        id,
        time,
        duration: nanos / 1000,
        args: entry_args,
        addr: client.addr.clone(),
        name: client.name.clone().unwrap_or_default(),
    };
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        log.push_front(entry);
        drop_below(&mut log, KEEP_FROM.load(Relaxed));
    });
}

/// The positions of the arguments that Redis hides from the slow log (and
/// from MONITOR) as `(redacted)`: AUTH's user and password (when it has at
/// most three arguments), HELLO's AUTH user and password (those read
/// before a bad option), and CONFIG SET's values of `requirepass`,
/// `masterauth` and `masteruser` (when its arguments come in pairs).
pub fn redacted(args: &Args) -> Vec<usize> {
    let name = args.get(0);
    let argc = args.len();
    let is = |i: usize, word: &str| args.get(i).eq_ignore_ascii_case(word.as_bytes());
    if name.eq_ignore_ascii_case(b"auth") {
        return if argc <= 3 {
            (1..argc).collect()
        } else {
            Vec::new()
        };
    }
    if name.eq_ignore_ascii_case(b"hello") {
        let mut hidden = Vec::new();
        if argc < 2 || !parse_i64(args.get(1)).is_some_and(|v| (2..=3).contains(&v)) {
            return hidden;
        }
        let mut j = 2;
        while j < argc {
            let more = argc - 1 - j;
            if is(j, "auth") && more >= 2 {
                hidden.extend([j + 1, j + 2]);
                j += 3;
            } else if is(j, "setname") && more >= 1 {
                j += 2;
            } else {
                break;
            }
        }
        return hidden;
    }
    if name.eq_ignore_ascii_case(b"config") && argc >= 4 && argc.is_multiple_of(2) && is(1, "set") {
        const SENSITIVE: [&str; 3] = ["requirepass", "masterauth", "masteruser"];
        return (2..argc)
            .step_by(2)
            .filter(|&i| SENSITIVE.iter().any(|p| is(i, p)))
            .map(|i| i + 1)
            .collect();
    }
    Vec::new()
}

/// SLOWLOG's subcommands, their arities and flags.
pub(crate) const SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("get", -2).admin(),
    sub("len", 2).admin(),
    sub("reset", 2).admin(),
    sub("help", 2),
];

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// What a SLOWLOG call asks.
enum Query {
    /// The newest `n` entries.
    Get(usize),
    Len,
    Reset,
    Help,
}

/// Parses SLOWLOG's arguments (the subcommand and its count were checked).
fn parse(args: &Args) -> Result<Query, CommandError> {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"get" if args.len() <= 3 => {
            let count = match args.iter().nth(2) {
                None => 10,
                Some(count) => match parse_i64(count) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {
                        return Err(CommandError::Other(
                            "ERR count should be greater than or equal to -1".into(),
                        ))
                    }
                },
            };
            Ok(Query::Get(count))
        }
        b"len" => Ok(Query::Len),
        b"reset" => Ok(Query::Reset),
        b"help" => Ok(Query::Help),
        _ => Err(subcommand_syntax_error(args)),
    }
}

/// One thread's part of a SLOWLOG call, for [`slowlog_reply`] to merge.
#[derive(Debug, Default)]
pub struct SlowLogPart {
    /// GET: the thread's newest entries, newest first.
    entries: Vec<Entry>,
    /// LEN: how many entries the thread keeps.
    len: usize,
}

/// SLOWLOG's part on one shard (the server runs it on every shard, this
/// one included, then [`slowlog_reply`]): GET takes this thread's newest
/// entries, LEN their count; RESET empties the log. Entries trimmed away
/// since this thread last looked are dropped first.
pub fn slowlog_part(args: &Args) -> SlowLogPart {
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        drop_below(&mut log, KEEP_FROM.load(Relaxed));
        let mut part = SlowLogPart::default();
        match parse(args) {
            Ok(Query::Get(count)) => part.entries = log.iter().take(count).cloned().collect(),
            Ok(Query::Len) => part.len = log.len(),
            Ok(Query::Reset) => log.clear(),
            Ok(Query::Help) | Err(_) => {}
        }
        part
    })
}

/// SLOWLOG GET [count] | LEN | RESET | HELP, from every shard's part (see
/// [`slowlog_part`]).
pub fn slowlog_reply(args: &Args, parts: Vec<SlowLogPart>, enc: &mut ReplyEncoder) {
    match parse(args) {
        Ok(Query::Get(count)) => {
            let mut all: Vec<Entry> = parts.into_iter().flat_map(|p| p.entries).collect();
            all.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
            all.truncate(count);
            enc.array_len(all.len());
            for entry in &all {
                entry.encode(enc);
            }
        }
        Ok(Query::Len) => enc.integer(parts.iter().map(|p| p.len).sum::<usize>() as i64),
        Ok(Query::Reset) => enc.ok(),
        Ok(Query::Help) => crate::client::reply_help(enc, HELP),
        Err(e) => reply_error(enc, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run_connection;
    use resp::Protocol;

    fn client() -> Client {
        let mut client = Client::new(7);
        client.addr = "127.0.0.1:5000".into();
        client
    }

    /// Runs SLOWLOG over this thread's part.
    fn slowlog(parts: &[&str]) -> String {
        String::from_utf8_lossy(&run_connection(parts).0).into_owned()
    }

    /// This thread's entries' arguments, newest first.
    fn logged_args() -> Vec<Vec<String>> {
        LOG.with(|log| {
            log.borrow()
                .iter()
                .map(|e| {
                    e.args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect()
                })
                .collect()
        })
    }

    #[test]
    fn entries_are_cut_and_redacted_as_redis() {
        let c = client();
        let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut del = vec!["DEL"];
        del.extend(many.iter().map(String::as_str));
        record(&Args::from_slices(&del), 1_000, 1, &c);
        let long = "x".repeat(200);
        record(&Args::from_slices(&["SET", &long, "v"]), 1_000, 1, &c);
        record(&Args::from_slices(&["auth", "user", "pw"]), 1_000, 1, &c);
        record(&Args::from_slices(&["auth", "a", "b", "c"]), 1_000, 1, &c);
        record(
            &Args::from_slices(&["hello", "3", "SETNAME", "n", "AUTH", "u", "p", "x"]),
            1_000,
            1,
            &c,
        );
        record(
            &Args::from_slices(&["hello", "4", "auth", "u", "p"]),
            1_000,
            1,
            &c,
        );
        record(
            &Args::from_slices(&["config", "set", "REQUIREPASS", "a", "maxmemory", "1"]),
            1_000,
            1,
            &c,
        );
        record(
            &Args::from_slices(&["config", "set", "requirepass", "a", "x"]),
            1_000,
            1,
            &c,
        );
        let logged = logged_args();
        let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(logged[7].len(), 32);
        assert_eq!(logged[7][30], "k29");
        assert_eq!(logged[7][31], "... (10 more arguments)");
        assert_eq!(
            logged[6][1],
            format!("{}... (72 more bytes)", "x".repeat(128))
        );
        assert_eq!(logged[5], strs(&["auth", "(redacted)", "(redacted)"]));
        assert_eq!(logged[4], strs(&["auth", "a", "b", "c"]));
        assert_eq!(
            logged[3],
            strs(&[
                "hello",
                "3",
                "SETNAME",
                "n",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "x"
            ])
        );
        assert_eq!(logged[2], strs(&["hello", "4", "auth", "u", "p"]));
        assert_eq!(
            logged[1],
            strs(&[
                "config",
                "set",
                "REQUIREPASS",
                "(redacted)",
                "maxmemory",
                "1"
            ])
        );
        assert_eq!(logged[0], strs(&["config", "set", "requirepass", "a", "x"]));
    }

    #[test]
    fn get_len_reset_and_errors() {
        let c = client();
        for i in 0..12 {
            record(
                &Args::from_slices(&["GET", &i.to_string()]),
                25_000,
                1_700_000_000,
                &c,
            );
        }
        assert_eq!(slowlog(&["SLOWLOG", "LEN"]), ":12\r\n");
        let ten = slowlog(&["SLOWLOG", "GET"]);
        assert!(ten.starts_with("*10\r\n*6\r\n:"), "{ten}");
        assert!(ten.contains(":1700000000\r\n:25\r\n*2\r\n$3\r\nGET\r\n$2\r\n11\r\n$14\r\n127.0.0.1:5000\r\n$0\r\n\r\n"));
        let two = slowlog(&["slowlog", "get", "2"]);
        assert!(two.starts_with("*2\r\n*6\r\n:"), "{two}");
        assert_eq!(two.matches("*6\r\n:").count(), 2, "{two}");
        assert_eq!(slowlog(&["slowlog", "get", "0"]), "*0\r\n");
        for bad in ["-2", "abc", "+1"] {
            assert_eq!(
                slowlog(&["SLOWLOG", "GET", bad]),
                "-ERR count should be greater than or equal to -1\r\n"
            );
        }
        assert_eq!(
            slowlog(&["SLOWLOG", "get", "1", "2"]),
            "-ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.\r\n"
        );
        assert!(slowlog(&["SLOWLOG", "HELP"]).starts_with("*12\r\n+SLOWLOG <subcommand>"));
        assert_eq!(slowlog(&["SLOWLOG", "RESET"]), "+OK\r\n");
        assert_eq!(slowlog(&["SLOWLOG", "LEN"]), ":0\r\n");
    }

    fn entry(id: u64) -> Entry {
        Entry {
            id,
            time: 1,
            duration: 2,
            args: vec![b"ping".to_vec()],
            addr: "a".into(),
            name: b"n".to_vec(),
        }
    }

    fn reply(args: &[&str], parts: Vec<SlowLogPart>) -> Vec<u8> {
        let mut out = Vec::new();
        let args = Args::from_slices(args);
        slowlog_reply(
            &args,
            parts,
            &mut ReplyEncoder::new(&mut out, Protocol::Resp2),
        );
        out
    }

    #[test]
    fn parts_merge_newest_first() {
        let parts = || {
            [[5u64, 2], [7, 1]]
                .map(|ids| SlowLogPart {
                    entries: ids.map(entry).to_vec(),
                    len: 2,
                })
                .into()
        };
        let out = reply(&["SLOWLOG", "GET", "3"], parts());
        let ids: Vec<String> = String::from_utf8_lossy(&out)
            .split("*6\r\n:")
            .skip(1)
            .map(|e| e.split("\r\n").next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(ids, ["7", "5", "2"]);
        assert!(out.starts_with(
            b"*3\r\n*6\r\n:7\r\n:1\r\n:2\r\n*1\r\n$4\r\nping\r\n$1\r\na\r\n$1\r\nn\r\n"
        ));
        assert_eq!(reply(&["SLOWLOG", "LEN"], parts()), b":4\r\n");
    }

    #[test]
    fn the_floor_keeps_the_newest_max_len_of_every_thread() {
        // Ids 0..6 logged; two threads hold 0, 2, 5 and 1, 3, 4.
        let mut a: VecDeque<Entry> = [5, 2, 0].map(entry).into();
        let mut b: VecDeque<Entry> = [4, 3, 1].map(entry).into();
        let keep = floor(6, 2);
        drop_below(&mut a, keep);
        drop_below(&mut b, keep);
        let ids = |log: &VecDeque<Entry>| log.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!((ids(&a), ids(&b)), (vec![5], vec![4]));
        assert_eq!(floor(6, 128), 0, "fewer than max: all kept");
        assert_eq!(floor(6, 0), 6, "max 0: none kept");
    }
}
