//! The reply encoder: writes RESP2 or RESP3 replies straight into a
//! connection's output buffer.
//!
//! Each method writes one reply (or one aggregate header) in the
//! connection's protocol, byte for byte as Redis 7.0's `addReply*` functions
//! write it, without allocating beyond the output buffer itself.

/// The protocol a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Encodes replies into a byte buffer in the connection's protocol.
pub struct ReplyEncoder<'a> {
    out: &'a mut Vec<u8>,
    proto: Protocol,
}

impl<'a> ReplyEncoder<'a> {
    /// An encoder appending to `out`.
    pub fn new(out: &'a mut Vec<u8>, proto: Protocol) -> Self {
        Self { out, proto }
    }

    /// The protocol replies are written in.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// The buffer written so far.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// `+<s>\r\n`
    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `+OK\r\n`
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// `-<text>\r\n`; `text` includes the error code, e.g. `ERR syntax error`.
    /// Any `\r` or `\n` inside `text` is replaced by a space, as Redis does.
    pub fn error(&mut self, text: &str) {
        self.out.push(b'-');
        self.out.extend(text.bytes().map(|b| match b {
            b'\r' | b'\n' => b' ',
            b => b,
        }));
        self.out.extend_from_slice(b"\r\n");
    }

    /// `:<n>\r\n`
    pub fn integer(&mut self, n: i64) {
        self.out.push(b':');
        if n < 0 {
            self.out.push(b'-');
        }
        write_decimal(self.out, n.unsigned_abs());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `$<len>\r\n<bytes>\r\n`
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len());
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// The null reply: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
    pub fn null(&mut self) {
        self.out.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
    pub fn null_array(&mut self) {
        self.out.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// `*<n>\r\n` header.
    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map of `n` pairs: `%<n>\r\n` in RESP3, `*<2n>\r\n` in RESP2.
    pub fn map_len(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n.saturating_mul(2)),
            Protocol::Resp3 => self.header(b'%', n),
        }
    }

