//! CLIENT and its subcommands, plus the pure pieces the server needs to answer
//! CLIENT LIST and CLIENT KILL across shards: [`ClientInfo`] (one line of
//! CLIENT LIST, rendered in Redis's field order), the LIST filter and the KILL
//! filter (parsed with Redis's exact errors, matched against a `ClientInfo`).
//!
//! Run as a connection command, CLIENT LIST and CLIENT KILL see only the
//! calling client; the server intercepts them to cover every shard's clients.

use crate::connection::validate_client_name;
use crate::error::reply_error;
use crate::number::parse_i64;
use crate::table::{sub, SubcommandSpec};
use crate::{Client, CommandError, CommandId, ServerFacts};
use resp::{Args, Protocol, ReplyEncoder};
use store::UnixMillis;

/// Bytes a connection reads per call; reported as `rbs=` in CLIENT LIST.
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// The kinds of client Redis distinguishes (`TYPE` in CLIENT LIST / KILL).
/// Mayfly has neither replication nor pub/sub yet, so every client is `Normal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// An ordinary client.
    Normal,
    /// A replica's link (`replica` or `slave`).
    Replica,
    /// This server's link to its master.
    Master,
    /// A client in pub/sub mode.
    PubSub,
}

impl ClientType {
    /// Redis's `getClientTypeByName`, case-insensitive.
    pub fn parse(name: &[u8]) -> Result<Self, CommandError> {
        let lower = name.to_ascii_lowercase();
        match &lower[..] {
            b"normal" => Ok(ClientType::Normal),
            b"slave" | b"replica" => Ok(ClientType::Replica),
            b"master" => Ok(ClientType::Master),
            b"pubsub" => Ok(ClientType::PubSub),
            _ => Err(CommandError::Other(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(name)
            ))),
        }
    }
}

/// CLIENT REPLY's state, as Redis's `CLIENT_REPLY_OFF`, `CLIENT_REPLY_SKIP_NEXT`
/// and `CLIENT_REPLY_SKIP` flags.
///
/// The rule the server applies for every command, rejected ones (unknown
/// command, wrong arity) included, in request order: run the command, then
/// drop its reply if [`ReplyMode::suppressed`], then call
/// [`ReplyMode::command_done`]. A protocol error's reply is dropped too when
/// `suppressed()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyMode {
    off: bool,
    skip_next: bool,
    skip: bool,
}

impl ReplyMode {
    /// True when the reply of the command that just ran must not be sent.
    pub fn suppressed(&self) -> bool {
        self.off || self.skip
    }

    /// To be called after every command: a SKIP applies to exactly one command.
    pub fn command_done(&mut self) {
        self.skip = self.skip_next;
        self.skip_next = false;
    }

    /// True in the default mode, where every reply is sent.
    pub fn is_on(&self) -> bool {
        *self == ReplyMode::default()
    }
}

/// One client as CLIENT LIST shows it. The server keeps one per connection in
/// its shard's registry and refreshes it from the connection's [`Client`]
/// after every batch ([`ClientInfo::update`] reuses its allocations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client id.
    pub id: u64,
    /// Peer address, `ip:port`.
    pub addr: String,
    /// Local address, `ip:port`.
    pub laddr: String,
    /// The socket's file descriptor.
    pub fd: i32,
    /// CLIENT SETNAME's name (empty: none).
    pub name: Vec<u8>,
    /// CLIENT SETINFO LIB-NAME (empty: none).
    pub lib_name: Vec<u8>,
    /// CLIENT SETINFO LIB-VER (empty: none).
    pub lib_ver: Vec<u8>,
    /// When the connection was accepted.
    pub created: UnixMillis,
    /// When it last ran a command.
    pub last_interaction: UnixMillis,
    /// Selected database.
    pub db: usize,
    /// 2 or 3.
    pub resp: u8,
    /// CLIENT NO-EVICT ON.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH ON.
    pub no_touch: bool,
    /// Closes once its replies are written (QUIT, killed itself).
    pub closing: bool,
    /// In MONITOR mode.
    pub monitor: bool,
    /// The last command (`get`, `client|list`), if any and known.
    pub last_cmd: Option<CommandId>,
}

