//! Prometheus metrics over HTTP, on the RESP port: a connection whose first
//! bytes are an HTTP/1.x `GET` request line is served as HTTP, and
//! `GET /metrics` answers Prometheus's text exposition format (0.0.4) with
//! per-shard and process-wide series.
//!
//! The protocol is told once per connection, from its first line, before
//! any RESP request ([`opening`]): the RESP path pays nothing. A first line
//! that is not `GET <target> HTTP/1.0` or `HTTP/1.1` is RESP (a RESP
//! request never looks like one: inline `GET a b` has GET's arity wrong),
//! so a RESP connection that sends `POST` or `Host:` later meets Redis's
//! cross-protocol protection as before.
//!
//! HTTP connections are kept alive, as HTTP/1.1 has them by default:
//! Prometheus reuses its connection for every scrape, so a scrape every 15
//! seconds costs one connection (one `total_connections_received`, one
//! `maxclients` slot, one CLIENT LIST line) rather than one per scrape.
//! `Connection: close` and HTTP/1.0 close after the response. Any path but
//! `/metrics` (a query string aside) gets 404; a request that cannot be
//! parsed (or a later one that is not a bodiless GET) gets 400 and the
//! connection is closed.
//!
//! While `requirepass` is set, every request must carry the default user's
//! password as HTTP Basic credentials (`Authorization: Basic`, user
//! `default`; Prometheus's `basic_auth`), or it gets 401: the figures are
//! no more public than the data.

use crate::reactor::Reactor;
use commands::{Client, ProcessStats, ShardStats, SETTINGS};
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;
use std::fmt::{Display, Write};
use std::sync::atomic::Ordering::Relaxed;

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;
/// `Content-Type` of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a connection's first bytes say it speaks.
pub(crate) enum Opening {
    /// An HTTP request: the bytes read are its beginning.
    Http,
    /// RESP: the bytes read are its first requests.
    Resp,
    /// It closed before saying.
    Closed,
}

/// Reads a new connection's first bytes into `input` (enough to tell its
/// protocol: usually one read) and tells which it speaks.
pub(crate) async fn opening(
    reactor: &Reactor,
    stream: &mut TcpStream,
    chunk: &mut [u8],
    input: &mut Vec<u8>,
) -> Opening {
    loop {
        let read = stream.read(chunk).await;
        let n = *read.as_ref().unwrap_or(&0);
        reactor.count_read(n, input.len() + n);
        match read {
            Ok(0) | Err(_) => return Opening::Closed,
            Ok(n) => input.extend_from_slice(&chunk[..n]),
        }
        match sniff(input) {
            Some(true) => return Opening::Http,
            Some(false) => return Opening::Resp,
            None => {}
        }
    }
}

/// Whether `input` starts with an HTTP/1.x GET request line; `None` while
/// it could still become one.
fn sniff(input: &[u8]) -> Option<bool> {
    const GET: &[u8] = b"GET ";
    if !input.starts_with(GET) {
        return if GET.starts_with(input) {
            None
        } else {
            Some(false)
        };
    }
    match input.iter().position(|&b| b == b'\n') {
        Some(end) => Some(request_line(&input[..end]).is_some()),
        None if input.len() < MAX_HEAD => None,
        None => Some(false),
    }
}

/// The target of a `GET <target> HTTP/1.x` line (CR optional), and whether
/// its version is 1.1.
fn request_line(line: &[u8]) -> Option<(&[u8], bool)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"GET ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let (target, version) = (&rest[..space], &rest[space + 1..]);
    let valid = |b: &u8| b.is_ascii_graphic();
    if target.is_empty() || !target.iter().all(valid) {
        return None;
    }
    match version {
        b"HTTP/1.1" => Some((target, true)),
        b"HTTP/1.0" => Some((target, false)),
        _ => None,
    }
}

/// One parsed request head.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Not all of it has arrived.
    Partial,
    /// Not a request this server understands: 400, then close.
    Bad,
    /// A GET of `metrics` (the path is /metrics) that ends at byte `len`;
    /// `close`: the connection closes after the response; `credentials`:
    /// the user and password of an `Authorization: Basic` header.
    Get {
        metrics: bool,
        close: bool,
        len: usize,
        credentials: Option<(Vec<u8>, Vec<u8>)>,
    },
}

