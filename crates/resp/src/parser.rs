//! The incremental request parser: RESP2 multibulk requests and inline
//! commands, fed whatever each TCP read produced.
// IMPLEMENTATION PENDING (helper)
use crate::Args;

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
    pub fn reply_text(&self) -> String {
        todo!()
    }
}

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

/// Incremental parser for one connection.
#[derive(Debug)]
pub struct RequestParser {
    _max_bulk_len: usize,
}

impl RequestParser {
    /// A parser that refuses bulk arguments longer than `max_bulk_len`.
    pub fn new(max_bulk_len: usize) -> Self {
        Self { _max_bulk_len: max_bulk_len }
    }

    /// Parses the next request from `buf`.
    pub fn parse(&mut self, _buf: &[u8]) -> Result<ParseStatus, ProtocolError> {
        todo!()
    }
}