impl ClientInfo {
    /// A snapshot of `client`.
    pub fn of(client: &Client) -> Self {
        let mut info = ClientInfo {
            id: client.id,
            addr: client.addr.clone(),
            laddr: client.laddr.clone(),
            fd: client.fd,
            created: client.created,
            ..ClientInfo::default()
        };
        info.update(client);
        info
    }

    /// Refreshes this snapshot from `client`, reusing its buffers. The
    /// fields fixed when the connection is accepted (id, addresses, fd,
    /// creation time) were taken by [`ClientInfo::of`]: a connection calls
    /// this after every batch, and copying them would cost it more than all
    /// the rest.
    pub fn update(&mut self, client: &Client) {
        copy_opt(&mut self.name, &client.name);
        copy_opt(&mut self.lib_name, &client.lib_name);
        copy_opt(&mut self.lib_ver, &client.lib_ver);
        self.last_interaction = client.last_interaction;
        self.db = client.db;
        self.resp = if client.protocol == Protocol::Resp3 {
            3
        } else {
            2
        };
        self.no_evict = client.no_evict;
        self.no_touch = client.no_touch;
        self.closing = client.close_after_reply;
        self.monitor = client.monitor;
        self.last_cmd = client.last_cmd;
    }

    /// This client's type (always normal for now).
    pub fn client_type(&self) -> ClientType {
        ClientType::Normal
    }

    /// Appends this client's CLIENT LIST line, `\n` included, as of `now`.
    ///
    /// The fields and their order are Redis 7.0's, followed by Redis 7.2's
    /// `lib-name=` and `lib-ver=` (so that CLIENT SETINFO can be seen). Buffer
    /// and memory figures Mayfly does not track are reported as 0.
    pub fn render(&self, now: UnixMillis, out: &mut Vec<u8>) {
        use std::io::Write;
        let age = now.saturating_sub(self.created) / 1000;
        let idle = now.saturating_sub(self.last_interaction) / 1000;
        let mut flags = String::new();
        if self.monitor {
            flags.push('O');
        }
        if self.closing {
            flags.push('c');
        }
        if self.no_evict {
            flags.push('e');
        }
        if self.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let cmd = self.last_cmd.map_or("NULL", CommandId::name);
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "id={} addr={} laddr={} fd={} name=",
            self.id, self.addr, self.laddr, self.fd
        );
        out.extend_from_slice(&self.name);
        let _ = write!(
            out,
            " age={age} idle={idle} flags={flags} db={} sub=0 psub=0 ssub=0 multi=-1 \
             qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs={READ_BUFFER_SIZE} rbp=0 obl=0 \
             oll=0 omem=0 tot-mem=0 events=r cmd={cmd} user=default redir=-1 resp={}",
            self.db, self.resp
        );
        // Redis 7.2's fields, shown only once CLIENT SETINFO (7.2) set one:
        // otherwise the line is exactly 7.0's.
        if !self.lib_name.is_empty() || !self.lib_ver.is_empty() {
            out.extend_from_slice(b" lib-name=");
            out.extend_from_slice(&self.lib_name);
            out.extend_from_slice(b" lib-ver=");
            out.extend_from_slice(&self.lib_ver);
        }
        out.push(b'\n');
    }
}

fn copy_opt(dst: &mut Vec<u8>, src: &Option<Vec<u8>>) {
    dst.clear();
    if let Some(src) = src {
        dst.extend_from_slice(src);
    }
}

/// Which clients CLIENT LIST shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    /// Every client, in id order.
    All,
    /// Clients of one type, in id order.
    Type(ClientType),
    /// The clients with these ids, in this order (repeats repeated, unknown
    /// ids skipped).
    Ids(Vec<i64>),
}

