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

#[cfg(test)]
mod tests {
    use store::{Encoding, Value};

    /// The store decides the `int` encoding with its own copy of string2ll's
    /// rules (it may not depend on `resp`); both must agree.
    #[test]
    fn store_int_encoding_agrees_with_the_integer_parser() {
        for s in [
            "0",
            "-0",
            "1",
            "-1",
            "007",
            "+1",
            " 1",
            "1 ",
            "",
            "-",
            "12a",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1.0",
            "1e3",
        ] {
            let int = Value::String(s.as_bytes().to_vec()).stored_encoding() == Encoding::Int;
            assert_eq!(int, super::parse_i64(s.as_bytes()).is_some(), "{s:?}");
        }
    }
}
