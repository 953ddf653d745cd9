//! The incremental request parser: RESP2 multibulk requests and inline
//! commands, fed whatever each TCP read produced.
//!
//! It follows Redis 7.0's `processMultibulkBuffer` and `processInlineBuffer`
//! (networking.c) so that a client sees the same replies, quirks included:
//!
//! * A request starting with `*` is a multibulk request; anything else is an
//!   inline request, split as `sdssplitargs` splits it.
//! * A `*` or `$` header line ends at its first `\r`, and the byte after that
//!   `\r` is skipped whatever it is: `*1\rX` is accepted, while a bare `\n`
//!   ends nothing (`*1\n$4\r\n` reads as the count `1\n$4`).
//! * The two bytes after a bulk payload are skipped unchecked.
//! * Counts are read as `string2ll` reads them: no `+`, no leading zero, no
//!   blanks. `*<n>` with `n <= 0` and blank inline lines are empty requests,
//!   skipped silently.
//! * Redis finds line ends with `strchr`, which stops at a NUL byte: a NUL
//!   before the end of a header or inline line hides the end, so the request
//!   never completes and fails as "too big" once more than
//!   [`MAX_INLINE_LEN`] bytes are pending. NULs inside bulk payloads are fine.
//!
//! Every byte is looked at once: on [`ParseStatus::Incomplete`] the parser
//! absorbs the whole input (a partial line, finished arguments, part of a
//! bulk payload), so a request arriving in many small reads costs O(bytes).

use crate::{Args, MAX_INLINE_LEN, MAX_MULTIBULK_LEN};

/// Argument slots reserved when a multibulk count is read, however many the
/// client declares (Redis reserves the same).
const MAX_PREALLOC_ARGS: usize = 1024;
/// Bytes reserved when a bulk length is read, however many the client
/// declares; a longer payload grows the buffer as its bytes arrive.
const MAX_PREALLOC_BULK: usize = 64 * 1024;
/// Finished requests kept for reuse (see [`RequestParser::recycle`]): one
/// batch's worth, so a steady pipeline allocates no `Args` at all.
const MAX_SPARE_ARGS: usize = 1024;
/// A recycled request that holds more argument bytes than this is dropped
/// instead: one big SET must not pin its buffer for the connection's life.
const MAX_SPARE_ARG_BYTES: usize = 4096;

/// A malformed request. Each maps to Redis 7's `-ERR Protocol error: ...` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*<n>` with n not a number or too large.
    InvalidMultibulkLength,
    /// `$<n>` with n not a number, negative or above the bulk limit.
    InvalidBulkLength,
    /// A multibulk element that does not start with `$`.
    ExpectedDollar(u8),
    /// An inline request longer than the limit with no newline.
    TooBigInlineRequest,
    /// A `*` header line longer than the limit with no newline.
    TooBigMbulkCountString,
    /// A `$` header line longer than the limit with no newline.
    TooBigBulkCountString,
    /// An inline request with unbalanced quotes.
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply text without the leading `-`, e.g. `ERR Protocol error: invalid bulk length`.
    ///
    /// For [`ProtocolError::ExpectedDollar`], `\r` and `\n` read as a space,
    /// as in Redis's reply. Redis sends any other byte raw; a byte above
    /// 0x7f cannot be raw in a `String`, so it appears as the Latin-1
    /// character of that value.
    pub fn reply_text(&self) -> String {
        let text = match self {
            Self::InvalidMultibulkLength => "invalid multibulk length",
            Self::InvalidBulkLength => "invalid bulk length",
            Self::ExpectedDollar(byte) => {
                let got = match byte {
                    b'\r' | b'\n' => ' ',
                    &b => char::from(b),
                };
                return format!("ERR Protocol error: expected '$', got '{got}'");
            }
            Self::TooBigInlineRequest => "too big inline request",
            Self::TooBigMbulkCountString => "too big mbulk count string",
            Self::TooBigBulkCountString => "too big bulk count string",
            Self::UnbalancedQuotes => "unbalanced quotes in request",
        };
        format!("ERR Protocol error: {text}")
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply_text())
    }
}

impl std::error::Error for ProtocolError {}

/// What one call to [`RequestParser::parse`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseStatus {
    /// A whole request; `consumed` bytes of the input were used.
    Complete { args: Args, consumed: usize },
    /// Not a whole request yet. The parser kept what it needs of the first
    /// `consumed` bytes: the caller drops them and calls again, with more data
    /// appended to the rest, when the next read arrives.
    Incomplete { consumed: usize },
}

/// Where the parser is within the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: the next byte tells multibulk from inline.
    Idle,
    /// Reading an inline request line.
    Inline,
    /// Reading the `*<count>` line.
    MultibulkCount,
    /// Reading a `$<len>` line; `args_left` arguments remain, this one included.
    BulkLength { args_left: usize },
    /// Reading a bulk payload, then the two bytes after it.
    BulkPayload {
        args_left: usize,
        payload_left: usize,
        trailer_left: usize,
    },
}

/// How a line ends.
#[derive(Debug, Clone, Copy)]
enum LineEnd {
    /// A header line: the first `\r`, plus whatever byte follows it.
    Header,
    /// An inline request: the first `\n` (a `\r` before it is stripped later).
    Inline,
}

impl LineEnd {
    fn terminator(self) -> u8 {
        match self {
            Self::Header => b'\r',
            Self::Inline => b'\n',
        }
    }

    /// Bytes after the terminator that belong to the line.
    fn trailing(self) -> usize {
        match self {
            Self::Header => 1,
            Self::Inline => 0,
        }
    }
}

