//! Integer arguments, parsed as strictly as Redis's `string2ll` (no spaces, no
//! `+`, no leading zeros, no `-0`, within i64) by the same function the
//! protocol parser uses for lengths.

use crate::CommandError;

/// Parses `s` exactly as Redis's `string2ll` does.
pub use resp::parse_integer as parse_i64;

/// Parses an integer argument or returns Redis's "not an integer" error.
pub fn integer_arg(s: &[u8]) -> Result<i64, CommandError> {
    parse_i64(s).ok_or(CommandError::NotAnInteger)
}