impl ListFilter {
    /// Parses `CLIENT LIST [TYPE type | ID id [id ...]]` (`args[0]` is CLIENT).
    pub fn parse(args: &Args) -> Result<Self, CommandError> {
        let n = args.len();
        if n == 4 && args.get(2).eq_ignore_ascii_case(b"TYPE") {
            Ok(ListFilter::Type(ClientType::parse(args.get(3))?))
        } else if n > 3 && args.get(2).eq_ignore_ascii_case(b"ID") {
            args.iter()
                .skip(3)
                .map(|id| {
                    parse_i64(id).ok_or_else(|| CommandError::Other("ERR Invalid client ID".into()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(ListFilter::Ids)
        } else if n != 2 {
            Err(CommandError::Syntax)
        } else {
            Ok(ListFilter::All)
        }
    }

    /// True if `info` is listed (in some position).
    pub fn matches(&self, info: &ClientInfo) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Type(kind) => info.client_type() == *kind,
            ListFilter::Ids(ids) => ids.contains(&(info.id as i64)),
        }
    }

    /// Renders the matching clients of `clients` (any order, each once) as
    /// CLIENT LIST's text, in Redis's order.
    pub fn render(&self, clients: &mut [ClientInfo], now: UnixMillis) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            ListFilter::Ids(ids) => {
                for &id in ids {
                    if let Some(info) = clients.iter().find(|c| c.id as i64 == id) {
                        info.render(now, &mut out);
                    }
                }
            }
            _ => {
                clients.sort_by_key(|c| c.id);
                for info in clients.iter().filter(|c| self.matches(c)) {
                    info.render(now, &mut out);
                }
            }
        }
        out
    }
}

/// Which clients CLIENT KILL closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillFilter {
    /// The old form, `CLIENT KILL ip:port`: replies OK / `No such client`
    /// instead of a count, and may kill the caller.
    pub old_style: bool,
    /// `ADDR ip:port`.
    pub addr: Option<String>,
    /// `LADDR ip:port`.
    pub laddr: Option<String>,
    /// `ID id` (positive).
    pub id: Option<u64>,
    /// `TYPE type`.
    pub kind: Option<ClientType>,
    /// `MAXAGE seconds`: only clients at least this old (Redis 7.4).
    pub max_age: Option<u64>,
    /// `SKIPME yes|no` (default yes; the old form: no).
    pub skip_me: bool,
}

impl KillFilter {
    /// Parses the words after `CLIENT KILL` with Redis's errors and in its order.
    pub fn parse(words: &[&[u8]]) -> Result<Self, CommandError> {
        let mut filter = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        if words.len() == 1 {
            filter.old_style = true;
            filter.skip_me = false;
            filter.addr = Some(String::from_utf8_lossy(words[0]).into_owned());
            return Ok(filter);
        }
        if words.is_empty() {
            return Err(CommandError::Syntax);
        }
        let mut i = 0;
        while i < words.len() {
            let (opt, value) = match (words[i], words.get(i + 1)) {
                (opt, Some(&value)) => (opt.to_ascii_lowercase(), value),
                _ => return Err(CommandError::Syntax),
            };
            match &opt[..] {
                b"id" => {
                    let id = parse_i64(value).filter(|&id| id >= 1).ok_or_else(|| {
                        CommandError::Other("ERR client-id should be greater than 0".into())
                    })?;
                    filter.id = Some(id as u64);
                }
                b"type" => filter.kind = Some(ClientType::parse(value)?),
                b"addr" => filter.addr = Some(String::from_utf8_lossy(value).into_owned()),
                b"laddr" => filter.laddr = Some(String::from_utf8_lossy(value).into_owned()),
                b"user" => {
                    if value != b"default" {
                        return Err(CommandError::Other(format!(
                            "ERR No such user '{}'",
                            String::from_utf8_lossy(value)
                        )));
                    }
                }
                b"skipme" => {
                    filter.skip_me = if value.eq_ignore_ascii_case(b"yes") {
                        true
                    } else if value.eq_ignore_ascii_case(b"no") {
                        false
                    } else {
                        return Err(CommandError::Syntax);
                    }
                }
                b"maxage" => {
                    let age = parse_i64(value).ok_or_else(|| {
                        CommandError::Other("ERR maxage is not an integer or out of range".into())
                    })?;
                    // Redis 7.4 takes any integer; 0 or less matches every client.
                    filter.max_age = u64::try_from(age).ok().filter(|&a| a > 0);
                }
                _ => return Err(CommandError::Syntax),
            }
            i += 2;
        }
        Ok(filter)
    }

