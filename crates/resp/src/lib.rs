//! RESP2/RESP3 wire format for Mayfly: the incremental request parser and the
//! reply encoder.
//!
//! This crate owns bytes on the wire and nothing else. It must never depend on
//! sockets, glommio, the store or the command table, so that it stays fast to
//! test and easy to fuzz.

mod args;
mod encoder;
mod parser;

pub use args::Args;
pub use encoder::{Protocol, ReplyEncoder};
pub use parser::{parse_integer, repr, split_args, ParseStatus, ProtocolError, RequestParser};

/// Redis's default `proto-max-bulk-len`: the largest bulk argument accepted (512 MB).
pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// The largest multibulk request (number of arguments) accepted: 1024 * 1024.
/// A larger count gets Redis's `Protocol error: invalid multibulk length`, as
/// Redis up to 6.2 refused it. Redis 7.0 accepts counts up to `INT_MAX`; Mayfly
/// keeps the older, tighter bound on purpose (the foundation issue asks for it):
/// no real client sends a million-argument command.
pub const MAX_MULTIBULK_LEN: usize = 1024 * 1024;
/// The longest inline request, or `*`/`$` header line, accepted without a newline.
pub const MAX_INLINE_LEN: usize = 64 * 1024;
