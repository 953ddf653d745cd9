//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest
//! common subsequence of two strings, by Redis's own dynamic programming
//! table and walk, so that ties resolve to the same subsequence and ranges.
//!
//! The two keys may live on different shards: [`lcs_reply`] is the whole
//! command over two strings already fetched, and [`lcs`] the single-shard
//! case that fetches both from one shard.

use crate::error::reply_error;
use crate::number::integer_arg;
use crate::strings::string_bytes;
use crate::{CommandError, ShardCtx};
use resp::{Args, ReplyEncoder, DEFAULT_MAX_BULK_LEN};

/// LCS with both keys on this shard.
pub(crate) fn lcs(args: &Args, ctx: &mut ShardCtx, enc: &mut ReplyEncoder) {
    let a = lcs_operand(ctx, args.get(1));
    let b = lcs_operand(ctx, args.get(2));
    match (a, b) {
        (Ok(a), Ok(b)) => lcs_reply(args, &a, &b, enc),
        _ => reply_error(enc, &not_strings()),
    }
}

/// A key's string for LCS (empty when missing), read as Redis does (a
/// keyspace hit or miss, an access), or the error for another type.
pub(crate) fn lcs_operand(ctx: &mut ShardCtx, key: &[u8]) -> Result<Vec<u8>, CommandError> {
    match ctx.read(key) {
        Some(entry) => string_bytes(entry.value())
            .map(<[u8]>::to_vec)
            .map_err(|_| not_strings()),
        None => Ok(Vec::new()),
    }
}

/// `ERR The specified keys must contain string values`: checked before
/// the options, so it wins over a syntax error.
pub(crate) fn not_strings() -> CommandError {
    CommandError::Other("ERR The specified keys must contain string values".into())
}

/// LCS over the strings `a` (key1) and `b` (key2), a missing key being the
/// empty string: parses the options of `args[3..]` and writes the reply
/// (or the error).
pub fn lcs_reply(args: &Args, a: &[u8], b: &[u8], enc: &mut ReplyEncoder) {
    if let Err(e) = lcs_generic(args, a, b, enc) {
        reply_error(enc, &e);
    }
}

