//! Values stored under keys, and the encoding Redis would report for them.

/// A value. Only strings exist so far; other types become variants here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    String(Vec<u8>),
}

impl Value {
    /// Redis's type name, as TYPE replies.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
        }
    }

    /// Heap bytes the value owns, as allocated (a string's capacity, not
    /// its length): what its keyspace counts (`Keyspace::memory_bytes`).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(s) => s.capacity(),
        }
    }

    /// A borrowed view of the value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::String(s) => ValueRef::String(s),
        }
    }

    /// The encoding Redis gives this value when a client stores it with SET
    /// and the like (`tryObjectEncoding`); see [`Encoding::of_stored_string`].
    pub fn stored_encoding(&self) -> Encoding {
        match self {
            Value::String(s) => Encoding::of_stored_string(s),
        }
    }
}

/// A value as stored, borrowed: what [`crate::Entry::value`] gives (an
/// entry may keep a small value inline, where no [`Value`] exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// A binary-safe string.
    String(&'a [u8]),
}

impl ValueRef<'_> {
    /// Redis's type name, as TYPE replies.
    pub fn type_name(self) -> &'static str {
        match self {
            ValueRef::String(_) => "string",
        }
    }

    /// An owned copy.
    pub fn to_owned(self) -> Value {
        match self {
            ValueRef::String(s) => Value::String(s.to_vec()),
        }
    }
}

/// Longest string Redis keeps in one allocation with its object header
/// (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_LIMIT: usize = 44;

/// The internal representation Redis would use for a value, as `OBJECT
/// ENCODING` reports it. Mayfly stores every string the same way; the
/// encoding is kept beside it (one byte of the entry) because it depends on
/// the command history: `SET k 123` gives `int`, `APPEND` makes `raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// A string in its own allocation (`raw`).
    Raw = 0,
    /// A string that is a 64-bit integer (`int`).
    Int = 1,
    /// A short string allocated with its object (`embstr`).
    Embstr = 2,
    /// `int`, in an object of its own even where Redis would share one
    /// (0..9999): what COPY makes of an integer (`dupStringObject`).
    IntUnshared = 3,
}

impl Encoding {
    /// The name `OBJECT ENCODING` replies.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Int | Encoding::IntUnshared => "int",
            Encoding::Embstr => "embstr",
        }
    }

    /// Whether it is `int`.
    pub fn is_int(self) -> bool {
        matches!(self, Encoding::Int | Encoding::IntUnshared)
    }

    /// The encoding of a copy of a value with this encoding (COPY).
    pub fn of_copy(self) -> Self {
        match self {
            Encoding::Int => Encoding::IntUnshared,
            other => other,
        }
    }

    /// The encoding of a string stored as given (SET, SETEX, GETSET, APPEND
    /// to a missing key...): `int` when it is an integer in Redis's strict
    /// form, else `embstr` up to 44 bytes, else `raw`.
    pub fn of_stored_string(s: &[u8]) -> Self {
        if s.len() <= 20 && is_strict_i64(s) {
            Encoding::Int
        } else {
            Self::of_created_string(s)
        }
    }

    /// The encoding of a string a command builds without trying the integer
    /// form (INCRBYFLOAT's result, `createStringObject`): `embstr` up to 44
    /// bytes, else `raw`.
    pub fn of_created_string(s: &[u8]) -> Self {
        if s.len() <= EMBSTR_LIMIT {
            Encoding::Embstr
        } else {
            Encoding::Raw
        }
    }

    /// The inverse of `as u8`; unknown values read as `Raw`.
    pub(crate) fn from_bits(bits: u8) -> Self {
        match bits {
            1 => Encoding::Int,
            2 => Encoding::Embstr,
            3 => Encoding::IntUnshared,
            _ => Encoding::Raw,
        }
    }
}

/// True when `s` is a signed 64-bit integer written as Redis's `string2ll`
/// accepts it: optional `-`, no `+`, no spaces, no leading zeros, no `-0`.
/// (The `resp` crate's `parse_integer` is the parser; this crate may not
/// depend on it, and a commands test checks that the two agree.)
fn is_strict_i64(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    let negative = digits.len() != s.len();
    match digits {
        [] => false,
        [b'0'] => !negative,
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {
            // Within i64: compare as decimal strings of equal length.
            let limit: &[u8] = if negative {
                b"9223372036854775808"
            } else {
                b"9223372036854775807"
            };
            digits.len() < limit.len() || (digits.len() == limit.len() && digits <= limit)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_strings_take_redis_encodings() {
        for (s, enc) in [
            (&b"123"[..], Encoding::Int),
            (b"-5", Encoding::Int),
            (b"0", Encoding::Int),
            (b"9223372036854775807", Encoding::Int),
            (b"-9223372036854775808", Encoding::Int),
            (b"9223372036854775808", Encoding::Embstr),
            (b"-9223372036854775809", Encoding::Embstr),
            (b"00123", Encoding::Embstr),
            (b"-0", Encoding::Embstr),
            (b" 1", Encoding::Embstr),
            (b"+1", Encoding::Embstr),
            (b"1.5", Encoding::Embstr),
            (b"", Encoding::Embstr),
            (b"-", Encoding::Embstr),
            (&[b'x'; 44], Encoding::Embstr),
            (&[b'x'; 45], Encoding::Raw),
            (&[b'1'; 45], Encoding::Raw),
        ] {
            assert_eq!(Encoding::of_stored_string(s), enc, "{s:?}");
        }
        assert_eq!(Encoding::of_created_string(b"6"), Encoding::Embstr);
        assert_eq!(Encoding::of_created_string(&[b'1'; 45]), Encoding::Raw);
        for e in [Encoding::Raw, Encoding::Int, Encoding::Embstr] {
            assert_eq!(Encoding::from_bits(e as u8), e);
        }
    }
}