    /// True if `info` is to be killed by client `caller` at `now`.
    pub fn matches(&self, info: &ClientInfo, caller: u64, now: UnixMillis) -> bool {
        self.addr.as_ref().is_none_or(|a| *a == info.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == info.laddr)
            && self.kind.is_none_or(|k| k == info.client_type())
            && self.id.is_none_or(|id| id == info.id)
            && self
                .max_age
                .is_none_or(|age| now.saturating_sub(info.created) / 1000 >= age)
            && !(self.skip_me && info.id == caller)
    }

    /// Writes the reply for `killed` clients closed.
    pub fn reply(&self, killed: usize, enc: &mut ReplyEncoder) {
        if !self.old_style {
            enc.integer(killed as i64);
        } else if killed == 0 {
            enc.error("ERR No such client");
        } else {
            enc.ok();
        }
    }
}

/// What the server must answer with every shard's clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientQuery {
    /// CLIENT LIST.
    List(ListFilter),
    /// CLIENT KILL.
    Kill(KillFilter),
}

/// If `args` is a well-formed CLIENT LIST or CLIENT KILL, what it asks for;
/// `None` for anything else (including their argument errors, which
/// [`client`] replies as a connection command).
pub fn client_query(args: &Args) -> Option<ClientQuery> {
    if args.len() < 2 || !args.get(0).eq_ignore_ascii_case(b"CLIENT") {
        return None;
    }
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"LIST") {
        ListFilter::parse(args).ok().map(ClientQuery::List)
    } else if sub.eq_ignore_ascii_case(b"KILL") {
        let words: Vec<&[u8]> = args.iter().skip(2).collect();
        KillFilter::parse(&words).ok().map(ClientQuery::Kill)
    } else {
        None
    }
}

/// Redis 7.0's CLIENT HELP, cut down to the subcommands Mayfly has, with
/// Redis 7.2's SETINFO and NO-TOUCH and Redis 7.4's KILL ID / MAXAGE filters.
const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

/// Writes a HELP reply: one simple string per line.
pub(crate) fn reply_help(enc: &mut ReplyEncoder, lines: &[&str]) {
    enc.array_len(lines.len());
    for line in lines {
        enc.simple(line);
    }
}

/// Every CLIENT subcommand, its arity counted from CLIENT, and its flags.
pub(crate) const SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("id", 2),
    sub("getname", 2),
    sub("setname", 3),
    sub("setinfo", 4),
    sub("info", 2),
    sub("list", -2).admin(),
    sub("kill", -3).admin(),
    sub("no-evict", 3).admin(),
    sub("no-touch", 3),
    sub("reply", 3),
    sub("help", 2),
];

/// Finds `args[1]` among `subcommands` and checks the arity as Redis checks a
/// container command's subcommand: unknown first, then `'<cmd>|<sub>'` arity.
pub(crate) fn subcommand(
    args: &Args,
    command: &'static str,
    subcommands: &[SubcommandSpec],
) -> Result<&'static str, CommandError> {
    let sub = args.get(1);
    let Some(&SubcommandSpec { name, arity, .. }) = subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
    else {
        return Err(CommandError::UnknownSubcommand {
            sub: String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned(),
            command,
        });
    };
    let argc = args.len() as i64;
    let arity = i64::from(arity);
    if (arity > 0 && argc != arity) || argc < -arity {
        return Err(CommandError::WrongArity(format!(
            "{}|{name}",
            command.to_ascii_lowercase()
        )));
    }
    Ok(name)
}

/// `ON` / `OFF`, case-insensitive; anything else is a syntax error.
fn on_off(arg: &[u8]) -> Result<bool, CommandError> {
    if arg.eq_ignore_ascii_case(b"on") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"off") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// CLIENT subcommand [arguments]
pub fn client(args: &Args, client: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    if let Err(e) = run(args, client, enc) {
        reply_error(enc, &e);
    }
}