fn lcs_generic(
    args: &Args,
    a: &[u8],
    b: &[u8],
    enc: &mut ReplyEncoder,
) -> Result<(), CommandError> {
    let (mut get_len, mut get_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"IDX") {
            get_idx = true;
        } else if opt.eq_ignore_ascii_case(b"LEN") {
            get_len = true;
        } else if opt.eq_ignore_ascii_case(b"WITHMATCHLEN") {
            with_match_len = true;
        } else if opt.eq_ignore_ascii_case(b"MINMATCHLEN") && more {
            min_match_len = integer_arg(args.get(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    if get_idx && get_len {
        return Err(CommandError::Other(
            "ERR If you want both the length and indexes, please just use IDX.".into(),
        ));
    }
    let table = Table::build(a, b)?;
    let total = table.at(a.len(), b.len());
    if get_len {
        enc.integer(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the subsequence and the ranges.
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut ranges: Vec<Match> = Vec::new();
    let no_range = a.len();
    let mut range = Match {
        a: (no_range, 0),
        b: (0, 0),
    };
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if range.a.0 == no_range {
                range = Match {
                    a: (i - 1, i - 1),
                    b: (j - 1, j - 1),
                };
            } else if range.a.0 == i && range.b.0 == j {
                range.a.0 -= 1;
                range.b.0 -= 1;
            } else {
                emit = true;
            }
            if range.a.0 == 0 || range.b.0 == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table.at(i - 1, j) > table.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.a.0 != no_range {
                emit = true;
            }
        }
        if emit {
            let len = range.len();
            if min_match_len == 0 || len as i64 >= min_match_len {
                ranges.push(range);
            }
            range.a.0 = no_range;
        }
    }
    if !get_idx {
        enc.bulk(&result);
        return Ok(());
    }
    enc.map_len(2);
    enc.bulk(b"matches");
    enc.array_len(ranges.len());
    for m in &ranges {
        enc.array_len(2 + usize::from(with_match_len));
        for (start, end) in [m.a, m.b] {
            enc.array_len(2);
            enc.integer(start as i64);
            enc.integer(end as i64);
        }
        if with_match_len {
            enc.integer(m.len() as i64);
        }
    }
    enc.bulk(b"len");
    enc.integer(total as i64);
    Ok(())
}

/// One matching range: inclusive (start, end) offsets in each string.
#[derive(Debug, Clone, Copy)]
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The table of LCS lengths of every pair of prefixes, `(|a|+1) x (|b|+1)`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Fills the table; refuses, as Redis does, a table larger than
    /// `proto-max-bulk-len` bytes.
    fn build(a: &[u8], b: &[u8]) -> Result<Self, CommandError> {
        let too_big = || {
            CommandError::Other(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
                    .into(),
            )
        };
        if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
            return Err(CommandError::Other("ERR String too long for LCS".into()));
        }
        let width = b.len() + 1;
        let cells_len = (a.len() + 1)
            .checked_mul(width)
            .filter(|n| n.saturating_mul(4) <= DEFAULT_MAX_BULK_LEN)
            .ok_or_else(too_big)?;
        let mut cells: Vec<u32> = Vec::new();
        cells.try_reserve_exact(cells_len).map_err(|_| too_big())?;
        cells.resize(cells_len, 0);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Ok(Table { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::Harness;
    use resp::Protocol;

    fn with_keys() -> Harness {
        let mut h = Harness::new();
        h.run(&["SET", "key1", "ohmytext"]);
        h.run(&["SET", "key2", "mynewtext"]);
        h
    }

    #[test]
    fn lcs_string_and_len() {
        let mut h = with_keys();
        assert_eq!(h.run(&["LCS", "key1", "key2"]), b"$6\r\nmytext\r\n");
        assert_eq!(h.run(&["LCS", "key1", "key2", "LEN"]), b":6\r\n");
        assert_eq!(h.run(&["LCS", "key1", "key2", "len", "LEN"]), b":6\r\n");
        assert_eq!(
            h.run(&["LCS", "key1", "key2", "WITHMATCHLEN", "MINMATCHLEN", "2"]),
            b"$6\r\nmytext\r\n"
        );
        assert_eq!(h.run(&["LCS", "nokey", "key2"]), b"$0\r\n\r\n");
        assert_eq!(h.run(&["LCS", "nokey", "nokey2", "LEN"]), b":0\r\n");
    }

    #[test]
    fn lcs_idx() {
        let mut h = with_keys();
        assert_eq!(
            h.run(&["LCS", "key1", "key2", "IDX"]),
            b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
              *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            h.run(&[
                "LCS",
                "key1",
                "key2",
                "IDX",
                "MINMATCHLEN",
                "4",
                "WITHMATCHLEN"
            ]),
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
              $3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            h.run(&["LCS", "key1", "key2", "idx", "minmatchlen", "-5"]),
            h.run(&["LCS", "key1", "key2", "IDX"])
        );
        assert_eq!(
            h.run(&["LCS", "nokey", "nokey2", "IDX"]),
            b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
        );
    }

    #[test]
    fn lcs_idx_resp3_is_a_map() {
        let mut h = with_keys();
        assert_eq!(
            h.run_with(
                Protocol::Resp3,
                &["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]
            ),
            b"%2\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
              *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"
        );
    }

    #[test]
    fn lcs_errors_in_redis_order() {
        let mut h = with_keys();
        for (args, reply) in [
            (
                &["LCS", "key1", "key2", "FOO"][..],
                &b"-ERR syntax error\r\n"[..],
            ),
            (
                &["LCS", "key1", "key2", "MINMATCHLEN"],
                b"-ERR syntax error\r\n",
            ),
            (
                &["LCS", "key1", "key2", "MINMATCHLEN", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["LCS", "key1", "key2", "LEN", "IDX"],
                b"-ERR If you want both the length and indexes, please just use IDX.\r\n",
            ),
            (
                &["LCS", "key1"],
                b"-ERR wrong number of arguments for 'lcs' command\r\n",
            ),
        ] {
            assert_eq!(h.run(args), reply, "{args:?}");
        }
    }

    #[test]
    fn lcs_table_is_bounded_like_redis() {
        let mut h = Harness::new();
        let a = "a".repeat(12_000);
        h.run(&["SET", "a", &a]);
        h.run(&["SET", "b", &a]);
        assert_eq!(
            h.run(&["LCS", "a", "b", "LEN"]),
            &b"-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"[..]
        );
    }
}