    /// A set: `~<n>\r\n` in RESP3, `*<n>\r\n` in RESP2.
    pub fn set_len(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n),
            Protocol::Resp3 => self.header(b'~', n),
        }
    }

    /// A double: `,<d>\r\n` in RESP3, a bulk string in RESP2, formatted as Redis does
    /// (`inf`, `-inf`, `nan`, else `%.17g`).
    pub fn double(&mut self, d: f64) {
        let mut text = DoubleText::new();
        text.format(d);
        match self.proto {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `#t` / `#f` in RESP3, `:1` / `:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        self.out.extend_from_slice(match (self.proto, b) {
            (Protocol::Resp2, true) => b":1\r\n",
            (Protocol::Resp2, false) => b":0\r\n",
            (Protocol::Resp3, true) => b"#t\r\n",
            (Protocol::Resp3, false) => b"#f\r\n",
        });
    }

    /// Verbatim text: `=<len>\r\n<fmt>:<text>\r\n` in RESP3 (fmt is 3 bytes, e.g. `txt`), a bulk string in RESP2.
    ///
    /// The length always covers `fmt` as given, so the reply stays well
    /// framed even if `fmt` is not 3 bytes long.
    pub fn verbatim(&mut self, fmt: &str, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', fmt.len() + 1 + text.len());
                self.out.extend_from_slice(fmt.as_bytes());
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// `<prefix><n>\r\n`
    fn header(&mut self, prefix: u8, n: usize) {
        self.out.push(prefix);
        write_decimal(self.out, n as u64);
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Appends `n` in decimal.
fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Significant digits of C's `%.17g`: enough to read every double back exactly.
const DOUBLE_DIGITS: usize = 17;

/// A double's reply text, built on the stack. 32 bytes hold the longest
/// `%.17g` output (`-0.00012345678901234567` and `-1.2345678901234567e-308`
/// are 23 and 24 bytes) and Rust's `{:.16e}` of any double (at most 24).
struct DoubleText {
    bytes: [u8; 32],
    len: usize,
}

impl DoubleText {
    fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    /// Formats `d` as Redis's `addReplyDouble` does: `inf` and `-inf`
    /// spelled out, `nan` for any NaN, else glibc's `%.17g`.
    fn format(&mut self, d: f64) {
        self.len = 0;
        if d.is_nan() {
            self.extend(b"nan");
            return;
        }
        if d.is_infinite() {
            self.extend(if d > 0.0 { b"inf" } else { b"-inf" });
            return;
        }
        // Rust's `{:.16e}` is exact and rounds half to even like glibc:
        // `[-]D.DDDDDDDDDDDDDDDDe<exp>`, the 17 significant digits %.17g needs.
        let mut scientific = DoubleText::new();
        {
            use std::fmt::Write;
            // Writing to a stack buffer that is big enough cannot fail.
            let _ = write!(scientific, "{:.16e}", d);
        }
        let sci = scientific.as_bytes();
        let (negative, sci) = match sci {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, sci),
        };
        let mut digits = [b'0'; DOUBLE_DIGITS];
        let mut count = 0;
        let mut exp_text: &[u8] = b"0";
        for (i, &b) in sci.iter().enumerate() {
            match b {
                b'0'..=b'9' if count < DOUBLE_DIGITS => {
                    digits[count] = b;
                    count += 1;
                }
                b'e' => {
                    exp_text = &sci[i + 1..];
                    break;
                }
                _ => {}
            }
        }
        let (exp_negative, exp_digits) = match exp_text {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, exp_text),
        };
        let magnitude = exp_digits
            .iter()
            .fold(0i32, |acc, &b| acc * 10 + i32::from(b.wrapping_sub(b'0')));
        let exp = if exp_negative { -magnitude } else { magnitude };

        if negative {
            self.push(b'-');
        }
        // %g: fixed notation when -4 <= exp < precision, else exponent notation;
        // trailing zeros of the fraction (and a bare '.') dropped either way.
        if (-4..DOUBLE_DIGITS as i32).contains(&exp) {
            if exp >= 0 {
                let int_len = exp as usize + 1;
                self.extend(&digits[..int_len]);
                self.fraction(&digits[int_len..]);
            } else {
                self.push(b'0');
                self.push(b'.');
                for _ in 0..(-exp - 1) {
                    self.push(b'0');
                }
                self.extend(trim_zeros(&digits));
            }
        } else {
            self.push(digits[0]);
            self.fraction(&digits[1..]);
            self.push(b'e');
            self.push(if exp < 0 { b'-' } else { b'+' });
            if magnitude < 10 {
                self.push(b'0');
            }
            self.extend(exp_digits);
        }
    }

    /// `.<digits>` without trailing zeros, or nothing if all are zero.
    fn fraction(&mut self, digits: &[u8]) {
        let digits = trim_zeros(digits);
        if !digits.is_empty() {
            self.push(b'.');
            self.extend(digits);
        }
    }
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.extend(s.as_bytes());
        Ok(())
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let len = digits.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1);
    &digits[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `write` puts in the buffer in each protocol: (RESP2, RESP3).
    fn both(write: impl Fn(&mut ReplyEncoder<'_>)) -> (Vec<u8>, Vec<u8>) {
        let mut resp2 = Vec::new();
        write(&mut ReplyEncoder::new(&mut resp2, Protocol::Resp2));
        let mut resp3 = Vec::new();
        write(&mut ReplyEncoder::new(&mut resp3, Protocol::Resp3));
        (resp2, resp3)
    }

    fn same_in_both(write: impl Fn(&mut ReplyEncoder<'_>), expected: &[u8]) {
        assert_eq!(both(write), (expected.to_vec(), expected.to_vec()));
    }

    #[test]
    fn simple_ok_and_errors() {
        same_in_both(|e| e.simple("PONG"), b"+PONG\r\n");
        same_in_both(|e| e.ok(), b"+OK\r\n");
        same_in_both(|e| e.error("ERR syntax error"), b"-ERR syntax error\r\n");
        same_in_both(|e| e.error("ERR a\r\nb\nc\r"), b"-ERR a  b c \r\n");
    }

    #[test]
    fn integers() {
        same_in_both(|e| e.integer(0), b":0\r\n");
        same_in_both(|e| e.integer(7), b":7\r\n");
        same_in_both(|e| e.integer(-1), b":-1\r\n");
        same_in_both(|e| e.integer(1_000_000), b":1000000\r\n");
        same_in_both(|e| e.integer(i64::MAX), b":9223372036854775807\r\n");
        same_in_both(|e| e.integer(i64::MIN), b":-9223372036854775808\r\n");
    }

    #[test]
    fn bulk_strings() {
        same_in_both(|e| e.bulk(b"hello"), b"$5\r\nhello\r\n");
        same_in_both(|e| e.bulk(b""), b"$0\r\n\r\n");
        same_in_both(|e| e.bulk(b"a\r\n\0b"), b"$5\r\na\r\n\0b\r\n");
        let big = vec![b'x'; 12_345];
        let (resp2, _) = both(|e| e.bulk(&big));
        assert!(resp2.starts_with(b"$12345\r\nxxx"));
        assert_eq!(resp2.len(), 8 + 12_345 + 2);
    }

    #[test]
    fn nulls() {
        assert_eq!(both(|e| e.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(|e| e.null_array()),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
    }

    #[test]
    fn aggregate_headers() {
        same_in_both(|e| e.array_len(0), b"*0\r\n");
        same_in_both(|e| e.array_len(3), b"*3\r\n");
        assert_eq!(
            both(|e| e.map_len(2)),
            (b"*4\r\n".to_vec(), b"%2\r\n".to_vec())
        );
        assert_eq!(
            both(|e| e.set_len(5)),
            (b"*5\r\n".to_vec(), b"~5\r\n".to_vec())
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(
            both(|e| e.boolean(true)),
            (b":1\r\n".to_vec(), b"#t\r\n".to_vec())
        );
        assert_eq!(
            both(|e| e.boolean(false)),
            (b":0\r\n".to_vec(), b"#f\r\n".to_vec())
        );
    }

    #[test]
    fn verbatim_text() {
        assert_eq!(
            both(|e| e.verbatim("txt", b"Some string")),
            (
                b"$11\r\nSome string\r\n".to_vec(),
                b"=15\r\ntxt:Some string\r\n".to_vec()
            )
        );
        assert_eq!(
            both(|e| e.verbatim("mkd", b"")),
            (b"$0\r\n\r\n".to_vec(), b"=4\r\nmkd:\r\n".to_vec())
        );
    }

    #[test]
    fn doubles_match_redis() {
        // Redis 7.0.15 replies to ZSCORE with these (RESP2 `$19\r\n0.10000000000000001\r\n`,
        // RESP3 `,0.10000000000000001\r\n`); the rest is glibc's `%.17g`.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (0.3, "0.29999999999999999"),
            (1.0 / 3.0, "0.33333333333333331"),
            (1.1, "1.1000000000000001"),
            (12345.678, "12345.678"),
            (100.0, "100"),
            (-3.0, "-3"),
            (1e16, "10000000000000000"),
            (9007199254740992.0, "9007199254740992"),
            (1e17, "1e+17"),
            (1e20, "1e+20"),
            (1e100, "1e+100"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            // Exactly 1000000000000000.25: a tie, rounded to even as glibc does.
            (4000000000000001.0 / 4.0, "1000000000000000.2"),
            (0.0001, "0.0001"),
            (1e-5, "1.0000000000000001e-05"),
            (-1.5e-7, "-1.4999999999999999e-07"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN, "-1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
        ];
        for &(d, text) in cases {
            let resp2 = format!("${}\r\n{text}\r\n", text.len()).into_bytes();
            let resp3 = format!(",{text}\r\n").into_bytes();
            assert_eq!(both(|e| e.double(d)), (resp2, resp3), "{d:e}");
        }
    }

    #[test]
    fn replies_append_to_the_buffer() {
        let mut out = b"+previous\r\n".to_vec();
        let mut encoder = ReplyEncoder::new(&mut out, Protocol::Resp3);
        assert_eq!(encoder.protocol(), Protocol::Resp3);
        encoder.map_len(1);
        encoder.bulk(b"k");
        encoder.double(2.5);
        encoder.buffer().extend_from_slice(b"_\r\n");
        assert_eq!(out, b"+previous\r\n%1\r\n$1\r\nk\r\n,2.5\r\n_\r\n");
        assert_eq!(Protocol::default(), Protocol::Resp2);
    }
}
