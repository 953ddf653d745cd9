//! `CommandError`: every error a command can reply, mapped once to Redis's text.

use std::fmt;

/// An error reply. `Display` gives the exact Redis text without the leading `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `ERR syntax error`
    Syntax,
    /// `ERR value is not an integer or out of range`
    NotAnInteger,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpireTime(&'static str),
    /// `ERR wrong number of arguments for '<cmd>' command`
    WrongArity(String),
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand { sub: String, command: &'static str },
    /// `NOPROTO unsupported protocol version`
    NoProto,
    /// `ERR Protocol version is not an integer or out of range`
    ProtocolVersionNotInteger,
    /// `ERR Syntax error in HELLO option '<opt>'`
    HelloOption(String),
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// `NOAUTH Authentication required.`: a command other than AUTH, HELLO,
    /// QUIT or RESET before the client authenticated.
    NoAuth,
    /// A `denyoom` command while used memory is above `maxmemory`.
    OutOfMemory,
    /// HELLO without `AUTH` on a connection that must authenticate first.
    HelloNoAuth,
    /// One-argument AUTH when no password is set.
    AuthWithoutPassword,
    /// `ERR Unsupported option <opt>`
    UnsupportedOption(String),
    /// `ERR NX and XX, GT or LT options at the same time are not compatible`
    NxWithXxGtLt,
    /// `ERR GT and LT options at the same time are not compatible`
    GtWithLt,
    /// `ERR Client names cannot contain spaces, newlines or special characters.`
    BadClientName,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR source and destination objects are the same`
    SameObject,
    /// `ERR invalid cursor`
    InvalidCursor,
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
    StringTooLong,
    /// `ERR value is not a valid float`
    NotAFloat,
    /// A command over the keyspace from a MONITOR client (which Redis
    /// flags as a replica).
    ReplicaKeyspace,
    /// Any other error text, already complete (code included).
    Other(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NotAnInteger => {
                f.write_str("ERR value is not an integer or out of range")
            }
            CommandError::InvalidExpireTime(cmd) => {
                write!(f, "ERR invalid expire time in '{cmd}' command")
            }
            CommandError::WrongArity(cmd) => {
                write!(f, "ERR wrong number of arguments for '{cmd}' command")
            }
            CommandError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CommandError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CommandError::UnknownSubcommand { sub, command } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {command} HELP.")
            }
            CommandError::NoProto => f.write_str("NOPROTO unsupported protocol version"),
            CommandError::ProtocolVersionNotInteger => {
                f.write_str("ERR Protocol version is not an integer or out of range")
            }
            CommandError::HelloOption(opt) => write!(f, "ERR Syntax error in HELLO option '{opt}'"),
            CommandError::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            CommandError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CommandError::OutOfMemory => {
                f.write_str("OOM command not allowed when used memory > 'maxmemory'.")
            }
            CommandError::HelloNoAuth => f.write_str(
                "NOAUTH HELLO must be called with the client already authenticated, \
                 otherwise the HELLO AUTH <user> <pass> option can be used to \
                 authenticate the client and select the RESP protocol version at the \
                 same time",
            ),
            CommandError::AuthWithoutPassword => f.write_str(
                "ERR AUTH <password> called without any password configured for the \
                 default user. Are you sure your configuration is correct?",
            ),
            CommandError::UnsupportedOption(opt) => write!(f, "ERR Unsupported option {opt}"),
            CommandError::NxWithXxGtLt => {
                f.write_str("ERR NX and XX, GT or LT options at the same time are not compatible")
            }
            CommandError::GtWithLt => {
                f.write_str("ERR GT and LT options at the same time are not compatible")
            }
            CommandError::BadClientName => f.write_str(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
            CommandError::NoSuchKey => f.write_str("ERR no such key"),
            CommandError::SameObject => {
                f.write_str("ERR source and destination objects are the same")
            }
            CommandError::InvalidCursor => f.write_str("ERR invalid cursor"),
            CommandError::StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            CommandError::NotAFloat => f.write_str("ERR value is not a valid float"),
            CommandError::ReplicaKeyspace => {
                f.write_str("ERR Replica can't interact with the keyspace")
            }
            CommandError::Other(text) => f.write_str(text),
        }
    }
}

/// Redis's `addReplySubcommandSyntaxError`, for a subcommand whose
/// arguments its command rejects:
/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax_error(args: &resp::Args) -> CommandError {
    let sub = args.iter().nth(1).unwrap_or_default();
    CommandError::Other(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        String::from_utf8_lossy(args.get(0)).to_ascii_uppercase()
    ))
}

/// Writes `err` as an error reply.
pub(crate) fn reply_error(enc: &mut resp::ReplyEncoder, err: &CommandError) {
    enc.error(&err.to_string());
}