fn run(args: &Args, client: &mut Client, enc: &mut ReplyEncoder) -> Result<(), CommandError> {
    match subcommand(args, "CLIENT", SUBCOMMANDS)? {
        "id" => enc.integer(client.id as i64),
        "getname" => match &client.name {
            Some(name) => enc.bulk(name),
            None => enc.null(),
        },
        "setname" => {
            let name = args.get(2);
            validate_client_name(name)?;
            client.name = (!name.is_empty()).then(|| name.to_vec());
            enc.ok();
        }
        "setinfo" => {
            let (attr, value) = (args.get(2), args.get(3));
            let slot = if attr.eq_ignore_ascii_case(b"LIB-NAME") {
                &mut client.lib_name
            } else if attr.eq_ignore_ascii_case(b"LIB-VER") {
                &mut client.lib_ver
            } else {
                return Err(CommandError::Other(format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(attr)
                )));
            };
            if validate_client_name(value).is_err() {
                return Err(CommandError::Other(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(attr)
                )));
            }
            *slot = (!value.is_empty()).then(|| value.to_vec());
            enc.ok();
        }
        "info" => {
            let mut info = ClientInfo::of(client);
            let now = store::now_millis();
            info.last_interaction = now;
            let mut text = Vec::new();
            info.render(now, &mut text);
            enc.verbatim("txt", &text);
        }
        "list" => {
            let filter = ListFilter::parse(args)?;
            let now = store::now_millis();
            let mut me = ClientInfo::of(client);
            me.last_interaction = now;
            enc.verbatim("txt", &filter.render(&mut [me], now));
        }
        "kill" => {
            let words: Vec<&[u8]> = args.iter().skip(2).collect();
            let filter = KillFilter::parse(&words)?;
            let me = ClientInfo::of(client);
            let killed = usize::from(filter.matches(&me, client.id, store::now_millis()));
            filter.reply(killed, enc);
            // The caller itself is closed once this reply is written.
            if killed == 1 {
                client.close_after_reply = true;
            }
        }
        "no-evict" => {
            client.no_evict = on_off(args.get(2))?;
            enc.ok();
        }
        "no-touch" => {
            client.no_touch = on_off(args.get(2))?;
            enc.ok();
        }
        "reply" => {
            let mode = args.get(2);
            if mode.eq_ignore_ascii_case(b"ON") {
                client.reply = ReplyMode::default();
                enc.ok();
            } else if mode.eq_ignore_ascii_case(b"OFF") {
                client.reply.off = true;
            } else if mode.eq_ignore_ascii_case(b"SKIP") {
                if !client.reply.off {
                    client.reply.skip_next = true;
                }
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => reply_help(enc, HELP),
    }
    Ok(())
}

/// RESET: back to a fresh connection's state, as Redis 7.0's
/// `clearClientConnectionState` (NO-EVICT, NO-TOUCH and the SETINFO
/// attributes are kept, as Redis 7.0 keeps NO-EVICT). With a password set
/// the client must authenticate again.
pub(crate) fn reset(_: &Args, client: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    client.authenticated = !crate::settings::password_required();
    client.db = 0;
    client.protocol = Protocol::Resp2;
    client.name = None;
    client.reply.off = false;
    client.reply.skip_next = false;
    client.monitor = false;
    let mut enc = ReplyEncoder::new(enc.buffer(), client.protocol);
    enc.simple("RESET");
}

