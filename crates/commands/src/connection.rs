//! Connection commands: PING, ECHO, AUTH, HELLO, QUIT, SELECT, and the state
//! of a client connection they read or change ([`Client`]). They run on the
//! connection's own thread. CLIENT, RESET and TIME are in `client.rs`.

use crate::client::ReplyMode;
use crate::config::{ClusterMode, Startup};
use crate::error::reply_error;
use crate::number::{integer_arg, parse_i64};
use crate::settings;
use crate::{CommandError, CommandId, REDIS_VERSION};
use resp::{Args, Protocol, ReplyEncoder};
use std::path::PathBuf;

/// The state of one client connection that commands may read or change.
#[derive(Debug, Clone)]
pub struct Client {
    /// Unique id (CLIENT ID, HELLO's `id`).
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Protocol replies are written in.
    pub protocol: Protocol,
    /// CLIENT SETNAME / HELLO SETNAME.
    pub name: Option<Vec<u8>>,
    /// Set by QUIT: close once the replies so far are written.
    pub close_after_reply: bool,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Vec<u8>>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Vec<u8>>,
    /// CLIENT NO-EVICT (shown in CLIENT LIST; Mayfly never evicts clients).
    pub no_evict: bool,
    /// CLIENT NO-TOUCH (shown in CLIENT LIST; Mayfly keeps no LRU/LFU data).
    pub no_touch: bool,
    /// CLIENT REPLY's state: whether the server sends each reply.
    pub reply: ReplyMode,
    /// Peer address, `ip:port` (set by the server on accept).
    pub addr: String,
    /// Local address, `ip:port` (set by the server on accept).
    pub laddr: String,
    /// The socket's file descriptor, -1 if none.
    pub fd: i32,
    /// When the connection was accepted.
    pub created: store::UnixMillis,
    /// When it last ran a command.
    pub last_interaction: store::UnixMillis,
    /// The last command the client sent (`get`, `client|list`), as CLIENT
    /// LIST's `cmd=` shows it: set when it is looked up, before it runs or
    /// is refused; none before the first, or after an unknown command or
    /// subcommand (Redis's `NULL`).
    pub last_cmd: Option<CommandId>,
    /// Whether the client authenticated: set when it connects (or RESETs)
    /// without a password in force, and by AUTH or HELLO's AUTH. Until then,
    /// while a password is set, it may run only AUTH, HELLO, QUIT and RESET.
    pub authenticated: bool,
    /// Set by MONITOR, cleared by RESET: every command run is streamed to
    /// this client, and it may not touch the keyspace.
    pub monitor: bool,
    /// Sent `POST` or `Host:` as a command (an HTTP request sent to Redis's
    /// port by a cross-protocol attack): closed at once, and nothing it
    /// asked in that read is answered, as Redis's `securityWarningCommand`.
    pub aborted: bool,
}

impl Client {
    /// A new RESP2 client on database 0.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            db: 0,
            protocol: Protocol::Resp2,
            name: None,
            close_after_reply: false,
            lib_name: None,
            lib_ver: None,
            no_evict: false,
            no_touch: false,
            reply: ReplyMode::default(),
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            created: 0,
            last_interaction: 0,
            last_cmd: None,
            authenticated: true,
            monitor: false,
            aborted: false,
        }
    }
}

/// Server-wide facts that connection commands need, fixed at start-up.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// Number of shards.
    pub shards: usize,
    /// This node's id in CLUSTER replies (40 hex characters).
    pub node_id: String,
    /// The options fixed at start-up (port, bind, databases ...), a copy
    /// per shard, read where commands run.
    pub options: Startup,
    /// The config file the server started with, as an absolute path
    /// (CONFIG REWRITE writes it); none without one.
    pub config_file: Option<PathBuf>,
}

/// A password, compared in constant time and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    /// `None` for an empty password: Redis treats `requirepass ""` as none.
    pub fn new(password: impl Into<Vec<u8>>) -> Option<Self> {
        let password = password.into();
        (!password.is_empty()).then_some(Self(password))
    }

    /// The password's bytes (CONFIG GET requirepass shows them, as Redis).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `candidate` is this password. The time taken depends only on
    /// the two lengths, never on where the bytes first differ, so that a
    /// client cannot guess the password byte by byte from reply times.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let ours = &self.0;
        let mut diff = ours.len() ^ candidate.len();
        for i in 0..ours.len().max(candidate.len()) {
            let a = ours.get(i).copied().unwrap_or(0);
            let b = candidate.get(i).copied().unwrap_or(0);
            diff |= usize::from(a ^ b);
        }
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// Logs `client` in as `user` if `password` is that user's. Only `default`
/// exists; without a password it takes any. A failure leaves the client as
/// it was (an authenticated client stays authenticated, as in Redis).
fn authenticate(user: &[u8], password: &[u8], client: &mut Client) -> Result<(), CommandError> {
    if settings::password_matches(password) && user == b"default" {
        client.authenticated = true;
        Ok(())
    } else {
        Err(CommandError::WrongPass)
    }
}

