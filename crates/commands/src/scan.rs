//! Commands that walk a whole database: KEYS, SCAN, RANDOMKEY.
//!
//! Each has a per-shard part here; the server runs it on the shard(s) and
//! combines: KEYS concatenates every shard's keys, RANDOMKEY picks a shard
//! with probability proportional to its live keys ([`pick_weighted`]), and
//! SCAN runs on the one shard its cursor names.
//!
//! **SCAN cursor layout.** A cursor is a u64 (Redis's is an unsigned long,
//! parsed by `strtoul`): bits 0..10 name the shard ([`MAX_SCAN_SHARDS`]),
//! bits 10.. the position within that shard's keyspace
//! ([`store::Keyspace::scan`]: segment in bits 32..40 and a hash bound in
//! bits 0..32, so cursors stay below 2^50). Cursor 0 starts at shard 0,
//! position 0; a shard's position 0 means "its start" as input and "done" as
//! output, so a finished shard hands over to the next one's start
//! ([`next_cursor`]), and the last one's to 0, the end of the scan. A cursor
//! Mayfly never returned ends the scan (`0` and no keys), where Redis would
//! resume somewhere.

use crate::error::CommandError;
use crate::number::integer_arg;
use crate::ShardCtx;
use resp::{Args, ReplyEncoder};
use store::{glob_match, Entry};

/// Bits of a SCAN cursor that name the shard.
const CURSOR_SHARD_BITS: u32 = 10;

/// The most shards a SCAN cursor can name.
pub(crate) const MAX_SCAN_SHARDS: usize = 1 << CURSOR_SHARD_BITS;

/// KEYS pattern: this shard's part, the keys of the selected database that
/// are live and match (`*` matches every key, the empty one included, as in
/// Redis).
pub fn keys_part(args: &Args, ctx: &mut ShardCtx) -> Vec<Vec<u8>> {
    let pattern = Pattern::new(args.get(1));
    let now = ctx.now;
    ctx.keyspace()
        .iter_live(now)
        .filter(|e| pattern.matches(e.key()))
        .map(|e| e.key().to_vec())
        .collect()
}

/// RANDOMKEY: this shard's part, its number of live keys in the selected
/// database and one of them chosen uniformly (`None` when it has none).
pub fn randomkey_part(ctx: &mut ShardCtx) -> (usize, Option<Vec<u8>>) {
    let now = ctx.now;
    let db = ctx.keyspace();
    let live = db.live_len(now);
    let key = db.random_entry(now, random_u64()).map(|e| e.key().to_vec());
    (live, key)
}

/// The index of a shard chosen with probability proportional to `counts`
/// (RANDOMKEY's live keys per shard); `None` when they are all 0.
pub fn pick_weighted(counts: &[usize], random: u64) -> Option<usize> {
    let total: u64 = counts.iter().map(|&c| c as u64).sum();
    if total == 0 {
        return None;
    }
    let mut r = random % total;
    counts.iter().position(|&c| {
        let c = c as u64;
        if r < c {
            true
        } else {
            r -= c;
            false
        }
    })
}

/// A random u64 from the standard library's per-process random hash keys
/// (no extra dependency; plenty for RANDOMKEY).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// SCAN's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanArgs {
    /// The cursor, as the client sent it.
    pub cursor: u64,
    /// MATCH pattern; `None` when absent or `*`.
    pub pattern: Option<Vec<u8>>,
    /// COUNT (default 10): entries to visit, a hint.
    pub count: usize,
    /// TYPE: only keys whose type name equals it, ignoring case (an unknown
    /// type matches nothing, as in Redis 7.0).
    pub type_name: Option<Vec<u8>>,
}