/// TIME: unix seconds and microseconds, as two bulk strings.
pub(crate) fn time(_: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    enc.array_len(2);
    enc.bulk(now.as_secs().to_string().as_bytes());
    enc.bulk(now.subsec_micros().to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{run_connection, run_connection_on};

    fn info() -> ClientInfo {
        ClientInfo {
            id: 7,
            addr: "127.0.0.1:5000".into(),
            laddr: "127.0.0.1:6379".into(),
            fd: 9,
            created: 10_000,
            last_interaction: 12_500,
            resp: 2,
            last_cmd: crate::testkit::command_of(&["GET", "k"]),
            ..ClientInfo::default()
        }
    }

    #[test]
    fn render_is_redis_field_order() {
        let mut out = Vec::new();
        info().render(15_000, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name= age=5 idle=2 flags=N db=0 \
             sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=65536 \
             rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=get user=default redir=-1 resp=2\n"
        );
        let mut flagged = info();
        flagged.no_evict = true;
        flagged.no_touch = true;
        flagged.name = b"me".to_vec();
        flagged.lib_name = b"redis-py".to_vec();
        flagged.last_cmd = None;
        let mut out = Vec::new();
        flagged.render(15_000, &mut out);
        let line = String::from_utf8_lossy(&out);
        assert!(line.contains(" name=me age=5 "), "{line}");
        assert!(line.contains(" flags=eT "), "{line}");
        assert!(line.contains(" cmd=NULL "), "{line}");
        assert!(line.ends_with(" lib-name=redis-py lib-ver=\n"), "{line}");
    }

    #[test]
    fn simple_subcommands() {
        assert_eq!(run_connection(&["CLIENT", "ID"]).0, b":7\r\n");
        assert_eq!(run_connection(&["client", "getname"]).0, b"$-1\r\n");
        let (out, c) = run_connection_on(&[&["CLIENT", "SETNAME", "x"], &["CLIENT", "GETNAME"]]);
        assert_eq!(out, b"+OK\r\n$1\r\nx\r\n");
        assert_eq!(c.name.as_deref(), Some(&b"x"[..]));
        let (out, c) =
            run_connection_on(&[&["CLIENT", "SETNAME", "x"], &["CLIENT", "SETNAME", ""]]);
        assert_eq!(out, b"+OK\r\n+OK\r\n");
        assert_eq!(c.name, None);
        assert_eq!(
            run_connection(&["CLIENT", "SETNAME", "a b"]).0,
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        let (out, c) =
            run_connection_on(&[&["CLIENT", "NO-EVICT", "on"], &["CLIENT", "NO-TOUCH", "ON"]]);
        assert_eq!(out, b"+OK\r\n+OK\r\n");
        assert!(c.no_evict && c.no_touch);
        assert_eq!(
            run_connection(&["CLIENT", "NO-EVICT", "x"]).0,
            b"-ERR syntax error\r\n"
        );
    }

    #[test]
    fn subcommand_errors() {
        assert_eq!(
            run_connection(&["CLIENT", "foo", "a"]).0,
            b"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            run_connection(&["CLIENT"]).0,
            b"-ERR wrong number of arguments for 'client' command\r\n"
        );
        for (args, name) in [
            (&["CLIENT", "ID", "x"][..], "id"),
            (&["CLIENT", "SETNAME"][..], "setname"),
            (&["CLIENT", "KILL"][..], "kill"),
            (&["CLIENT", "NO-EVICT"][..], "no-evict"),
            (&["CLIENT", "setinfo", "lib-name"][..], "setinfo"),
            (&["CLIENT", "HELP", "x"][..], "help"),
        ] {
            let expected =
                format!("-ERR wrong number of arguments for 'client|{name}' command\r\n");
            assert_eq!(run_connection(args).0, expected.as_bytes());
        }
    }

    #[test]
    fn setinfo_as_redis_7_2() {
        let (out, c) = run_connection_on(&[
            &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"],
            &["CLIENT", "SETINFO", "lib-ver", "5.0.1"],
        ]);
        assert_eq!(out, b"+OK\r\n+OK\r\n");
        assert_eq!(c.lib_name.as_deref(), Some(&b"redis-py"[..]));
        assert_eq!(c.lib_ver.as_deref(), Some(&b"5.0.1"[..]));
        assert_eq!(
            run_connection(&["CLIENT", "SETINFO", "foo", "x"]).0,
            b"-ERR Unrecognized option 'foo'\r\n"
        );
        assert_eq!(
            run_connection(&["CLIENT", "SETINFO", "Lib-Name", "a b"]).0,
            b"-ERR Lib-Name cannot contain spaces, newlines or special characters.\r\n"
        );
    }

    #[test]
    fn info_and_list_show_the_caller() {
        let (out, _) = run_connection_on(&[&["CLIENT", "SETNAME", "n"], &["CLIENT", "INFO"]]);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("+OK\r\n$"), "{text}");
        assert!(
            text.contains("\r\nid=7 addr= laddr= fd=-1 name=n age="),
            "{text}"
        );
        assert!(text.contains(" cmd=client|info user=default "), "{text}");
        assert!(text.ends_with(" resp=2\n\r\n"), "{text}");
        let (out, _) = run_connection(&["CLIENT", "LIST", "ID", "8", "7"]);
        assert!(String::from_utf8_lossy(&out).contains(" cmd=client|list "));
        assert_eq!(
            run_connection(&["CLIENT", "LIST", "ID", "8"]).0,
            b"$0\r\n\r\n"
        );
        assert_eq!(
            run_connection(&["CLIENT", "LIST", "TYPE", "master"]).0,
            b"$0\r\n\r\n"
        );
    }

    #[test]
    fn list_errors() {
        for (args, err) in [
            (&["CLIENT", "LIST", "TYPE"][..], "ERR syntax error"),
            (&["CLIENT", "LIST", "ID"][..], "ERR syntax error"),
            (&["CLIENT", "LIST", "foo"][..], "ERR syntax error"),
            (
                &["CLIENT", "LIST", "TYPE", "normal", "x"][..],
                "ERR syntax error",
            ),
            (
                &["CLIENT", "LIST", "TYPE", "foo"][..],
                "ERR Unknown client type 'foo'",
            ),
            (
                &["CLIENT", "LIST", "ID", "1", "abc"][..],
                "ERR Invalid client ID",
            ),
        ] {
            assert_eq!(run_connection(args).0, format!("-{err}\r\n").as_bytes());
        }
    }

    #[test]
    fn list_filter_orders() {
        let mut a = info();
        a.id = 3;
        let mut b = info();
        b.id = 1;
        let ids = ListFilter::Ids(vec![3, 2, 1, 3]);
        let text = String::from_utf8(ids.render(&mut [a.clone(), b.clone()], 15_000)).unwrap();
        let order: Vec<&str> = text.lines().map(|l| &l[..4]).collect();
        assert_eq!(order, ["id=3", "id=1", "id=3"]);
        let text = String::from_utf8(ListFilter::All.render(&mut [a, b], 15_000)).unwrap();
        let order: Vec<&str> = text.lines().map(|l| &l[..4]).collect();
        assert_eq!(order, ["id=1", "id=3"]);
    }

    fn kill(words: &[&str]) -> Result<KillFilter, String> {
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        KillFilter::parse(&words).map_err(|e| e.to_string())
    }

    #[test]
    fn kill_parsing_as_redis() {
        let old = kill(&["1.2.3.4:5"]).unwrap();
        assert!(old.old_style && !old.skip_me);
        assert_eq!(old.addr.as_deref(), Some("1.2.3.4:5"));
        for (words, err) in [
            (&["id", "0"][..], "ERR client-id should be greater than 0"),
            (&["id", "abc"][..], "ERR client-id should be greater than 0"),
            (&["type", "foo"][..], "ERR Unknown client type 'foo'"),
            (&["user", "nobody"][..], "ERR No such user 'nobody'"),
            (&["skipme", "maybe"][..], "ERR syntax error"),
            (&["id", "1", "id"][..], "ERR syntax error"),
            (&["foo", "bar"][..], "ERR syntax error"),
            (&["a", "b", "c"][..], "ERR syntax error"),
            (
                &["maxage", "x"][..],
                "ERR maxage is not an integer or out of range",
            ),
        ] {
            assert_eq!(kill(words).unwrap_err(), err, "{words:?}");
        }
        let f = kill(&[
            "ID", "7", "TYPE", "normal", "user", "default", "SKIPME", "NO",
        ])
        .unwrap();
        assert_eq!(f.id, Some(7));
        assert!(!f.skip_me && !f.old_style);
    }

    #[test]
    fn kill_matching() {
        let c = info();
        let now = 15_000;
        assert!(kill(&["addr", "127.0.0.1:5000"])
            .unwrap()
            .matches(&c, 1, now));
        assert!(!kill(&["addr", "127.0.0.1:5001"])
            .unwrap()
            .matches(&c, 1, now));
        assert!(kill(&["laddr", "127.0.0.1:6379"])
            .unwrap()
            .matches(&c, 1, now));
        assert!(!kill(&["id", "8"]).unwrap().matches(&c, 1, now));
        assert!(!kill(&["type", "pubsub"]).unwrap().matches(&c, 1, now));
        assert!(kill(&["maxage", "5"]).unwrap().matches(&c, 1, now));
        assert!(!kill(&["maxage", "6"]).unwrap().matches(&c, 1, now));
        // The caller is skipped unless SKIPME no.
        assert!(!kill(&["id", "7"]).unwrap().matches(&c, 7, now));
        assert!(kill(&["id", "7", "skipme", "no"])
            .unwrap()
            .matches(&c, 7, now));
    }

    #[test]
    fn kill_replies() {
        assert_eq!(
            run_connection(&["CLIENT", "KILL", "1.2.3.4:5"]).0,
            b"-ERR No such client\r\n"
        );
        assert_eq!(run_connection(&["CLIENT", "KILL", "ID", "99"]).0, b":0\r\n");
        let (out, c) = run_connection(&["CLIENT", "KILL", "ID", "7"]);
        assert_eq!(out, b":0\r\n");
        assert!(!c.close_after_reply);
        let (out, c) = run_connection(&["CLIENT", "KILL", "ID", "7", "SKIPME", "no"]);
        assert_eq!(out, b":1\r\n");
        assert!(c.close_after_reply);
    }

    #[test]
    fn reply_modes() {
        let mut mode = ReplyMode::default();
        assert!(mode.is_on());
        // CLIENT REPLY SKIP: its own (empty) reply goes, the next is dropped.
        mode.skip_next = true;
        assert!(!mode.suppressed());
        mode.command_done();
        assert!(mode.suppressed());
        mode.command_done();
        assert!(!mode.suppressed());
        let (out, c) =
            run_connection_on(&[&["CLIENT", "REPLY", "OFF"], &["CLIENT", "REPLY", "SKIP"]]);
        assert_eq!(out, b"");
        assert!(c.reply.suppressed());
        let (out, c) =
            run_connection_on(&[&["CLIENT", "REPLY", "OFF"], &["CLIENT", "REPLY", "ON"]]);
        assert_eq!(out, b"+OK\r\n");
        assert!(c.reply.is_on());
        assert_eq!(
            run_connection(&["CLIENT", "REPLY", "foo"]).0,
            b"-ERR syntax error\r\n"
        );
    }

    #[test]
    fn help_lists_lines() {
        let (out, _) = run_connection(&["CLIENT", "HELP"]);
        assert!(out.starts_with(
            b"*43\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GETNAME\r\n"
        ));
        assert!(out.ends_with(b"+HELP\r\n+    Prints this help.\r\n"));
    }

    #[test]
    fn reset_and_time() {
        let (out, c) = run_connection_on(&[
            &["HELLO", "3"],
            &["SELECT", "2"],
            &["CLIENT", "SETNAME", "x"],
            &["CLIENT", "NO-EVICT", "on"],
            &["CLIENT", "REPLY", "OFF"],
            &["RESET"],
        ]);
        assert!(out.ends_with(b"+OK\r\n+OK\r\n+OK\r\n+RESET\r\n"));
        assert_eq!(c.db, 0);
        assert_eq!(c.protocol, Protocol::Resp2);
        assert_eq!(c.name, None);
        assert!(!c.reply.suppressed());
        assert!(c.no_evict);
        let (out, _) = run_connection(&["TIME"]);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("*2\r\n$10\r\n"), "{text}");
        assert_eq!(
            run_connection(&["TIME", "x"]).0,
            b"-ERR wrong number of arguments for 'time' command\r\n"
        );
    }

    #[test]
    fn client_query_only_for_valid_list_and_kill() {
        let q = |parts: &[&str]| client_query(&Args::from_slices(parts));
        assert_eq!(
            q(&["client", "list"]),
            Some(ClientQuery::List(ListFilter::All))
        );
        assert!(matches!(
            q(&["CLIENT", "KILL", "ID", "3"]),
            Some(ClientQuery::Kill(_))
        ));
        assert_eq!(q(&["CLIENT", "LIST", "foo"]), None);
        assert_eq!(q(&["CLIENT", "ID"]), None);
        assert_eq!(q(&["GET", "LIST"]), None);
    }
}