/// AUTH [username] password
pub(crate) fn auth(args: &Args, client: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    let result = match args.len() {
        2 if !settings::password_required() => Err(CommandError::AuthWithoutPassword),
        2 => authenticate(b"default", args.get(1), client),
        3 => authenticate(args.get(1), args.get(2), client),
        _ => Err(CommandError::Syntax),
    };
    match result {
        Ok(()) => enc.ok(),
        Err(e) => reply_error(enc, &e),
    }
}

/// PING [message]
pub(crate) fn ping(args: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    match args.len() {
        1 => enc.simple("PONG"),
        2 => enc.bulk(args.get(1)),
        _ => reply_error(enc, &CommandError::WrongArity("ping".into())),
    }
}

/// ECHO message
pub(crate) fn echo(args: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    enc.bulk(args.get(1));
}

/// QUIT: replies OK and closes the connection.
pub(crate) fn quit(_: &Args, client: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    client.close_after_reply = true;
    enc.ok();
}

/// SELECT index
pub(crate) fn select(
    args: &Args,
    client: &mut Client,
    facts: &ServerFacts,
    enc: &mut ReplyEncoder,
) {
    match parse_db_index(args.get(1), facts.options.databases) {
        Ok(db) => {
            client.db = db;
            enc.ok();
        }
        Err(e) => reply_error(enc, &e),
    }
}

/// Parses a database index as Redis's `getIntFromObjectOrReply` + `selectDb`.
pub(crate) fn parse_db_index(arg: &[u8], databases: usize) -> Result<usize, CommandError> {
    let n = integer_arg(arg)?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        return Err(CommandError::Other(
            "ERR value is out of range, value must between -2147483648 and 2147483647".into(),
        ));
    }
    usize::try_from(n)
        .ok()
        .filter(|&db| db < databases)
        .ok_or(CommandError::DbIndexOutOfRange)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub(crate) fn hello(args: &Args, client: &mut Client, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    match parse_hello(args, client) {
        Ok(hello) => {
            if let Some(name) = hello.name {
                client.name = if name.is_empty() {
                    None
                } else {
                    Some(name.to_vec())
                };
            }
            if let Some(proto) = hello.protocol {
                client.protocol = proto;
            }
            let mut enc = ReplyEncoder::new(enc.buffer(), client.protocol);
            enc.map_len(7);
            enc.bulk(b"server");
            enc.bulk(b"redis");
            enc.bulk(b"version");
            enc.bulk(REDIS_VERSION.as_bytes());
            enc.bulk(b"proto");
            enc.integer(if client.protocol == Protocol::Resp3 {
                3
            } else {
                2
            });
            enc.bulk(b"id");
            enc.integer(client.id as i64);
            enc.bulk(b"mode");
            enc.bulk(if facts.options.cluster_mode == ClusterMode::Emulated {
                b"cluster"
            } else {
                b"standalone"
            });
            enc.bulk(b"role");
            enc.bulk(b"master");
            enc.bulk(b"modules");
            enc.array_len(0);
        }
        Err(e) => reply_error(enc, &e),
    }
}

struct Hello<'a> {
    protocol: Option<Protocol>,
    name: Option<&'a [u8]>,
}

/// Parses HELLO's options in order, as Redis 7.0 does: `AUTH` logs in as
/// soon as it is read (a later bad option does not undo it), a bad name
/// fails when read, and only then must the client be authenticated.
fn parse_hello<'a>(args: &'a Args, client: &mut Client) -> Result<Hello<'a>, CommandError> {
    let mut hello = Hello {
        protocol: None,
        name: None,
    };
    if args.len() >= 2 {
        let version = parse_i64(args.get(1)).ok_or(CommandError::ProtocolVersionNotInteger)?;
        hello.protocol = Some(match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CommandError::NoProto),
        });
    }
    let mut j = 2;
    while j < args.len() {
        let opt = args.get(j);
        let more = args.len() - 1 - j;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            authenticate(args.get(j + 1), args.get(j + 2), client)?;
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            validate_client_name(args.get(j + 1))?;
            hello.name = Some(args.get(j + 1));
            j += 2;
        } else {
            return Err(CommandError::HelloOption(
                String::from_utf8_lossy(opt).into_owned(),
            ));
        }
    }
    if !client.authenticated {
        return Err(CommandError::HelloNoAuth);
    }
    Ok(hello)
}