/// The outcome of looking for the end of a line.
enum LineScan {
    /// The line ends `end` bytes into the input (its content is the absorbed
    /// part plus `input[..end]`), and `consumed` input bytes belong to it.
    Found { end: usize, consumed: usize },
    /// The whole input was absorbed; the line goes on in the next read.
    NeedMore,
}

/// The part of the current line (inline request or header) that earlier
/// reads delivered.
#[derive(Debug, Default)]
struct PartialLine {
    /// The line's bytes so far (at most [`MAX_INLINE_LEN`]).
    bytes: Vec<u8>,
    /// Bytes received since the line began, all of them counted even after a
    /// NUL: Redis's `sdslen(querybuf) - qb_pos` when it finds no line end.
    pending: usize,
    /// A NUL came before the terminator, hiding it from Redis's `strchr`.
    hidden: bool,
    /// Header lines only: the `\r` was the last byte of a read, so the line
    /// ends with the next byte, whatever it is.
    cr_seen: bool,
}

impl PartialLine {
    /// Looks for the end of the line in `input`, absorbing the whole input
    /// when it is not there. Fails with `too_big` when more than
    /// [`MAX_INLINE_LEN`] bytes are pending without a line end.
    fn scan(
        &mut self,
        input: &[u8],
        end: LineEnd,
        too_big: ProtocolError,
    ) -> Result<LineScan, ProtocolError> {
        if self.cr_seen {
            return Ok(if input.is_empty() {
                LineScan::NeedMore
            } else {
                LineScan::Found {
                    end: 0,
                    consumed: 1,
                }
            });
        }
        if !self.hidden {
            let term = end.terminator();
            match input.iter().position(|&b| b == term || b == 0) {
                Some(i) if input[i] == term => {
                    let consumed = i + 1 + end.trailing();
                    if consumed <= input.len() {
                        return Ok(LineScan::Found { end: i, consumed });
                    }
                    // A header's `\r` ended the read: wait for one more byte.
                    self.bytes.extend_from_slice(&input[..i]);
                    self.cr_seen = true;
                    return Ok(LineScan::NeedMore);
                }
                Some(_) => {
                    self.hidden = true;
                    self.bytes = Vec::new();
                }
                None => {}
            }
        }
        self.pending += input.len();
        if self.pending > MAX_INLINE_LEN {
            return Err(too_big);
        }
        if !self.hidden {
            self.bytes.extend_from_slice(input);
        }
        Ok(LineScan::NeedMore)
    }

    /// The whole line, once [`PartialLine::scan`] found it ends `end` bytes
    /// into `input`.
    fn assemble<'a>(&'a mut self, input: &'a [u8], end: usize) -> &'a [u8] {
        if self.bytes.is_empty() {
            &input[..end]
        } else {
            self.bytes.extend_from_slice(&input[..end]);
            &self.bytes
        }
    }

    /// Forgets the line, keeping the allocation.
    fn clear(&mut self) {
        self.bytes.clear();
        self.pending = 0;
        self.hidden = false;
        self.cr_seen = false;
    }
}

/// Incremental parser for one connection.
///
/// After an error the connection should be closed, as Redis does once it has
/// sent the error reply; the parser itself is reset and could go on.
#[derive(Debug)]
pub struct RequestParser {
    max_bulk_len: usize,
    state: State,
    line: PartialLine,
    args: Args,
    /// Used requests whose allocations the next requests take over.
    spare: Vec<Args>,
}

impl RequestParser {
    /// A parser that refuses bulk arguments longer than `max_bulk_len`.
    pub fn new(max_bulk_len: usize) -> Self {
        Self {
            max_bulk_len,
            state: State::Idle,
            line: PartialLine::default(),
            args: Args::new(),
            spare: Vec::new(),
        }
    }

    /// Changes the longest bulk argument accepted from now on
    /// (`CONFIG SET proto-max-bulk-len`).
    pub fn set_max_bulk_len(&mut self, max_bulk_len: usize) {
        self.max_bulk_len = max_bulk_len;
    }

    /// Bytes of the argument (or line) being received that earlier calls
    /// absorbed. With the bytes not yet handed to [`RequestParser::parse`],
    /// this is what Redis 7.0 holds in a client's query buffer when a request
    /// arrives in pieces: it moves each finished big argument out of the
    /// buffer, so `client-query-buffer-limit` bounds one argument, not the
    /// whole request.
    pub fn pending_len(&self) -> usize {
        self.args.current_len() + self.line.pending
    }

    /// Gives back a request that has been executed: the next requests reuse
    /// its allocations, so that a connection in steady state parses without
    /// allocating.
    pub fn recycle(&mut self, mut args: Args) {
        if self.spare.len() < MAX_SPARE_ARGS && args.data_capacity() <= MAX_SPARE_ARG_BYTES {
            args.clear();
            self.spare.push(args);
        }
    }

    /// Parses the next request from `buf`.
    pub fn parse(&mut self, buf: &[u8]) -> Result<ParseStatus, ProtocolError> {
        if self.state == State::Idle {
            if let Some(done) = self.parse_whole(buf) {
                return Ok(done);
            }
        }
        let result = self.advance(buf);
        if result.is_err() {
            self.state = State::Idle;
            self.line = PartialLine::default();
            self.args = Args::new();
        }
        result
    }