/// Parses the request head at the start of `input`: the request line,
/// header lines, and an empty line (lines end with LF, CR optional).
fn parse_head(input: &[u8]) -> Head {
    let mut lines = Vec::new();
    let mut start = 0;
    let len = loop {
        let Some(end) = input[start..].iter().position(|&b| b == b'\n') else {
            return if input.len() > MAX_HEAD {
                Head::Bad
            } else {
                Head::Partial
            };
        };
        let line = &input[start..start + end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        start += end + 1;
        if start > MAX_HEAD {
            return Head::Bad;
        }
        if line.is_empty() && !lines.is_empty() {
            break start;
        }
        lines.push(line);
    };
    let Some((target, http11)) = lines.first().and_then(|l| request_line(l)) else {
        return Head::Bad;
    };
    let mut close = !http11;
    let mut credentials = None;
    for line in &lines[1..] {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Head::Bad;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Head::Bad;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if option.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case(b"authorization") {
            credentials = basic_credentials(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || (name.eq_ignore_ascii_case(b"content-length") && value != b"0")
        {
            // A GET with a body: not one this server reads.
            return Head::Bad;
        }
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    Head::Get {
        metrics: path == b"/metrics",
        close,
        len,
        credentials,
    }
}

/// The user and password of a `Basic` authorization value
/// (`Basic base64(user:password)`), if it is one.
fn basic_credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, encoded) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64_decode(encoded.trim_ascii())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Standard base64 (RFC 4648, `=` padding optional); None if malformed.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for group in text.chunks(4) {
        let mut bits = 0u32;
        for &c in group {
            bits = bits << 6 | sextet(c)?;
        }
        bits <<= 6 * (4 - group.len()) as u32;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

/// Whether a request with `credentials` may be answered: always without
/// `requirepass`, else with the default user's password.
fn authorized(credentials: Option<&(Vec<u8>, Vec<u8>)>) -> bool {
    !commands::settings::password_required()
        || credentials.is_some_and(|(user, password)| {
            user == b"default" && commands::settings::password_matches(password)
        })
}

/// An HTTP token character (RFC 9110), as header names are made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Serves HTTP requests on a connection whose first bytes (in `input`)
/// began one, until it closes or a request says to close.
pub(crate) async fn serve(
    reactor: &Reactor,
    stream: &mut TcpStream,
    client: &mut Client,
    chunk: &mut [u8],
    mut input: Vec<u8>,
) {
    let mut out = Vec::new();
    loop {
        match parse_head(&input) {
            Head::Partial => {
                let read = stream.read(chunk).await;
                let n = *read.as_ref().unwrap_or(&0);
                reactor.count_read(n, input.len() + n);
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => input.extend_from_slice(&chunk[..n]),
                }
            }
            Head::Bad => {
                response(
                    &mut out,
                    "400 Bad Request",
                    "text/plain",
                    b"Bad Request\n",
                    true,
                );
                reactor.write(stream, &mut out).await;
                return;
            }
            Head::Get {
                metrics,
                close,
                len,
                credentials,
            } => {
                input.drain(..len);
                client.last_interaction = store::now_millis();
                crate::clients::sync(client);
                if !authorized(credentials.as_ref()) {
                    response_with(
                        &mut out,
                        "401 Unauthorized",
                        "Content-Type: text/plain\r\nWWW-Authenticate: Basic realm=\"mayfly\"\r\n",
                        b"Unauthorized\n",
                        close,
                    );
                } else if metrics {
                    let text = render(reactor).await;
                    response(&mut out, "200 OK", CONTENT_TYPE, text.as_bytes(), close);
                } else {
                    response(
                        &mut out,
                        "404 Not Found",
                        "text/plain",
                        b"Not Found\n",
                        close,
                    );
                }
                if !reactor.write(stream, &mut out).await || close {
                    return;
                }
            }
        }
    }
}

/// Appends an HTTP/1.1 response to `out`.
fn response(out: &mut Vec<u8>, status: &str, content_type: &str, body: &[u8], close: bool) {
    let content_type = format!("Content-Type: {content_type}\r\n");
    response_with(out, status, &content_type, body, close);
}

/// Appends an HTTP/1.1 response with these `headers` (each line ending in
/// CRLF) before its length.
fn response_with(out: &mut Vec<u8>, status: &str, headers: &str, body: &[u8], close: bool) {
    let connection = if close { "Connection: close\r\n" } else { "" };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n{connection}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
}

/// Every shard's statistics (a shard that is shutting down is left out),
/// and the process's, then the exposition text.
async fn render(reactor: &Reactor) -> String {
    let shards = crate::connection::gather_stats(reactor).await;
    let process = crate::connection::process_stats(reactor);
    exposition(&shards, &process)
}

/// The text exposition of `shards` (by shard number) and `process`.
fn exposition(shards: &[(usize, ShardStats)], p: &ProcessStats) -> String {
    let mut x = Exposition::default();
    x.family(
        "mayfly_info",
        "gauge",
        "Mayfly's version, the Redis version it answers as, and its mode; always 1.",
    );
    let mode = if p.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    x.sample(
        "mayfly_info",
        &[
            ("version", p.mayfly_version),
            ("redis_version", commands::REDIS_VERSION),
            ("mode", mode),
        ],
        1,
    );
    x.single(
        "mayfly_shards",
        "gauge",
        "Shards, one executor thread each.",
        shards.len(),
    );
    x.single(
        "mayfly_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        p.uptime_seconds,
    );
    x.single(
        "mayfly_start_time_seconds",
        "gauge",
        "When the server started, unix seconds.",
        p.started_unix,
    );
    x.single(
        "mayfly_memory_used_bytes",
        "gauge",
        "Bytes allocated (INFO's used_memory).",
        p.used_memory,
    );
    x.single(
        "mayfly_memory_rss_bytes",
        "gauge",
        "Resident set size (INFO's used_memory_rss).",
        p.used_memory_rss,
    );
    x.single(
        "mayfly_memory_peak_bytes",
        "gauge",
        "Highest used_memory seen.",
        p.used_memory_peak,
    );
    x.single(
        "mayfly_memory_max_bytes",
        "gauge",
        "maxmemory: above it, commands that may add memory are refused; 0: no limit.",
        SETTINGS.maxmemory.load(Relaxed),
    );
    x.single(
        "mayfly_clients_max",
        "gauge",
        "maxclients.",
        SETTINGS.maxclients.load(Relaxed),
    );
    let sum = |f: fn(&ShardStats) -> u64| shards.iter().map(|(_, s)| f(s)).sum::<u64>();
    x.single(
        "mayfly_connections_received_total",
        "counter",
        "Connections accepted.",
        sum(|s| s.connections_received),
    );
    x.single(
        "mayfly_connections_rejected_total",
        "counter",
        "Connections refused because maxclients clients were connected.",
        sum(|s| s.rejected_connections),
    );
    x.single(
        "mayfly_net_input_bytes_total",
        "counter",
        "Bytes read from clients.",
        sum(|s| s.net_input_bytes),
    );
    x.single(
        "mayfly_net_output_bytes_total",
        "counter",
        "Bytes written to clients.",
        sum(|s| s.net_output_bytes),
    );
    x.family(
        "mayfly_cpu_seconds_total",
        "counter",
        "CPU time of the process, by mode.",
    );
    x.sample(
        "mayfly_cpu_seconds_total",
        &[("mode", "system")],
        seconds(p.cpu.system),
    );
    x.sample(
        "mayfly_cpu_seconds_total",
        &[("mode", "user")],
        seconds(p.cpu.user),
    );

    x.per_shard(
        shards,
        "mayfly_keys",
        "gauge",
        "Keys stored, every database, expired keys not yet reclaimed included.",
        |s| s.keys(),
    );
    x.per_shard(
        shards,
        "mayfly_keys_with_ttl",
        "gauge",
        "Keys with a TTL.",
        |s| s.expires(),
    );
    x.per_shard(
        shards,
        "mayfly_commands_processed_total",
        "counter",
        "Commands run by the clients connected to the shard's thread.",
        |s| s.commands_processed,
    );
    x.per_shard(
        shards,
        "mayfly_shard_ops_total",
        "counter",
        "Commands, and shares of multi-shard commands, run on the shard's data.",
        |s| s.ops,
    );
    x.per_shard(
        shards,
        "mayfly_connected_clients",
        "gauge",
        "Clients connected to the shard's thread.",
        |s| s.connected_clients,
    );
    x.per_shard(
        shards,
        "mayfly_shard_keyspace_memory_bytes",
        "gauge",
        "Bytes the shard's data holds: its tables and the heap blocks of its keys and values.",
        |s| s.keyspace_memory,
    );
    x.per_shard(
        shards,
        "mayfly_expired_keys_total",
        "counter",
        "Keys deleted because their TTL passed.",
        |s| s.expired_keys,
    );
    x.per_shard(
        shards,
        "mayfly_keyspace_hits_total",
        "counter",
        "Key lookups that found their key.",
        |s| s.keyspace_hits,
    );
    x.per_shard(
        shards,
        "mayfly_keyspace_misses_total",
        "counter",
        "Key lookups that did not.",
        |s| s.keyspace_misses,
    );
    x.per_shard(
        shards,
        "mayfly_mesh_messages_sent_total",
        "counter",
        "Messages the shard sent to other shards.",
        |s| s.mesh_sent,
    );
    x.per_shard(
        shards,
        "mayfly_mesh_messages_received_total",
        "counter",
        "Messages the shard received from other shards.",
        |s| s.mesh_received,
    );
    x.family(
        "mayfly_shard_cpu_seconds_total",
        "counter",
        "CPU time of the shard's thread, by mode.",
    );
    for (shard, s) in shards {
        let shard = shard.to_string();
        x.sample(
            "mayfly_shard_cpu_seconds_total",
            &[("shard", &shard), ("mode", "system")],
            seconds(s.cpu.system),
        );
        x.sample(
            "mayfly_shard_cpu_seconds_total",
            &[("shard", &shard), ("mode", "user")],
            seconds(s.cpu.user),
        );
    }
    command_families(&mut x, shards);
    x.text
}

/// The `le` bounds of `mayfly_command_duration_seconds`, in ns: 1 µs to 1 s.
const DURATION_BOUNDS_NS: [u64; 18] = [
    1_000,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// Per-command series from the command accounting that INFO commandstats
/// and latencystats read, over every shard: calls, failed and rejected
/// calls (`cmd` is the full name, `config|get`), and each command's
/// durations as a histogram. A bucket counts the durations its `le` bound
/// covers as far as the accounting's log-linear buckets tell (each at most
/// 6.25 % wide), so a duration just under a bound may land in the next one.
fn command_families(x: &mut Exposition, shards: &[(usize, ShardStats)]) {
    let merged = commands::CommandStats::merged(shards.iter().map(|(_, s)| &s.commands));
    type Count = fn(&commands::CommandMetrics) -> u64;
    let counters: [(&str, &str, Count); 3] = [
        (
            "mayfly_commands_total",
            "Calls of each command that ran (INFO commandstats' calls).",
            |m| m.calls,
        ),
        (
            "mayfly_commands_failed_total",
            "Calls of each command that ran and replied an error (failed_calls).",
            |m| m.failed,
        ),
        (
            "mayfly_commands_rejected_total",
            "Calls of each command refused before running (rejected_calls).",
            |m| m.rejected,
        ),
    ];
    for (name, help, value) in counters {
        x.family(name, "counter", help);
        for m in merged.metrics() {
            x.sample(name, &[("cmd", m.name)], value(&m));
        }
    }
    let name = "mayfly_command_duration_seconds";
    x.family(
        name,
        "histogram",
        "How long each command took to run where it ran, in seconds.",
    );
    let bucket = format!("{name}_bucket");
    for m in merged.metrics() {
        let Some(histogram) = m.histogram else {
            continue;
        };
        let cumulative = histogram.cumulative(&DURATION_BOUNDS_NS);
        for (bound, count) in DURATION_BOUNDS_NS.iter().zip(cumulative) {
            let le = (*bound as f64 / 1e9).to_string();
            x.sample(&bucket, &[("cmd", m.name), ("le", &le)], count);
        }
        x.sample(&bucket, &[("cmd", m.name), ("le", "+Inf")], m.calls);
        x.sample(
            &format!("{name}_sum"),
            &[("cmd", m.name)],
            m.usec as f64 / 1e6,
        );
        x.sample(&format!("{name}_count"), &[("cmd", m.name)], m.calls);
    }
}

fn seconds(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

/// Prometheus's text format being written: each family's `# HELP` and
/// `# TYPE`, then its samples, together.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        // `write!` into a String cannot fail.
        let _ = write!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let value = value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{label}=\"{value}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// A family with one sample per shard, labelled `shard="N"`.
    fn per_shard<T: Display>(
        &mut self,
        shards: &[(usize, ShardStats)],
        name: &str,
        kind: &str,
        help: &str,
        value: impl Fn(&ShardStats) -> T,
    ) {
        self.family(name, kind, help);
        for (shard, s) in shards {
            self.sample(name, &[("shard", &shard.to_string())], value(s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_as_rfc_7617_has_them() {
        assert_eq!(
            base64_decode(b"ZGVmYXVsdDpzM2NyZXQ="),
            Some(b"default:s3cret".to_vec())
        );
        assert_eq!(base64_decode(b"YQ"), Some(b"a".to_vec()));
        assert_eq!(base64_decode(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode(b"YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode(b""), Some(Vec::new()));
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"YW!j"), None);
        assert_eq!(
            basic_credentials(b"Basic ZGVmYXVsdDpzM2NyZXQ="),
            Some((b"default".to_vec(), b"s3cret".to_vec()))
        );
        // The password may hold colons; the user may not.
        assert_eq!(
            basic_credentials(b"basic dTpwOnE="),
            Some((b"u".to_vec(), b"p:q".to_vec()))
        );
        assert_eq!(basic_credentials(b"Bearer ZGVmYXVsdDpz"), None);
        assert_eq!(basic_credentials(b"Basic"), None);
        assert_eq!(basic_credentials(b"Basic bm9jb2xvbg=="), None);
    }

    #[test]
    fn http_is_told_from_the_first_line() {
        assert_eq!(sniff(b"GET /metrics HTTP/1.1\r\n"), Some(true));
        assert_eq!(
            sniff(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"),
            Some(true)
        );
        assert_eq!(sniff(b"GET / HTTP/1.1\n"), Some(true));
        for partial in [&b""[..], b"G", b"GET", b"GET ", b"GET /metrics HTTP/1.1"] {
            assert_eq!(sniff(partial), None, "{partial:?}");
        }
        for resp in [
            &b"*1\r\n$4\r\nPING\r\n"[..],
            b"PING\r\n",
            b"GET key\r\n",
            b"GET /metrics\r\n",
            b"GET /metrics HTTP/2.0\r\n",
            b"GET  /metrics HTTP/1.1\r\n",
            b"get /metrics HTTP/1.1\r\n",
            b"POST /metrics HTTP/1.1\r\n",
            b"GE\r\n",
        ] {
            assert_eq!(sniff(resp), Some(false), "{resp:?}");
        }
        let long = [b"GET /".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(sniff(&long), Some(false));
    }

    #[test]
    fn request_heads_parse() {
        let get = |metrics, close, len| Head::Get {
            metrics,
            close,
            len,
            credentials: None,
        };
        let head = b"GET /metrics HTTP/1.1\r\nHost: a:1\r\nAccept: text/plain\r\n\r\nGET";
        assert_eq!(parse_head(head), get(true, false, head.len() - 3));
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n"),
            get(true, false, 29)
        );
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.0\r\n\r\n"),
            get(true, true, 25)
        );
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
            get(true, false, 49)
        );
        assert_eq!(
            parse_head(b"GET /x HTTP/1.1\nconnection: foo, close\n\n"),
            get(false, true, 40)
        );
        let with_auth = b"GET /metrics HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n";
        assert_eq!(
            parse_head(with_auth),
            Head::Get {
                metrics: true,
                close: false,
                len: with_auth.len(),
                credentials: Some((b"u".to_vec(), b"p".to_vec())),
            }
        );
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"),
            Head::Partial
        );
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\n\r"), Head::Partial);
        for bad in [
            &b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n"[..],
            b"GET /metrics HTTP/1.1\r\n: empty\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.2\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad), Head::Bad, "{bad:?}");
        }
        let huge = [
            b"GET /metrics HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; MAX_HEAD],
        ]
        .concat();
        assert_eq!(parse_head(&huge), Head::Bad);
    }

    #[test]
    fn responses_say_their_length() {
        let mut out = Vec::new();
        response(
            &mut out,
            "404 Not Found",
            "text/plain",
            b"Not Found\n",
            false,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n"
        );
        out.clear();
        response(&mut out, "200 OK", CONTENT_TYPE, b"x 1\n", true);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
              Content-Length: 4\r\nConnection: close\r\n\r\nx 1\n"
        );
    }

    #[test]
    fn families_keep_their_samples_together() {
        let shard = |keys| ShardStats {
            databases: vec![(
                0,
                commands::DbStats {
                    keys,
                    ..Default::default()
                },
            )],
            ..ShardStats::default()
        };
        let text = exposition(&[(0, shard(3)), (1, shard(4))], &ProcessStats::default());
        assert!(text.contains(
            "# HELP mayfly_keys Keys stored, every database, expired keys not yet reclaimed included.\n\
             # TYPE mayfly_keys gauge\nmayfly_keys{shard=\"0\"} 3\nmayfly_keys{shard=\"1\"} 4\n# HELP "
        ));
        assert!(text.contains("mayfly_shard_cpu_seconds_total{shard=\"1\",mode=\"user\"} 0\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut x = Exposition::default();
        x.family("m", "gauge", "a \\ b\nc");
        x.sample("m", &[("l", "q\"\\\n")], 1.5);
        assert_eq!(
            x.text,
            "# HELP m a \\\\ b\\nc\n# TYPE m gauge\nm{l=\"q\\\"\\\\\\n\"} 1.5\n"
        );
    }
}
