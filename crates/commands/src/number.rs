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
    use super::*;

    #[test]
    fn accepts_what_string2ll_accepts() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"10"), Some(10));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn rejects_what_string2ll_rejects() {
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"007",
            b"+5",
            b" 5",
            b"5 ",
            b"1.0",
            b"ten",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