/// Client names may hold only printable characters other than space.
pub(crate) fn validate_client_name(name: &[u8]) -> Result<(), CommandError> {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(CommandError::BadClientName)
    }
}

#[cfg(test)]
mod tests {
    use super::Password;
    use crate::testkit::run_connection;

    #[test]
    fn ping_and_echo() {
        assert_eq!(run_connection(&["PING"]).0, b"+PONG\r\n");
        assert_eq!(run_connection(&["ping", "hi"]).0, b"$2\r\nhi\r\n");
        assert_eq!(
            run_connection(&["PING", "a", "b"]).0,
            b"-ERR wrong number of arguments for 'ping' command\r\n"
        );
        assert_eq!(run_connection(&["ECHO", "x y"]).0, b"$3\r\nx y\r\n");
    }

    #[test]
    fn select_checks_range() {
        let (out, client) = run_connection(&["SELECT", "3"]);
        assert_eq!(out, b"+OK\r\n");
        assert_eq!(client.db, 3);
        assert_eq!(
            run_connection(&["SELECT", "16"]).0,
            b"-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            run_connection(&["SELECT", "-1"]).0,
            b"-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            run_connection(&["SELECT", "x"]).0,
            b"-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            run_connection(&["SELECT", "2147483648"]).0,
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
    }

    #[test]
    fn hello_switches_protocol_and_replies_a_map() {
        let (out, client) = run_connection(&["HELLO", "3"]);
        assert_eq!(client.protocol, resp::Protocol::Resp3);
        let expected = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
        assert_eq!(String::from_utf8_lossy(&out), expected);
        let (out, _) = run_connection(&["HELLO"]);
        assert!(out.starts_with(b"*14\r\n$6\r\nserver\r\n"));
    }

    #[test]
    fn hello_errors() {
        assert_eq!(
            run_connection(&["HELLO", "4"]).0,
            b"-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            run_connection(&["HELLO", "abc"]).0,
            b"-ERR Protocol version is not an integer or out of range\r\n"
        );
        assert_eq!(
            run_connection(&["HELLO", "2", "foo"]).0,
            b"-ERR Syntax error in HELLO option 'foo'\r\n"
        );
        assert_eq!(
            run_connection(&["HELLO", "3", "AUTH", "foo", "bar"]).0,
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(
            run_connection(&["HELLO", "3", "SETNAME", "a b"]).0,
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        // The name is checked as soon as it is read, before later options.
        assert_eq!(
            run_connection(&["HELLO", "3", "SETNAME", "a b", "FOO"]).0,
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        let (out, client) =
            run_connection(&["HELLO", "2", "AUTH", "default", "x", "SETNAME", "me"]);
        assert!(out.starts_with(b"*14\r\n"));
        assert_eq!(client.name.as_deref(), Some(&b"me"[..]));
    }

    #[test]
    fn passwords_compare_whole() {
        let p = Password::new("secret").expect("a password");
        assert!(p.matches(b"secret"));
        for wrong in [
            &b""[..],
            b"s",
            b"secre",
            b"secreT",
            b"secret\0",
            b"secretx",
            b"xecret",
        ] {
            assert!(!p.matches(wrong), "{wrong:?}");
        }
        assert!(Password::new("").is_none());
        assert_eq!(format!("{p:?}"), "Password(<hidden>)");
    }

    #[test]
    fn auth_without_a_password() {
        assert_eq!(
            run_connection(&["AUTH", "x"]).0,
            b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
        );
        assert_eq!(run_connection(&["AUTH", "default", "x"]).0, b"+OK\r\n");
        assert_eq!(
            run_connection(&["AUTH", "bob", "x"]).0,
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(
            run_connection(&["AUTH", "a", "b", "c"]).0,
            b"-ERR syntax error\r\n"
        );
    }

    #[test]
    fn quit_closes_after_ok() {
        let (out, client) = run_connection(&["QUIT"]);
        assert_eq!(out, b"+OK\r\n");
        assert!(client.close_after_reply);
    }
}
