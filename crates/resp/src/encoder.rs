//! The reply encoder: writes RESP2 or RESP3 replies straight into a
//! connection's output buffer.
// IMPLEMENTATION PENDING (helper)

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
    pub fn protocol(&self) -> Protocol { self.proto }
    /// The buffer written so far.
    pub fn buffer(&mut self) -> &mut Vec<u8> { self.out }
    /// `+<s>\r\n`
    pub fn simple(&mut self, _s: &str) { todo!() }
    /// `+OK\r\n`
    pub fn ok(&mut self) { todo!() }
    /// `-<text>\r\n`; `text` includes the error code, e.g. `ERR syntax error`.
    /// Any `\r` or `\n` inside `text` is replaced by a space, as Redis does.
    pub fn error(&mut self, _text: &str) { todo!() }
    /// `:<n>\r\n`
    pub fn integer(&mut self, _n: i64) { todo!() }
    /// `$<len>\r\n<bytes>\r\n`
    pub fn bulk(&mut self, _b: &[u8]) { todo!() }
    /// The null reply: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
    pub fn null(&mut self) { todo!() }
    /// The null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
    pub fn null_array(&mut self) { todo!() }
    /// `*<n>\r\n` header.
    pub fn array_len(&mut self, _n: usize) { todo!() }
    /// A map of `n` pairs: `%<n>\r\n` in RESP3, `*<2n>\r\n` in RESP2.
    pub fn map_len(&mut self, _n: usize) { todo!() }
    /// A set: `~<n>\r\n` in RESP3, `*<n>\r\n` in RESP2.
    pub fn set_len(&mut self, _n: usize) { todo!() }
    /// A double: `,<d>\r\n` in RESP3, a bulk string in RESP2, formatted as Redis does
    /// (`inf`, `-inf`, `nan`, else `%.17g`).
    pub fn double(&mut self, _d: f64) { todo!() }
    /// A boolean: `#t` / `#f` in RESP3, `:1` / `:0` in RESP2.
    pub fn boolean(&mut self, _b: bool) { todo!() }
    /// Verbatim text: `=<len>\r\n<fmt>:<text>\r\n` in RESP3 (fmt is 3 bytes, e.g. `txt`), a bulk string in RESP2.
    pub fn verbatim(&mut self, _fmt: &str, _text: &[u8]) { todo!() }
}