impl ScanArgs {
    fn wants(&self, entry: &Entry) -> bool {
        self.pattern
            .as_deref()
            .is_none_or(|p| glob_match(p, entry.key()))
            && self
                .type_name
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(entry.value().type_name().as_bytes()))
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], parsed as Redis
/// 7.0 does: the cursor first (`ERR invalid cursor`), then options in order,
/// a later one replacing an earlier; an unknown option or one without its
/// value is `ERR syntax error`, as is a COUNT below 1; a COUNT that is not
/// an integer is `ERR value is not an integer or out of range`.
/// SCAN's arguments are checked before it is routed.
pub(crate) fn validate_scan(args: &Args, _: &crate::Checks) -> Result<(), CommandError> {
    parse_scan(args).map(|_| ())
}

/// Parses SCAN's cursor and options.
pub fn parse_scan(args: &Args) -> Result<ScanArgs, CommandError> {
    let mut scan = ScanArgs {
        cursor: parse_cursor(args.get(1))?,
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        if i + 1 >= args.len() {
            return Err(CommandError::Syntax);
        }
        let value = args.get(i + 1);
        if opt.eq_ignore_ascii_case(b"COUNT") {
            let count = integer_arg(value)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            scan.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"MATCH") {
            scan.pattern = (value != b"*").then(|| value.to_vec());
        } else if opt.eq_ignore_ascii_case(b"TYPE") {
            scan.type_name = Some(value.to_vec());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok(scan)
}

/// Parses a cursor as Redis's `parseScanCursorOrReply` does with `strtoul`:
/// the argument is read up to its first NUL byte; an optional sign, then
/// decimal digits and nothing else; `-n` wraps to 2^64 - n (so `-1` is
/// 18446744073709551615); no digits at all is 0 only for the empty string;
/// a value above 2^64 - 1, a leading space or anything else trailing is
/// `ERR invalid cursor`.
fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let text = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return if text.is_empty() {
            Ok(0)
        } else {
            Err(CommandError::InvalidCursor)
        };
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(CommandError::InvalidCursor);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(CommandError::InvalidCursor)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SCAN: this shard's part, from `shard_position` (the cursor's position
/// part, see [`split_cursor`]): the next position in this shard (0 = this
/// shard is done) and the live keys found that match MATCH and TYPE.
pub fn scan_part(scan: &ScanArgs, ctx: &mut ShardCtx, shard_position: u64) -> (u64, Vec<Vec<u8>>) {
    let now = ctx.now;
    let mut keys = Vec::new();
    let next = ctx
        .keyspace()
        .scan(shard_position, scan.count, now, |entry| {
            if scan.wants(entry) {
                keys.push(entry.key().to_vec());
            }
        });
    (next, keys)
}

/// Splits a SCAN cursor into the shard it names and the position within
/// that shard. A shard index at or beyond the number of shards means a
/// cursor Mayfly never returned: reply the end of the scan (`0`, no keys).
pub fn split_cursor(cursor: u64) -> (usize, u64) {
    (
        (cursor & (MAX_SCAN_SHARDS as u64 - 1)) as usize,
        cursor >> CURSOR_SHARD_BITS,
    )
}

/// The cursor for `position` within `shard` (`shard < MAX_SCAN_SHARDS`).
pub(crate) fn compose_cursor(shard: usize, position: u64) -> u64 {
    position << CURSOR_SHARD_BITS | shard as u64
}

/// The cursor to reply after `shard` returned `next_position` from
/// [`scan_part`]: the same shard further on, else the next shard's start,
/// else 0 (the scan is complete).
pub fn next_cursor(shard: usize, next_position: u64, shards: usize) -> u64 {
    if next_position != 0 {
        compose_cursor(shard, next_position)
    } else if shard + 1 < shards {
        compose_cursor(shard + 1, 0)
    } else {
        0
    }
}

/// Writes SCAN's reply: the next cursor as a bulk string, then the keys.
pub fn reply_scan(enc: &mut ReplyEncoder, cursor: u64, keys: &[Vec<u8>]) {
    enc.array_len(2);
    enc.bulk(cursor.to_string().as_bytes());
    enc.array_len(keys.len());
    for key in keys {
        enc.bulk(key);
    }
}

/// KEYS' pattern, with `*` short-cut as Redis does.
struct Pattern<'a>(Option<&'a [u8]>);

impl<'a> Pattern<'a> {
    fn new(pattern: &'a [u8]) -> Self {
        Self((pattern != b"*").then_some(pattern))
    }

    fn matches(&self, key: &[u8]) -> bool {
        self.0.is_none_or(|p| glob_match(p, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardStats;
    use resp::Protocol;
    use std::collections::HashMap;
    use store::{shard_of, Databases};

    const NOW: u64 = 1_700_000_000_000;

    /// Several shards' data, keys placed by `shard_of` as the server does.
    struct Shards(Vec<(Databases, ShardStats, crate::ShardSettings)>);

    impl Shards {
        fn new(n: usize) -> Self {
            Self(
                (0..n)
                    .map(|_| {
                        (
                            Databases::new(16),
                            ShardStats::default(),
                            crate::ShardSettings::default(),
                        )
                    })
                    .collect(),
            )
        }

        fn ctx(&mut self, shard: usize) -> ShardCtx<'_> {
            let (dbs, stats, settings) = &mut self.0[shard];
            ShardCtx {
                dbs,
                db: 0,
                now: NOW,
                stats,
                settings,
            }
        }

        fn set(&mut self, key: &[u8], deadline: Option<u64>) {
            let shard = shard_of(key, self.0.len());
            self.ctx(shard)
                .keyspace()
                .set_string(key, b"v", deadline, NOW - 10);
        }

        /// A whole SCAN as a client runs it; returns the keys and the calls.
        fn scan_all(&mut self, options: &[&str]) -> (Vec<Vec<u8>>, usize) {
            let shards = self.0.len();
            let mut cursor = 0u64;
            let mut all = Vec::new();
            let mut calls = 0;
            loop {
                let mut parts = vec!["SCAN".to_string(), cursor.to_string()];
                parts.extend(options.iter().map(|s| s.to_string()));
                let scan = parse_scan(&Args::from_slices(&parts)).unwrap();
                let (shard, position) = split_cursor(scan.cursor);
                assert!(shard < shards);
                let (next, keys) = scan_part(&scan, &mut self.ctx(shard), position);
                all.extend(keys);
                calls += 1;
                cursor = next_cursor(shard, next, shards);
                if cursor == 0 {
                    return (all, calls);
                }
            }
        }
    }

    fn parse(parts: &[&str]) -> Result<ScanArgs, String> {
        parse_scan(&Args::from_slices(parts)).map_err(|e| e.to_string())
    }

    fn cursor(arg: &[u8]) -> Result<u64, String> {
        parse_cursor(arg).map_err(|e| e.to_string())
    }

    /// Checked against redis-server 7.0.15.
    #[test]
    fn cursor_parses_as_strtoul() {
        let invalid = Err("ERR invalid cursor".to_string());
        assert_eq!(cursor(b"0"), Ok(0));
        assert_eq!(cursor(b""), Ok(0));
        assert_eq!(cursor(b"-0"), Ok(0));
        assert_eq!(cursor(b"01"), Ok(1));
        assert_eq!(cursor(b"+1"), Ok(1));
        assert_eq!(cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(cursor(b"-18446744073709551615"), Ok(1));
        assert_eq!(cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(cursor(b"00000000000000000000000000000000000000001"), Ok(1));
        assert_eq!(cursor(b"1\x002"), Ok(1), "C reads up to the NUL");
        for bad in [
            &b"abc"[..],
            b"18446744073709551616",
            b"-18446744073709551616",
            b" 1",
            b"\t1",
            b"1 ",
            b"1.0",
            b"0x1",
            b"-",
            b"+",
            b"+-1",
        ] {
            assert_eq!(cursor(bad), invalid, "{bad:?}");
        }
    }

    /// Checked against redis-server 7.0.15.
    #[test]
    fn options_parse_with_redis_errors() {
        let syntax = Err("ERR syntax error".to_string());
        let not_int = Err("ERR value is not an integer or out of range".to_string());
        assert_eq!(
            parse(&["SCAN", "0"]),
            Ok(ScanArgs {
                cursor: 0,
                pattern: None,
                count: 10,
                type_name: None
            })
        );
        assert_eq!(
            parse(&["scan", "7", "match", "a*", "count", "5", "type", "STRING"]),
            Ok(ScanArgs {
                cursor: 7,
                pattern: Some(b"a*".to_vec()),
                count: 5,
                type_name: Some(b"STRING".to_vec())
            })
        );
        let later = parse(&[
            "SCAN", "0", "COUNT", "1", "COUNT", "100", "MATCH", "a", "MATCH", "*",
        ]);
        assert_eq!(
            later.as_ref().map(|s| (s.count, s.pattern.clone())),
            Ok((100, None))
        );
        assert_eq!(parse(&["SCAN", "0", "COUNT", "0"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "COUNT", "-1"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "COUNT", "abc"]), not_int);
        assert_eq!(
            parse(&["SCAN", "0", "COUNT", "9223372036854775808"]),
            not_int
        );
        assert_eq!(parse(&["SCAN", "0", "COUNT"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "MATCH"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "TYPE"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "FOO", "bar"]), syntax);
        assert_eq!(parse(&["SCAN", "0", "COUNT", "0", "FOO"]), syntax);
        assert_eq!(
            parse(&["SCAN", "abc", "FOO"]),
            Err("ERR invalid cursor".to_string()),
            "the cursor is checked first"
        );
        assert_eq!(
            parse(&["SCAN", "0", "COUNT", "9223372036854775807"]).map(|s| s.count),
            Ok(i64::MAX as usize)
        );
    }

    #[test]
    fn cursor_layout_round_trips() {
        assert_eq!(compose_cursor(0, 0), 0);
        assert_eq!(split_cursor(compose_cursor(5, 1 << 39)), (5, 1 << 39));
        assert_eq!(
            split_cursor(compose_cursor(1023, 255 << 32 | 7)),
            (1023, 255 << 32 | 7)
        );
        assert_eq!(next_cursor(2, 9, 4), compose_cursor(2, 9));
        assert_eq!(next_cursor(2, 0, 4), 3);
        assert_eq!(next_cursor(3, 0, 4), 0);
        assert_eq!(split_cursor(u64::MAX).0, 1023);
    }

    #[test]
    fn a_scan_over_shards_returns_every_key_once() {
        for shards in [1, 3, 8] {
            let mut s = Shards::new(shards);
            for i in 0..3000 {
                s.set(format!("key:{i}").as_bytes(), None);
            }
            s.set(b"", None);
            let (keys, calls) = s.scan_all(&["COUNT", "50"]);
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            for k in keys {
                *seen.entry(k).or_default() += 1;
            }
            assert_eq!(seen.len(), 3001, "{shards} shards");
            assert!(seen.values().all(|&n| n == 1));
            assert!((3001 / 50..3001 / 50 * 3).contains(&calls), "{calls} calls");
        }
    }

    #[test]
    fn scan_filters_by_match_type_and_expiry() {
        let mut s = Shards::new(2);
        for i in 0..100 {
            s.set(format!("user:{i}").as_bytes(), None);
            s.set(format!("item:{i}").as_bytes(), None);
        }
        s.set(b"user:dead", Some(NOW));
        let sorted = |mut v: Vec<Vec<u8>>| {
            v.sort();
            v
        };
        let users = sorted(s.scan_all(&["MATCH", "user:*", "COUNT", "7"]).0);
        let want: Vec<Vec<u8>> =
            sorted((0..100).map(|i| format!("user:{i}").into_bytes()).collect());
        assert_eq!(users, want);
        assert_eq!(s.scan_all(&["TYPE", "String"]).0.len(), 200);
        assert_eq!(s.scan_all(&["TYPE", "foo"]).0.len(), 0);
        assert_eq!(s.scan_all(&["MATCH", "*"]).0.len(), 200);
    }

    #[test]
    fn foreign_cursors_end_the_scan() {
        let mut s = Shards::new(1);
        s.set(b"k", None);
        let scan = parse_scan(&Args::from_slices(&["SCAN", "18446744073709551615"])).unwrap();
        let (shard, position) = split_cursor(scan.cursor);
        assert_eq!(shard, 1023);
        let (next, keys) = scan_part(&scan, &mut s.ctx(0), position);
        assert_eq!((next, keys.len()), (0, 0));
    }

    #[test]
    fn scan_reply_bytes() {
        let mut out = Vec::new();
        let mut enc = ReplyEncoder::new(&mut out, Protocol::Resp2);
        reply_scan(&mut enc, 1024, &[b"a".to_vec(), b"".to_vec()]);
        assert_eq!(out, b"*2\r\n$4\r\n1024\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n");
        let mut out = Vec::new();
        let mut enc = ReplyEncoder::new(&mut out, Protocol::Resp3);
        reply_scan(&mut enc, 0, &[]);
        assert_eq!(out, b"*2\r\n$1\r\n0\r\n*0\r\n");
    }

    #[test]
    fn keys_matches_live_keys_on_each_shard() {
        let mut s = Shards::new(3);
        for k in ["a", "ab", "abc", "b", ""] {
            s.set(k.as_bytes(), None);
        }
        s.set(b"aexpired", Some(NOW));
        let keys = |s: &mut Shards, pattern: &str| {
            let args = Args::from_slices(&["KEYS", pattern]);
            let mut all: Vec<String> = (0..3)
                .flat_map(|shard| keys_part(&args, &mut s.ctx(shard)))
                .map(|k| String::from_utf8(k).unwrap())
                .collect();
            all.sort();
            all
        };
        assert_eq!(keys(&mut s, "*"), ["", "a", "ab", "abc", "b"]);
        assert_eq!(keys(&mut s, "**"), ["a", "ab", "abc", "b"]);
        assert_eq!(keys(&mut s, "a*"), ["a", "ab", "abc"]);
        assert_eq!(keys(&mut s, "?"), ["a", "b"]);
        assert_eq!(keys(&mut s, "[^a]*"), ["b"]);
        assert_eq!(keys(&mut s, ""), [""]);
    }

    #[test]
    fn randomkey_weights_shards_by_live_keys() {
        let mut s = Shards::new(4);
        assert_eq!(randomkey_part(&mut s.ctx(0)), (0, None));
        for i in 0..40 {
            s.set(format!("k{i}").as_bytes(), None);
        }
        for i in 0..400 {
            s.set(format!("dead{i}").as_bytes(), Some(NOW));
        }
        let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..40_000 {
            let parts: Vec<(usize, Option<Vec<u8>>)> = (0..4)
                .map(|shard| randomkey_part(&mut s.ctx(shard)))
                .collect();
            let counts: Vec<usize> = parts.iter().map(|p| p.0).collect();
            assert_eq!(counts.iter().sum::<usize>(), 40);
            let shard = pick_weighted(&counts, random_u64()).unwrap();
            let key = parts[shard].1.clone().unwrap();
            *hits.entry(key).or_default() += 1;
        }
        assert_eq!(hits.len(), 40);
        assert!(hits.values().all(|&n| (700..1300).contains(&n)), "{hits:?}");
        assert_eq!(pick_weighted(&[0, 0], 5), None);
        assert_eq!(pick_weighted(&[0, 3, 0, 1], 3), Some(3));
        assert_eq!(pick_weighted(&[0, 3, 0, 1], 2), Some(1));
    }
}