    /// The common case in one pass: a whole multibulk request in plain form
    /// (`*<n>` and `$<len>` headers of digits only, no leading zero) at the
    /// start of `buf`. Anything else (a partial request, an empty, malformed
    /// or unusual one) gives None with nothing kept, and the state machine,
    /// which knows every quirk, reads it from the start. Where both accept a
    /// request they read it the same way: a header ends at its `\r` and the
    /// byte after it is skipped, as are the two bytes after a payload.
    fn parse_whole(&mut self, buf: &[u8]) -> Option<ParseStatus> {
        let (count, mut pos) = header(buf, 0, b'*')?;
        if count == 0 || count > MAX_MULTIBULK_LEN {
            return None;
        }
        for _ in 0..count {
            let whole = header(buf, pos, b'$').and_then(|(len, start)| {
                let end = start.checked_add(len)?;
                (len <= self.max_bulk_len && end + 2 <= buf.len()).then_some((start, end))
            });
            let Some((start, end)) = whole else {
                self.args.clear();
                return None;
            };
            self.args.push(&buf[start..end]);
            pos = end + 2;
        }
        Some(self.complete(pos))
    }

    fn advance(&mut self, buf: &[u8]) -> Result<ParseStatus, ProtocolError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Idle => match rest.first() {
                    None => return Ok(ParseStatus::Incomplete { consumed: pos }),
                    Some(b'*') => self.state = State::MultibulkCount,
                    Some(_) => self.state = State::Inline,
                },
                State::Inline => {
                    let (end, consumed) = match self.line.scan(
                        rest,
                        LineEnd::Inline,
                        ProtocolError::TooBigInlineRequest,
                    )? {
                        LineScan::Found { end, consumed } => (end, consumed),
                        LineScan::NeedMore => return Ok(self.incomplete(buf)),
                    };
                    let line = match self.line.assemble(rest, end) {
                        [line @ .., b'\r'] => line,
                        line => line,
                    };
                    split_inline(line, &mut self.args)?;
                    self.line.clear();
                    pos += consumed;
                    self.state = State::Idle;
                    if !self.args.is_empty() {
                        return Ok(self.complete(pos));
                    }
                }
                State::MultibulkCount => {
                    let (end, consumed) = match self.line.scan(
                        rest,
                        LineEnd::Header,
                        ProtocolError::TooBigMbulkCountString,
                    )? {
                        LineScan::Found { end, consumed } => (end, consumed),
                        LineScan::NeedMore => return Ok(self.incomplete(buf)),
                    };
                    // The line starts with the `*` that chose this state.
                    let count = self
                        .line
                        .assemble(rest, end)
                        .get(1..)
                        .and_then(parse_integer);
                    self.line.clear();
                    pos += consumed;
                    match count {
                        Some(n) if n <= 0 => self.state = State::Idle,
                        Some(n) if n as u64 <= MAX_MULTIBULK_LEN as u64 => {
                            let args_left = n as usize;
                            self.args.reserve_args(args_left.min(MAX_PREALLOC_ARGS));
                            self.state = State::BulkLength { args_left };
                        }
                        _ => return Err(ProtocolError::InvalidMultibulkLength),
                    }
                }
                State::BulkLength { args_left } => {
                    let (end, consumed) = match self.line.scan(
                        rest,
                        LineEnd::Header,
                        ProtocolError::TooBigBulkCountString,
                    )? {
                        LineScan::Found { end, consumed } => (end, consumed),
                        LineScan::NeedMore => return Ok(self.incomplete(buf)),
                    };
                    let len = match self.line.assemble(rest, end).split_first() {
                        Some((b'$', digits)) => parse_integer(digits),
                        Some((&other, _)) => return Err(ProtocolError::ExpectedDollar(other)),
                        // The line's first byte is its `\r`.
                        None => return Err(ProtocolError::ExpectedDollar(b'\r')),
                    };
                    let len = len
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n <= self.max_bulk_len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    self.line.clear();
                    pos += consumed;
                    self.args.reserve(len.min(MAX_PREALLOC_BULK));
                    self.state = State::BulkPayload {
                        args_left,
                        payload_left: len,
                        trailer_left: 2,
                    };
                }
                State::BulkPayload {
                    args_left,
                    payload_left,
                    trailer_left,
                } => {
                    let take = payload_left.min(rest.len());
                    self.args.extend_current(&rest[..take]);
                    let skip = trailer_left.min(rest.len() - take);
                    pos += take + skip;
                    if take < payload_left || skip < trailer_left {
                        self.state = State::BulkPayload {
                            args_left,
                            payload_left: payload_left - take,
                            trailer_left: trailer_left - skip,
                        };
                        return Ok(self.incomplete(buf));
                    }
                    self.args.finish_arg();
                    if args_left > 1 {
                        self.state = State::BulkLength {
                            args_left: args_left - 1,
                        };
                    } else {
                        self.state = State::Idle;
                        return Ok(self.complete(pos));
                    }
                }
            }
        }
    }

    /// Hands over the finished request.
    fn complete(&mut self, consumed: usize) -> ParseStatus {
        let next = self.spare.pop().unwrap_or_default();
        ParseStatus::Complete {
            args: std::mem::replace(&mut self.args, next),
            consumed,
        }
    }

    /// Everything in `buf` has been absorbed into the parser's state.
    fn incomplete(&self, buf: &[u8]) -> ParseStatus {
        ParseStatus::Incomplete {
            consumed: buf.len(),
        }
    }
}

/// A `*<n>` or `$<n>` header (per `prefix`) at `buf[at..]` whose count is
/// 0 or digits without a leading zero, at most 10 of them, followed by the
/// `\r` and the byte after it: the count and where the line's bytes end.
/// None for anything else, including a header not wholly in `buf`.
fn header(buf: &[u8], at: usize, prefix: u8) -> Option<(usize, usize)> {
    let line = buf.get(at..)?;
    if *line.first()? != prefix {
        return None;
    }
    let mut n: usize = 0;
    let mut i = 1;
    loop {
        let b = *line.get(i)?;
        if b == b'\r' {
            break;
        }
        if !b.is_ascii_digit() || i > 10 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
        i += 1;
    }
    let no_digits = i == 1;
    let leading_zero = line[1] == b'0' && i > 2;
    if no_digits || leading_zero || i + 1 >= line.len() {
        return None;
    }
    Some((n, at + i + 2))
}

