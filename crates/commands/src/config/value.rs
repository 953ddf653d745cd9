//! Option values: how each kind of option is read from a config file line,
//! the command line or CONFIG SET, checked with Redis 7.0's own error texts
//! (config.c's numeric, bool, enum and special configs), and written back
//! for CONFIG GET and CONFIG REWRITE.

use resp::repr;

/// The range an integer or memory option accepts. `unsigned` mirrors
/// Redis's unsigned option types: a negative number is then compared as
/// the huge unsigned value it becomes, so it is "out of range" rather than
/// "not an integer", as in Redis.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Smallest value accepted.
    pub min: i128,
    /// Largest value accepted.
    pub max: i128,
    /// Whether the value is an unsigned quantity.
    pub unsigned: bool,
}

impl Bounds {
    /// Signed bounds.
    pub const fn signed(min: i128, max: i128) -> Self {
        Self {
            min,
            max,
            unsigned: false,
        }
    }

    /// Unsigned bounds.
    pub const fn unsigned(min: i128, max: i128) -> Self {
        Self {
            min,
            max,
            unsigned: true,
        }
    }

    /// Redis's `numericBoundaryCheck`.
    fn check(&self, n: i64) -> Result<(), String> {
        let as_compared = if self.unsigned {
            i128::from(n as u64)
        } else {
            i128::from(n)
        };
        if as_compared < self.min || as_compared > self.max {
            return Err(format!(
                "argument must be between {} and {} inclusive",
                self.min, self.max
            ));
        }
        Ok(())
    }
}

/// How an option's value is written and checked.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A decimal integer (Redis's `string2ll`: no sign but `-`, no spaces,
    /// no leading zeros) within bounds.
    Integer(Bounds),
    /// Bytes, with an optional unit (b, k, kb, m, mb, g, gb; k = 1000,
    /// kb = 1024; any case), within bounds.
    Memory(Bounds),
    /// `yes` or `no`, any case.
    YesNo,
    /// One of these names, any case.
    Enum(&'static [&'static str]),
    /// Any string (one argument). With `empty_is_none`, "" means the
    /// option is not set (Redis's `EMPTY_STRING_IS_NULL`: CONFIG REWRITE
    /// then drops its lines).
    Text {
        /// Whether "" means not set.
        empty_is_none: bool,
    },
    /// Addresses to listen on (`bind`): any number of arguments.
    Addresses,
    /// Snapshot points (`save`): pairs of seconds and changes.
    SavePoints,
}

/// A checked option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer or a memory amount, kept as Redis keeps it: a `long long`
    /// (unsigned options hold the same bits).
    Integer(i64),
    /// `yes` (true) or `no`.
    YesNo(bool),
    /// An enum option's name, as the table spells it.
    Choice(&'static str),
    /// A string option.
    Text(Vec<u8>),
    /// A multi-argument option's words.
    Words(Vec<Vec<u8>>),
}

impl Value {
    /// The integer, or 0 for another kind of value.
    pub fn integer(&self) -> i64 {
        match self {
            Value::Integer(n) => *n,
            _ => 0,
        }
    }

    /// The bytes of a string value, or nothing.
    pub fn text(&self) -> &[u8] {
        match self {
            Value::Text(t) => t,
            _ => &[],
        }
    }

    /// The chosen name of an enum value, or "".
    pub fn choice(&self) -> &'static str {
        match self {
            Value::Choice(c) => c,
            _ => "",
        }
    }

    /// The words of a multi-argument value, or none.
    pub fn words(&self) -> &[Vec<u8>] {
        match self {
            Value::Words(w) => w,
            _ => &[],
        }
    }

    /// The `yes`/`no` value, or false.
    pub fn yes(&self) -> bool {
        matches!(self, Value::YesNo(true))
    }
}

impl Kind {
    /// Whether the option takes any number of arguments (Redis's
    /// `MULTI_ARG_CONFIG`) rather than exactly one.
    pub fn multi_arg(&self) -> bool {
        matches!(self, Kind::Addresses | Kind::SavePoints)
    }