/// Reads an integer as Redis's `string2ll` does: an optional `-`, then digits
/// with no leading zero (a lone `0` aside), fitting an `i64`; no spaces, no `+`.
/// Used for length headers here and for every integer argument of a command.
pub fn parse_integer(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE: longer strings are refused before any digit is read.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into words as Redis's `sdssplitargs` does (inline requests
/// and config file lines share it); `None` when a quote is not closed or a
/// closing quote is followed by more of the same word. A NUL ends the line,
/// as it ends a C string.
pub fn split_args(line: &[u8]) -> Option<Args> {
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let mut args = Args::new();
    split_inline(line, &mut args).ok()?;
    Some(args)
}

/// Appends `value` double-quoted as Redis's `sdscatrepr` writes it (config
/// files, MONITOR lines): `\\`, `"`, `\n`, `\r`, `\t`, `\a` and `\b`
/// escaped, other unprintable bytes as `\xHH`; what [`split_args`] reads
/// back as the same bytes.
pub fn repr(value: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in value {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
        }
    }
    out.push(b'"');
}

/// Splits an inline request line into `args` as Redis's `sdssplitargs` does.
///
/// Blanks (`isspace`) separate arguments, but inside an unquoted argument
/// only space, tab, `\r` and `\n` end it. `"..."` understands `\n \r \t \b \a`,
/// `\xHH` and `\<any>`; `'...'` understands only `\'`. A quote may open in
/// the middle of an argument, but a closing quote must be followed by a blank
/// or the end of the line. `line` holds no NUL (the caller's line scan stops
/// at one), so reading past its end as NUL mirrors the C string.
///
/// Always inlined, so that the request parser's code stays as it was before
/// the config file reader also called it (callgrind counted 27 more
/// instructions per GET/SET in `RequestParser::parse` otherwise).
#[inline(always)]
fn split_inline(line: &[u8], args: &mut Args) -> Result<(), ProtocolError> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(());
        }
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(p);
            if in_double {
                let hex = (c == b'\\' && at(p + 1) == b'x')
                    .then(|| Some(hex_value(at(p + 2))? * 16 + hex_value(at(p + 3))?))
                    .flatten();
                if let Some(byte) = hex {
                    args.extend_current(&[byte]);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let escaped = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    args.extend_current(&[escaped]);
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.extend_current(&[c]);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    args.extend_current(b"'");
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.extend_current(&[c]);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        p += 1;
                        break;
                    }
                    0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => {
                        // Copy the plain run in one go.
                        let run = line[p..]
                            .iter()
                            .position(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''))
                            .unwrap_or(line.len() - p);
                        args.extend_current(&line[p..p + run]);
                        p += run;
                        continue;
                    }
                }
            }
            p += 1;
        }
        args.finish_arg();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_MAX_BULK_LEN;

    type Requests = Vec<Vec<Vec<u8>>>;

    /// Drives a parser as a connection does: appends each read to a buffer,
    /// takes out every complete request and drops what the parser consumed.
    /// Checks that an incomplete parse absorbs everything it was given, so
    /// that nothing is ever scanned twice.
    fn feed_with(parser: &mut RequestParser, reads: &[&[u8]]) -> Result<Requests, ProtocolError> {
        let mut pending = Vec::new();
        let mut requests = Vec::new();
        for read in reads {
            pending.extend_from_slice(read);
            loop {
                match parser.parse(&pending)? {
                    ParseStatus::Complete { args, consumed } => {
                        assert!(consumed > 0 && consumed <= pending.len());
                        assert!(!args.is_empty());
                        requests.push(args.iter().map(<[u8]>::to_vec).collect());
                        pending.drain(..consumed);
                    }
                    ParseStatus::Incomplete { consumed } => {
                        assert_eq!(consumed, pending.len(), "incomplete must absorb all");
                        pending.clear();
                        break;
                    }
                }
            }
        }
        Ok(requests)
    }

    #[test]
    fn recycled_requests_are_reused_cleared() {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        let first = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let Ok(ParseStatus::Complete { args, .. }) = parser.parse(first) else {
            panic!("a whole request");
        };
        let data = args.data.as_ptr();
        parser.recycle(args);
        // The request after the next one gets the recycled allocation.
        let get = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let Ok(ParseStatus::Complete { args: next, .. }) = parser.parse(get) else {
            panic!("a whole request");
        };
        assert_eq!(next, Args::from_slices(&["GET", "k"]));
        let Ok(ParseStatus::Complete { args: reused, .. }) = parser.parse(get) else {
            panic!("a whole request");
        };
        assert_eq!(reused, Args::from_slices(&["GET", "k"]));
        assert_eq!(reused.data.as_ptr(), data);
        // A big request is not kept.
        let mut big = Args::new();
        big.push(&[b'x'; MAX_SPARE_ARG_BYTES + 1]);
        parser.recycle(big);
        assert!(parser.spare.is_empty());
    }

    fn feed(reads: &[&[u8]]) -> Result<Requests, ProtocolError> {
        feed_with(&mut RequestParser::new(DEFAULT_MAX_BULK_LEN), reads)
    }

    fn parse_whole(input: &[u8]) -> Result<Requests, ProtocolError> {
        feed(&[input])
    }

    fn parse_bytewise(input: &[u8]) -> Result<Requests, ProtocolError> {
        let reads: Vec<&[u8]> = input.chunks(1).collect();
        feed(&reads)
    }

    fn req(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    /// The same result whether `input` arrives whole, a byte at a time, or
    /// split in two (or three) reads at every boundary.
    fn assert_split_invariant(input: &[u8]) -> Result<Requests, ProtocolError> {
        let whole = parse_whole(input);
        assert_eq!(parse_bytewise(input), whole, "bytewise");
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(feed(&[a, b]), whole, "split at {i}");
        }
        if input.len() <= 64 {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let reads = [&input[..i], &input[i..j], &input[j..]];
                    assert_eq!(feed(&reads), whole, "split at {i} and {j}");
                }
            }
        }
        whole
    }

    /// Only an `Incomplete` that absorbed everything: no request, no error.
    fn assert_waits(input: &[u8]) {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        assert_eq!(
            parser.parse(input),
            Ok(ParseStatus::Incomplete {
                consumed: input.len()
            })
        );
    }

    fn assert_error(input: &[u8], error: ProtocolError, reply: &str) {
        assert_eq!(parse_whole(input), Err(error.clone()));
        assert_eq!(error.reply_text(), reply);
    }

    #[test]
    fn single_multibulk_request() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        assert_eq!(
            parser.parse(input),
            Ok(ParseStatus::Complete {
                args: Args::from_slices(&["SET", "key", "value"]),
                consumed: input.len()
            })
        );
        assert_eq!(
            parser.parse(b""),
            Ok(ParseStatus::Incomplete { consumed: 0 })
        );
    }

    #[test]
    fn complete_leaves_the_next_request_unconsumed() {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        let input = b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI";
        assert_eq!(
            parser.parse(input),
            Ok(ParseStatus::Complete {
                args: Args::from_slices(&["PING"]),
                consumed: 14
            })
        );
        assert_eq!(
            parser.parse(&input[14..]),
            Ok(ParseStatus::Incomplete { consumed: 10 })
        );
        assert_eq!(
            parser.parse(b"NG\r\n"),
            Ok(ParseStatus::Complete {
                args: Args::from_slices(&["PING"]),
                consumed: 4
            })
        );
    }

    #[test]
    fn pipeline_split_at_every_boundary() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\n\0x\r\n\
            *0\r\n\
            PING\r\n\
            \r\n\
            *-1\r\n\
            ECHO \"a b\" 'c'\n\
            *2\r\n$3\r\nGET\r\n$0\r\n\r\n\
            *1\r\n$4\r\nQUIT\r\n";
        assert_eq!(
            assert_split_invariant(input),
            Ok(vec![
                req(&[b"SET", b"k", b"v\r\n\0x"]),
                req(&[b"PING"]),
                req(&[b"ECHO", b"a b", b"c"]),
                req(&[b"GET", b""]),
                req(&[b"QUIT"]),
            ])
        );
    }

    #[test]
    fn small_pipeline_split_in_three_reads_everywhere() {
        let input = b"*2\r\n$1\r\na\r\n$2\r\n\r\n\r\nb 'c'\r\n*0\r\n\n";
        assert_eq!(
            assert_split_invariant(input),
            Ok(vec![req(&[b"a", b"\r\n"]), req(&[b"b", b"c"])])
        );
    }

    #[test]
    fn many_requests_in_one_buffer() {
        let one = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
        let input = one.repeat(10_000);
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        let mut pos = 0;
        let mut count = 0;
        while let Ok(ParseStatus::Complete { args, consumed }) = parser.parse(&input[pos..]) {
            assert_eq!(consumed, one.len());
            assert_eq!(args, Args::from_slices(&["ECHO", "hello"]));
            pos += consumed;
            count += 1;
        }
        assert_eq!((count, pos), (10_000, input.len()));
    }

    #[test]
    fn binary_safe_bulk_payloads() {
        let payload: &[u8] = b"\r\n\0*1\r\n$3\r\n\xff\x00\n\r";
        let mut input = format!("*2\r\n$3\r\nSET\r\n${}\r\n", payload.len()).into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(b"\r\n");
        assert_eq!(
            assert_split_invariant(&input),
            Ok(vec![req(&[b"SET", payload])])
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        for input in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*-5\r\n",
            b"\r\n",
            b"\n",
            b"   \t\r\n",
            b"\r\r\n",
            b"\x0b\x0c\n",
        ] {
            let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
            assert_eq!(
                parser.parse(input),
                Ok(ParseStatus::Incomplete {
                    consumed: input.len()
                }),
                "{input:?}"
            );
            let mut with_ping = input.to_vec();
            with_ping.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            assert_eq!(
                assert_split_invariant(&with_ping),
                Ok(vec![req(&[b"PING"])])
            );
        }
    }

    #[test]
    fn multibulk_count_limit_is_a_million() {
        // Mayfly refuses counts above 1048576 with Redis's error text (Redis
        // 7.0.15 itself waits for up to INT_MAX arguments; see MAX_MULTIBULK_LEN).
        assert_waits(b"*1048576\r\n");
        for count in [&b"*1048577\r\n"[..], b"*2147483647\r\n", b"*2147483648\r\n"] {
            assert_error(
                count,
                ProtocolError::InvalidMultibulkLength,
                "ERR Protocol error: invalid multibulk length",
            );
        }
    }

    #[test]
    fn a_million_arguments() {
        let n = 1_048_576;
        let mut input = format!("*{n}\r\n").into_bytes();
        for _ in 0..n {
            input.extend_from_slice(b"$1\r\na\r\n");
        }
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        match parser.parse(&input) {
            Ok(ParseStatus::Complete { args, consumed }) => {
                assert_eq!((args.len(), consumed), (n, input.len()));
                assert!(args.iter().all(|a| a == b"a"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn many_arguments_in_small_reads() {
        let n = 200_000;
        let mut input = format!("*{n}\r\n").into_bytes();
        for i in 0..n {
            let arg = i.to_string();
            input.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        let reads: Vec<&[u8]> = input.chunks(7).collect();
        let requests = feed(&reads).unwrap_or_default();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].len(), n);
        assert_eq!(requests[0][123_456], b"123456");
    }

    #[test]
    fn large_bulk_in_small_reads() {
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = format!("*2\r\n$3\r\nSET\r\n${}\r\n", payload.len()).into_bytes();
        input.extend_from_slice(&payload);
        input.extend_from_slice(b"\r\n");
        let reads: Vec<&[u8]> = input.chunks(1000).collect();
        assert_eq!(feed(&reads), Ok(vec![vec![b"SET".to_vec(), payload]]));
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate_up_front() {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        let input = b"*1048576\r\n$536870912\r\nabc";
        assert_eq!(
            parser.parse(input),
            Ok(ParseStatus::Incomplete {
                consumed: input.len()
            })
        );
        assert!(parser.args.args_capacity() <= MAX_PREALLOC_ARGS);
        assert!(parser.args.data_capacity() <= MAX_PREALLOC_BULK);
    }

    #[test]
    fn bulk_length_limit() {
        // Redis 7.0.15 with the default proto-max-bulk-len: 536870912 waits,
        // 536870913 is refused.
        assert_waits(b"*1\r\n$536870912\r\n");
        assert_error(
            b"*1\r\n$536870913\r\n",
            ProtocolError::InvalidBulkLength,
            "ERR Protocol error: invalid bulk length",
        );
        let mut parser = RequestParser::new(3);
        assert_eq!(
            feed_with(&mut parser, &[b"*1\r\n$3\r\nabc\r\n"]),
            Ok(vec![req(&[b"abc"])])
        );
        assert_eq!(
            feed_with(&mut parser, &[b"*1\r\n$4\r\nabcd\r\n"]),
            Err(ProtocolError::InvalidBulkLength)
        );
        parser.set_max_bulk_len(4);
        assert_eq!(
            feed_with(&mut parser, &[b"*1\r\n$4\r\nabcd\r\n"]),
            Ok(vec![req(&[b"abcd"])])
        );
    }

    #[test]
    fn pending_len_counts_the_argument_being_received() {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        let first = b"*3\r\n$3\r\nSET\r\n$5\r\nabcde\r\n$10\r\n12345";
        assert_eq!(
            parser.parse(first),
            Ok(ParseStatus::Incomplete {
                consumed: first.len()
            })
        );
        // Finished arguments are not counted, as Redis moves them out of
        // the query buffer; the value's 5 bytes so far are.
        assert_eq!(parser.pending_len(), 5);
        let inline = b"SET k 123";
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        assert!(matches!(
            parser.parse(inline),
            Ok(ParseStatus::Incomplete { .. })
        ));
        assert_eq!(parser.pending_len(), inline.len());
    }

    #[test]
    fn invalid_multibulk_lengths() {
        // Each verified against Redis 7.0.15: `-ERR Protocol error: invalid multibulk length`.
        for input in [
            &b"*abc\r\n"[..],
            b"*-0\r\n",
            b"*01\r\n$4\r\nPING\r\n",
            b"*+1\r\n$4\r\nPING\r\n",
            b"*\r\n$4\r\nPING\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*99999999999999999999\r\n",
            b"*-9223372036854775809\r\n",
            // A bare `\n` ends nothing: the count runs to the next `\r`.
            b"*1\n$4\r\nPING\r\n",
            b"*1\nfoo bar\r\n",
        ] {
            assert_eq!(
                parse_whole(input),
                Err(ProtocolError::InvalidMultibulkLength),
                "{input:?}"
            );
            assert_eq!(
                parse_bytewise(input),
                Err(ProtocolError::InvalidMultibulkLength),
                "{input:?}"
            );
        }
        assert_eq!(
            ProtocolError::InvalidMultibulkLength.reply_text(),
            "ERR Protocol error: invalid multibulk length"
        );
        // ... and with no `\r` at all, Redis 7.0.15 just waits.
        assert_waits(b"*1\n$4\nPING\n");
    }

    #[test]
    fn invalid_bulk_lengths() {
        // Each verified against Redis 7.0.15: `-ERR Protocol error: invalid bulk length`.
        for input in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$abc\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$+1\r\n",
            b"*1\r\n$4\nPING\r\n",
            b"*2\r\n$4\r\nECHO\r\n$-0\r\n",
        ] {
            assert_eq!(
                parse_whole(input),
                Err(ProtocolError::InvalidBulkLength),
                "{input:?}"
            );
            assert_eq!(
                parse_bytewise(input),
                Err(ProtocolError::InvalidBulkLength),
                "{input:?}"
            );
        }
    }

    #[test]
    fn expected_dollar() {
        // Redis 7.0.15: `*1\r\n+foo\r\n` -> `-ERR Protocol error: expected '$', got '+'`,
        // but `*1\r\n+foo` (no `\r` yet) waits.
        assert_error(
            b"*1\r\n+foo\r\n",
            ProtocolError::ExpectedDollar(b'+'),
            "ERR Protocol error: expected '$', got '+'",
        );
        assert_eq!(
            parse_bytewise(b"*1\r\n+foo\r\n"),
            Err(ProtocolError::ExpectedDollar(b'+'))
        );
        assert_waits(b"*1\r\n+foo");
        assert_error(
            b"*2\r\n$3\r\nGET\r\nx\r\n",
            ProtocolError::ExpectedDollar(b'x'),
            "ERR Protocol error: expected '$', got 'x'",
        );
        // Redis 7.0.15 shows a `\r` or `\n` as a space.
        assert_error(
            b"*1\r\n\n\r\n",
            ProtocolError::ExpectedDollar(b'\n'),
            "ERR Protocol error: expected '$', got ' '",
        );
        assert_error(
            b"*1\r\n\r\n",
            ProtocolError::ExpectedDollar(b'\r'),
            "ERR Protocol error: expected '$', got ' '",
        );
        assert_eq!(
            parse_bytewise(b"*1\r\n\r\n"),
            Err(ProtocolError::ExpectedDollar(b'\r'))
        );
        // Redis sends 0xff raw; a String carries it as U+00FF.
        assert_error(
            b"*1\r\n\xff\r\n",
            ProtocolError::ExpectedDollar(0xff),
            "ERR Protocol error: expected '$', got '\u{ff}'",
        );
    }

    #[test]
    fn header_terminator_is_cr_plus_any_byte() {
        // Redis 7.0.15 answers +PONG to each of these.
        for input in [
            &b"*1\rX$4\r\nPING\r\n"[..],
            b"*1\r\n$4\rXPINGab",
            b"*1\r\n$4\r\nPINGxy",
        ] {
            assert_eq!(
                assert_split_invariant(input),
                Ok(vec![req(&[b"PING"])]),
                "{input:?}"
            );
        }
    }

    #[test]
    fn too_big_inline_request() {
        // Redis 7.0.15: 65536 pending bytes without `\n` wait, 65537 fail.
        assert_waits(&[b'A'; MAX_INLINE_LEN]);
        assert_error(
            &[b'A'; MAX_INLINE_LEN + 1],
            ProtocolError::TooBigInlineRequest,
            "ERR Protocol error: too big inline request",
        );
        assert_error(
            &[b'A'; 70_000],
            ProtocolError::TooBigInlineRequest,
            "ERR Protocol error: too big inline request",
        );
        let long = vec![b'A'; 70_000];
        let reads: Vec<&[u8]> = long.chunks(4096).collect();
        assert_eq!(feed(&reads), Err(ProtocolError::TooBigInlineRequest));
    }

    #[test]
    fn long_inline_line_is_fine_when_its_newline_is_already_there() {
        let mut input = b"ECHO ".to_vec();
        input.extend_from_slice(&[b'a'; 70_000]);
        input.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_whole(&input),
            Ok(vec![vec![b"ECHO".to_vec(), vec![b'a'; 70_000]]])
        );
        // In reads that leave more than 64 KiB pending without a newline, it fails.
        assert_eq!(
            parse_bytewise(&input),
            Err(ProtocolError::TooBigInlineRequest)
        );
    }

    #[test]
    fn too_big_mbulk_count_string() {
        let mut line = vec![b'*'];
        line.extend_from_slice(&[b'1'; MAX_INLINE_LEN - 1]);
        assert_waits(&line);
        line.push(b'1');
        assert_error(
            &line,
            ProtocolError::TooBigMbulkCountString,
            "ERR Protocol error: too big mbulk count string",
        );
        let mut line = vec![b'*'];
        line.extend_from_slice(&[b'1'; 70_000]);
        assert_eq!(
            parse_bytewise(&line),
            Err(ProtocolError::TooBigMbulkCountString)
        );
        // With its `\r` already there, the count is read and refused (Redis 7.0.15 too).
        line.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_whole(&line),
            Err(ProtocolError::InvalidMultibulkLength)
        );
    }

    #[test]
    fn too_big_bulk_count_string() {
        let mut input = b"*1\r\n$".to_vec();
        input.extend_from_slice(&[b'1'; 70_000]);
        assert_error(
            &input,
            ProtocolError::TooBigBulkCountString,
            "ERR Protocol error: too big bulk count string",
        );
        assert_eq!(
            parse_bytewise(&input),
            Err(ProtocolError::TooBigBulkCountString)
        );
    }

    #[test]
    fn nul_before_a_line_end_hides_it() {
        // Redis 7.0.15 finds line ends with strchr: each of these waits, then
        // fails as too big once more than 64 KiB are pending.
        let filler = vec![b'B'; 70_000];
        for (input, error) in [
            (
                &b"ECHO a\0b\r\nPING\r\n"[..],
                ProtocolError::TooBigInlineRequest,
            ),
            (
                b"*1\0\r\n$4\r\nPING\r\n",
                ProtocolError::TooBigMbulkCountString,
            ),
            (
                b"*1\r\n$4\0\r\nPING\r\n",
                ProtocolError::TooBigBulkCountString,
            ),
            (
                b"*1\r\n\0$4\r\nPING\r\n",
                ProtocolError::TooBigBulkCountString,
            ),
        ] {
            assert_eq!(parse_whole(input), Ok(vec![]), "{input:?}");
            assert_eq!(parse_bytewise(input), Ok(vec![]), "{input:?}");
            assert_eq!(feed(&[input, &filler]), Err(error.clone()), "{input:?}");
            let mut whole = input.to_vec();
            whole.extend_from_slice(&filler);
            assert_eq!(parse_whole(&whole), Err(error), "{input:?}");
        }
        // Not too big yet: 17 + 65519 = 65536 pending bytes.
        assert_eq!(
            feed(&[b"ECHO a\0b\r\nPING\r\n", &[b'B'; 65_519]]),
            Ok(vec![])
        );
        // A NUL after the `\r` of a header, or inside a payload, is fine.
        assert_eq!(
            assert_split_invariant(b"*2\r\0$4\r\0ECHO\r\n$3\r\na\0b\r\n"),
            Ok(vec![req(&[b"ECHO", b"a\0b"])])
        );
    }

    #[test]
    fn inline_requests() {
        // Each verified against Redis 7.0.15 with ECHO or PING.
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"PING\r\n", &[b"PING"]),
            (b"PING\n", &[b"PING"]),
            (b"  SET   k\tv  \r\n", &[b"SET", b"k", b"v"]),
            (b"ECHO\t\thi\r\n", &[b"ECHO", b"hi"]),
            (b"ECHO \"a\\x41\\n\\tb\"\r\n", &[b"ECHO", b"aA\n\tb"]),
            (b"ECHO 'it\\'s'\r\n", &[b"ECHO", b"it's"]),
            (b"ECHO a\"b c\"\r\n", &[b"ECHO", b"ab c"]),
            (b"ECHO 'a\\nb'\r\n", &[b"ECHO", b"a\\nb"]),
            (b"ECHO \"\\xZZ\"\r\n", &[b"ECHO", b"xZZ"]),
            (b"ECHO \"\"\r\n", &[b"ECHO", b""]),
            (b"ECHO a\x0bb\r\n", &[b"ECHO", b"a\x0bb"]),
            (b"ECHO \x0bab\r\n", &[b"ECHO", b"ab"]),
            (b"ECHO a\rb\r\n", &[b"ECHO", b"a", b"b"]),
            (b"ECHO \"a\\\"b\"\r\n", &[b"ECHO", b"a\"b"]),
            (b"ECHO \"\\q\\\\\"\r\n", &[b"ECHO", b"q\\"]),
            (b"ECHO \"\\x4A\\x4a\\x4\"\r\n", &[b"ECHO", b"JJx4"]),
            (b"ECHO 'a\"b'\r\n", &[b"ECHO", b"a\"b"]),
            (b"ECHO \"a\"\tb\r\n", &[b"ECHO", b"a", b"b"]),
            (b"ECHO 'a\\b'\r\n", &[b"ECHO", b"a\\b"]),
            (b"ECHO \"a\"\x0b\r\n", &[b"ECHO", b"a"]),
            (b"ECHO \"\\a\\b\\r\"\r\n", &[b"ECHO", b"\x07\x08\r"]),
            (b"ECHO \"a\\x00b\"\r\n", &[b"ECHO", b"a\0b"]),
            (b"ECHO \xff\xfe\r\n", &[b"ECHO", b"\xff\xfe"]),
            (b"$4 *1 +x\r\n", &[b"$4", b"*1", b"+x"]),
            (b"a'b c'\r\n", &[b"ab c"]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                assert_split_invariant(input),
                Ok(vec![req(expected)]),
                "{input:?}"
            );
        }
    }

    #[test]
    fn unbalanced_quotes() {
        // Each verified against Redis 7.0.15:
        // `-ERR Protocol error: unbalanced quotes in request`.
        for input in [
            &b"ECHO \"abc\r\n"[..],
            b"ECHO \"abc\"def\r\n",
            b"ECHO 'abc'def\r\n",
            b"ECHO \"ab\\\"\r\n",
            b"ECHO 'abc\r\n",
            b"ECHO \"a\"\"b\"\r\n",
            b"\"\r\n",
        ] {
            assert_eq!(
                assert_split_invariant(input),
                Err(ProtocolError::UnbalancedQuotes),
                "{input:?}"
            );
        }
        assert_eq!(
            ProtocolError::UnbalancedQuotes.reply_text(),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn inline_crlf_split_across_reads() {
        assert_eq!(feed(&[b"PING\r", b"\n"]), Ok(vec![req(&[b"PING"])]));
        assert_eq!(
            feed(&[b"PI", b"NG", b"\r", b"", b"\nECHO x\n"]),
            Ok(vec![req(&[b"PING"]), req(&[b"ECHO", b"x"])])
        );
    }

    #[test]
    fn parser_starts_afresh_after_an_error() {
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        assert_eq!(
            parser.parse(b"*2\r\n$4\r\nECHO\r\n"),
            Ok(ParseStatus::Incomplete { consumed: 14 })
        );
        assert_eq!(
            parser.parse(b"*1\r\n"),
            Err(ProtocolError::ExpectedDollar(b'*'))
        );
        assert_eq!(
            feed_with(&mut parser, &[b"*1\r\n$4\r\nPING\r\n"]),
            Ok(vec![req(&[b"PING"])])
        );
    }

    #[test]
    fn reply_texts() {
        let cases = [
            (
                ProtocolError::InvalidMultibulkLength,
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                ProtocolError::InvalidBulkLength,
                "ERR Protocol error: invalid bulk length",
            ),
            (
                ProtocolError::ExpectedDollar(b'x'),
                "ERR Protocol error: expected '$', got 'x'",
            ),
            (
                ProtocolError::TooBigInlineRequest,
                "ERR Protocol error: too big inline request",
            ),
            (
                ProtocolError::TooBigMbulkCountString,
                "ERR Protocol error: too big mbulk count string",
            ),
            (
                ProtocolError::TooBigBulkCountString,
                "ERR Protocol error: too big bulk count string",
            ),
            (
                ProtocolError::UnbalancedQuotes,
                "ERR Protocol error: unbalanced quotes in request",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.reply_text(), text);
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn parse_count_mirrors_string2ll() {
        assert_eq!(parse_integer(b"0"), Some(0));
        assert_eq!(parse_integer(b"7"), Some(7));
        assert_eq!(parse_integer(b"-7"), Some(-7));
        assert_eq!(parse_integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_integer(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1x",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // A cheap deterministic fuzz: random mixes of protocol-ish bytes,
        // whole and in random reads, never panic and agree with each other
        // unless a "too big" limit depends on how the bytes were read.
        let alphabet = b"*$\r\n0123-+ab\"'\\x \t\0";
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let whole = parse_whole(&input);
            let mut reads = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = ((next() % 5) as usize).min(rest.len());
                let (a, b) = rest.split_at(n);
                reads.push(a);
                rest = b;
            }
            assert_eq!(feed(&reads), whole, "{input:?}");
        }
    }
}