    /// Checks the arguments given for an option (one, unless
    /// [`Kind::multi_arg`]) and returns the value, or Redis's reason.
    pub fn parse(&self, args: &[Vec<u8>]) -> Result<Value, String> {
        let one = || match args {
            [value] => Ok(&value[..]),
            _ => Err(String::from("wrong number of arguments")),
        };
        match *self {
            Kind::Integer(bounds) => {
                let n = resp::parse_integer(one()?)
                    .ok_or("argument couldn't be parsed into an integer")?;
                bounds.check(n)?;
                Ok(Value::Integer(n))
            }
            Kind::Memory(bounds) => {
                let n = memtoull(one()?).ok_or("argument must be a memory value")? as i64;
                bounds.check(n)?;
                Ok(Value::Integer(n))
            }
            Kind::YesNo => {
                let value = one()?;
                if value.eq_ignore_ascii_case(b"yes") {
                    Ok(Value::YesNo(true))
                } else if value.eq_ignore_ascii_case(b"no") {
                    Ok(Value::YesNo(false))
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Enum(names) => {
                let value = one()?;
                names
                    .iter()
                    .find(|name| name.as_bytes().eq_ignore_ascii_case(value))
                    .map(|&name| Value::Choice(name))
                    .ok_or_else(|| {
                        format!(
                            "argument(s) must be one of the following: {}",
                            names.join(", ")
                        )
                    })
            }
            Kind::Text { .. } => Ok(Value::Text(one()?.to_vec())),
            Kind::Addresses => Ok(Value::Words(without_lone_empty(args))),
            Kind::SavePoints => {
                let words = without_lone_empty(args);
                let valid = words.len().is_multiple_of(2)
                    && words.iter().enumerate().all(|(i, word)| {
                        let least = if i % 2 == 0 { 1 } else { 0 };
                        strtoll_whole(word).is_some_and(|n| n >= least)
                    });
                if !valid {
                    return Err("Invalid save parameters".into());
                }
                Ok(Value::Words(words))
            }
        }
    }

    /// How a value is written, for `mayfly --help` (`<yes|no>`).
    pub fn syntax(&self) -> String {
        let range = |b: &Bounds| format!("{}..{}", b.min, b.max);
        match self {
            Kind::Integer(b) => format!("<integer {}>", range(b)),
            Kind::Memory(b) => format!("<bytes {}, or with a unit: 512mb, 1gb ...>", range(b)),
            Kind::YesNo => "<yes|no>".into(),
            Kind::Enum(names) => format!("<{}>", names.join("|")),
            Kind::Text { .. } => "<string>".into(),
            Kind::Addresses => "<address> [<address> ...]".into(),
            Kind::SavePoints => "<seconds> <changes> [...]".into(),
        }
    }

    /// The value as CONFIG GET shows it.
    pub fn show(&self, value: &Value) -> Vec<u8> {
        match (self, value) {
            (Kind::Integer(b) | Kind::Memory(b), Value::Integer(n)) => {
                if b.unsigned {
                    (*n as u64).to_string().into_bytes()
                } else {
                    n.to_string().into_bytes()
                }
            }
            (_, Value::YesNo(yes)) => if *yes { "yes" } else { "no" }.into(),
            (_, Value::Choice(name)) => name.as_bytes().to_vec(),
            (_, Value::Text(text)) => text.clone(),
            (_, Value::Words(words)) => words.join(&b' '),
            (_, Value::Integer(n)) => n.to_string().into_bytes(),
        }
    }

    /// The arguments of the option's config file line as CONFIG REWRITE
    /// writes them (Redis's `rewriteConfig*Option`): memory with the
    /// largest unit that divides it, strings quoted, addresses as they are.
    pub fn rewrite(&self, value: &Value) -> Vec<u8> {
        match (self, value) {
            (Kind::Memory(b), Value::Integer(n)) => {
                let bytes = if b.unsigned {
                    i128::from(*n as u64)
                } else {
                    i128::from(*n)
                };
                format_memory(bytes).into_bytes()
            }
            (Kind::Text { .. }, Value::Text(text)) => {
                let mut out = Vec::new();
                repr(text, &mut out);
                out
            }
            (Kind::Addresses | Kind::SavePoints, Value::Words(words)) if words.is_empty() => {
                b"\"\"".to_vec()
            }
            _ => self.show(value),
        }
    }
}

/// A lone empty argument means no words at all (`bind ""`, `save ""`).
fn without_lone_empty(args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    match args {
        [only] if only.is_empty() => Vec::new(),
        _ => args.to_vec(),
    }
}

/// Redis's `memtoull`: digits and an optional unit, any case. As Redis,
/// no digits count as 0, too many digits saturate, and the product wraps.
pub fn memtoull(value: &[u8]) -> Option<u64> {
    if value.first() == Some(&b'-') {
        return None;
    }
    let digits = value.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = value[digits..].to_ascii_lowercase();
    let scale: u64 = match &unit[..] {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let n = value[..digits].iter().fold(0u64, |n, d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX)
    });
    Some(n.wrapping_mul(scale))
}

/// Memory as CONFIG REWRITE writes it (Redis's `rewriteConfigFormatMemory`).
fn format_memory(bytes: i128) -> String {
    const KB: i128 = 1024;
    for (unit, name) in [(KB * KB * KB, "gb"), (KB * KB, "mb"), (KB, "kb")] {
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{name}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// C's `strtoll` over a whole word (leading spaces and a sign allowed,
/// nothing after the digits; no digits reads as 0), as Redis checks `save`.
fn strtoll_whole(word: &[u8]) -> Option<i64> {
    let trimmed = word.trim_ascii_start();
    let (negative, digits) = match trimmed.first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() {
        // No conversion: strtoll leaves the end pointer at the start.
        return word.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i128, |n, d| {
        (n * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX) + 1)
    });
    let n = if negative { -magnitude } else { magnitude };
    Some(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, value: &str) -> Result<Value, String> {
        kind.parse(&[value.as_bytes().to_vec()])
    }

    #[test]
    fn integers_as_redis() {
        let port = Kind::Integer(Bounds::signed(0, 65535));
        assert_eq!(parse(port, "6379"), Ok(Value::Integer(6379)));
        for bad in [
            "abc",
            "1.5",
            "",
            " 5",
            "+5",
            "0x10",
            "007",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse(port, bad),
                Err("argument couldn't be parsed into an integer".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(port, "99999"),
            Err("argument must be between 0 and 65535 inclusive".into())
        );
        let maxclients = Kind::Integer(Bounds::unsigned(1, u32::MAX.into()));
        assert_eq!(
            parse(maxclients, "-1"),
            Err("argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(
            Kind::Integer(Bounds::signed(0, 1)).parse(&[b"1".to_vec(), b"2".to_vec()]),
            Err("wrong number of arguments".into())
        );
    }

    #[test]
    fn memory_as_redis() {
        let maxmemory = Kind::Memory(Bounds::unsigned(0, u64::MAX.into()));
        for (text, bytes) in [
            ("0", 0u64),
            ("1MB", 1 << 20),
            ("3k", 3000),
            ("2gb", 2 << 30),
            ("", 0),
            ("mb", 0),
            ("18446744073709551616", u64::MAX),
            ("20000000000gb", 20_000_000_000u64.wrapping_mul(1 << 30)),
        ] {
            assert_eq!(
                parse(maxmemory, text),
                Ok(Value::Integer(bytes as i64)),
                "{text:?}"
            );
        }
        for bad in ["-1", "1.5gb", " 1", "1 mb", "1tb"] {
            assert_eq!(
                parse(maxmemory, bad),
                Err("argument must be a memory value".into()),
                "{bad:?}"
            );
        }
        let bulk = Kind::Memory(Bounds::signed(1 << 20, i64::MAX.into()));
        assert_eq!(
            parse(bulk, "1000"),
            Err("argument must be between 1048576 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(maxmemory.show(&Value::Integer(-1)), b"18446744073709551615");
        assert_eq!(maxmemory.rewrite(&Value::Integer(3 << 20)), b"3mb");
        assert_eq!(maxmemory.rewrite(&Value::Integer(2_000_000)), b"2000000");
        assert_eq!(maxmemory.rewrite(&Value::Integer(0)), b"0");
    }

    #[test]
    fn yes_no_enum_text_and_words() {
        assert_eq!(parse(Kind::YesNo, "NO"), Ok(Value::YesNo(false)));
        assert_eq!(
            parse(Kind::YesNo, "maybe"),
            Err("argument must be 'yes' or 'no'".into())
        );
        let level = Kind::Enum(&["debug", "notice"]);
        assert_eq!(parse(level, "DEBUG"), Ok(Value::Choice("debug")));
        assert_eq!(
            parse(level, "x"),
            Err("argument(s) must be one of the following: debug, notice".into())
        );
        let text = Kind::Text {
            empty_is_none: false,
        };
        assert_eq!(
            text.rewrite(&Value::Text(b"a\"b\n".to_vec())),
            b"\"a\\\"b\\n\""
        );
        let bind = Kind::Addresses.parse(&[b"1.2.3.4".to_vec(), b"-::1".to_vec()]);
        assert_eq!(
            Kind::Addresses.show(&bind.clone().unwrap()),
            b"1.2.3.4 -::1"
        );
        assert_eq!(
            Kind::Addresses.rewrite(&Kind::Addresses.parse(&[Vec::new()]).unwrap()),
            b"\"\""
        );
    }

    #[test]
    fn save_points_as_redis() {
        let save = |words: &[&str]| {
            Kind::SavePoints.parse(
                &words
                    .iter()
                    .map(|w| w.as_bytes().to_vec())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(save(&[""]), Ok(Value::Words(Vec::new())));
        assert_eq!(
            save(&["3600", "1", "+300", " 10"]).map(|v| v.words().len()),
            Ok(4)
        );
        for bad in [
            &["1", "2", "3"][..],
            &["a", "b"],
            &["0", "1"],
            &["1", "-1"],
            &["1 ", "1"],
        ] {
            assert_eq!(save(bad), Err("Invalid save parameters".into()), "{bad:?}");
        }
    }
}
