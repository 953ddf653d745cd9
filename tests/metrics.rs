//! Prometheus's /metrics on the RESP port: the HTTP exchange byte for byte
//! (200 with the exposition format's content type and length, keep-alive,
//! `Connection: close`, HTTP/1.0, 404, 400), the body checked by a strict
//! reader of the text format, its figures against INFO's, and RESP
//! connections unchanged: HTTP-looking input later in a RESP connection,
//! `POST` and `Host:`, gets what redis-server gives it; with `requirepass`,
//! HTTP Basic credentials of the default user.

#[macro_use]
mod common;

use common::{info_field, shard_field, show, text_of, RedisServer, Server};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A Mayfly of 2 shards of our own (never an external server: /metrics is
/// Mayfly's).
fn server() -> Option<Server> {
    let s = Server::start(&["--threads", "2"]);
    (!common::skip_if_external()).then_some(s)
}

/// An HTTP response: status line, headers (names lower case), body.
struct Response {
    status: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP connection to the RESP port.
struct Http {
    reader: BufReader<TcpStream>,
}

impl Http {
    fn connect(port: u16) -> Http {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(common::REPLY_TIMEOUT))
            .expect("timeout");
        Http {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, request: &[u8]) {
        self.reader.get_mut().write_all(request).expect("write");
    }

    /// Reads one response, its body by Content-Length.
    fn response(&mut self) -> Response {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .strip_suffix("\r\n")
            .unwrap_or_else(|| panic!("status line {line:?}"))
            .to_string();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header line");
            let line = line
                .strip_suffix("\r\n")
                .unwrap_or_else(|| panic!("header {line:?}"));
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").expect("name: value");
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .expect("a Content-Length");
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        Response {
            status,
            headers,
            body: String::from_utf8(body).expect("UTF-8 body"),
        }
    }

    /// Asserts that the server closed the connection.
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "more after the response: {}", show(&rest)),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }

    /// Asserts that the connection is still open and silent.
    fn expect_open(&mut self) {
        let stream = self.reader.get_ref();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let got = self.reader.fill_buf().map(|b| b.to_vec());
        assert!(
            matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut),
            "expected an open, silent connection, got {got:?}"
        );
        self.reader
            .get_ref()
            .set_read_timeout(Some(common::REPLY_TIMEOUT))
            .expect("timeout");
    }
}

/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Reads Prometheus's text exposition format (0.0.4) strictly: every line
/// is a `# HELP`, a `# TYPE` or a sample; names and label names follow the
/// grammar; label values are quoted with only `\\`, `\"` and `\n` escapes;
/// values parse; each family has one HELP and one TYPE, both before its
/// samples, and its samples are together; counters end in `_total`;
/// histograms have `_bucket` (with `le`), `_sum` and `_count`; no sample is
/// given twice; the text ends with a newline. Returns the types and the
/// samples.
fn parse_exposition(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    assert!(text.ends_with('\n'), "the text must end with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: Vec<String> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut samples: Vec<Sample> = Vec::new();
    let mut seen: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "empty line");
        let mut enter = |family: &str, current: &mut Option<String>| {
            if current.as_deref() != Some(family) {
                assert!(
                    !done.contains(&family.to_string()),
                    "{family} appears twice, apart"
                );
                if let Some(previous) = current.take() {
                    done.push(previous);
                }
                *current = Some(family.to_string());
            }
        };
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(metric_name(name), "bad name in {line:?}");
            assert!(!helps.contains(&name.to_string()), "HELP twice for {name}");
            assert!(!types.contains_key(name), "HELP after TYPE for {name}");
            check_escapes(help, false);
            enter(name, &mut current);
            helps.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(metric_name(name), "bad name in {line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type in {line:?}"
            );
            assert!(
                helps.contains(&name.to_string()),
                "TYPE before HELP for {name}"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice"
            );
            if kind == "counter" {
                assert!(
                    name.ends_with("_total"),
                    "counter {name} must end in _total"
                );
            }
            enter(name, &mut current);
        } else {
            assert!(!line.starts_with('#'), "bad comment {line:?}");
            let (name, labels, value) = sample(line);
            let family = current
                .clone()
                .unwrap_or_else(|| panic!("{line:?} before its TYPE"));
            let kind = types
                .get(&family)
                .unwrap_or_else(|| panic!("{line:?} before its TYPE"));
            let belongs = match kind.as_str() {
                "histogram" => {
                    let suffix = name.strip_prefix(family.as_str()).unwrap_or("?");
                    let le = labels.iter().any(|(l, _)| l == "le");
                    matches!((suffix, le), ("_bucket", true) | ("_sum" | "_count", false))
                }
                "summary" => {
                    name == family
                        || name == format!("{family}_sum")
                        || name == format!("{family}_count")
                }
                _ => name == family,
            };
            assert!(belongs, "{line:?} is not a sample of {family} ({kind})");
            let key = (name.clone(), labels.clone());
            assert!(!seen.contains(&key), "{line:?} given twice");
            seen.push(key);
            samples.push((name, labels, value));
        }
    }
    for family in helps {
        assert!(types.contains_key(&family), "{family} has HELP but no TYPE");
    }
    (types, samples)
}

fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Checks that `text` uses only the escapes allowed (`quotes`: also `\"`).
fn check_escapes(text: &str, quotes: bool) {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next();
            assert!(
                matches!(next, Some('\\' | 'n')) || (quotes && next == Some('"')),
                "bad escape in {text:?}"
            );
        } else {
            assert!(quotes || c != '\n');
        }
    }
}

/// One sample line: `name{label="value",...} value`.
fn sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let name = &line[..name_end];
    assert!(metric_name(name), "bad name in {line:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut body = body;
        loop {
            if let Some(after) = body.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = body
                .find('=')
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            let label = &body[..eq];
            assert!(label_name(label), "bad label name {label:?} in {line:?}");
            let quoted = body[eq + 1..]
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            assert!(
                !labels.iter().any(|(l, _): &(String, String)| l == label),
                "label {label} twice in {line:?}"
            );
            labels.push((label.to_string(), value));
            body = &quoted[end + 1..];
            if let Some(after) = body.strip_prefix(',') {
                body = after;
                assert!(!body.starts_with('}'), "trailing comma in {line:?}");
            } else {
                assert!(body.starts_with('}'), "bad labels in {line:?}");
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before the value in {line:?}"));
    assert!(
        !value.contains(' '),
        "a timestamp or junk after the value in {line:?}"
    );
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    (name.to_string(), labels, value)
}

#[test]
fn the_checker_refuses_what_prometheus_refuses() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n\
                # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n";
    parse_exposition(good);
    for bad in [
        "# HELP a A.\n# TYPE a gauge\na 1",                     // no final newline
        "a 1\n",                                                // no TYPE
        "# TYPE a gauge\n# HELP a A.\na 1\n",                   // TYPE before HELP
        "# HELP a A.\n# TYPE a counter\na 1\n",                 // counter without _total
        "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n", // apart
        "# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",         // label name
        "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",              // unquoted
        "# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",        // escape
        "# HELP a A.\n# TYPE a gauge\na one\n",                 // value
        "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",              // twice
        "# HELP a-b A.\n# TYPE a-b gauge\na-b 1\n",             // name
        "# HELP h H.\n# TYPE h histogram\nh_bucket 1\n",        // bucket without le
        "# HELP a A.\n# TYPE a gauge\n\na 1\n",                 // empty line
    ] {
        let refused = std::panic::catch_unwind(|| parse_exposition(bad)).is_err();
        assert!(refused, "accepted {bad:?}");
    }
}

/// The value of `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .unwrap_or_else(|| panic!("no {name}{labels:?}"))
        .2
}

#[test]
fn metrics_are_served_in_the_text_format() {
    let Some(s) = server() else { return };
    let mut c = s.client();
    assert_cmd!(
        c,
        ["MSET", "a", "1", "b", "2", "c", "3", "d", "4"],
        b"+OK\r\n"
    );
    assert_cmd!(c, ["SET", "e", "5", "EX", "100"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "a"], b"$1\r\n1\r\n");
    assert_cmd!(c, ["GET", "nosuch"], b"$-1\r\n");
    assert_cmd!(
        c,
        ["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_cmd!(
        c,
        ["SET", "a", "1", "EX", "0"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    let mut http = Http::connect(s.port());
    http.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n");
    let response = http.response();
    assert_eq!(response.status, "HTTP/1.1 200 OK");
    let names: Vec<&str> = response.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["content-type", "content-length"],
        "keep-alive: no Connection header"
    );
    assert_eq!(response.header("content-type"), Some(CONTENT_TYPE));
    let (types, samples) = parse_exposition(&response.body);
    let info = text_of(&c.cmd(&["INFO", "everything"]));
    let info_number = |field: &str| -> f64 {
        info_field(&info, field)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO {field}"))
    };
    // Per shard: each family has both shards, and they add up to INFO's.
    for (family, kind, field) in [
        ("mayfly_keys", "gauge", None),
        ("mayfly_keys_with_ttl", "gauge", None),
        (
            "mayfly_connected_clients",
            "gauge",
            Some("connected_clients"),
        ),
        ("mayfly_commands_processed_total", "counter", None),
        ("mayfly_shard_ops_total", "counter", None),
        ("mayfly_shard_keyspace_memory_bytes", "gauge", None),
        ("mayfly_expired_keys_total", "counter", Some("expired_keys")),
        (
            "mayfly_keyspace_hits_total",
            "counter",
            Some("keyspace_hits"),
        ),
        (
            "mayfly_keyspace_misses_total",
            "counter",
            Some("keyspace_misses"),
        ),
        ("mayfly_mesh_messages_sent_total", "counter", None),
        ("mayfly_mesh_messages_received_total", "counter", None),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
        let total: f64 = ["0", "1"]
            .iter()
            .map(|s| value(&samples, family, &[("shard", s)]))
            .sum();
        if let Some(field) = field {
            assert_eq!(total, info_number(field), "{family} and INFO's {field}");
        }
    }
    let keys: f64 = ["0", "1"]
        .iter()
        .map(|s| value(&samples, "mayfly_keys", &[("shard", s)]))
        .sum();
    assert_eq!(keys, 5.0);
    let ttl: f64 = ["0", "1"]
        .iter()
        .map(|s| value(&samples, "mayfly_keys_with_ttl", &[("shard", s)]))
        .sum();
    assert_eq!(ttl, 1.0);
    assert_eq!(
        value(&samples, "mayfly_keyspace_hits_total", &[("shard", "0")])
            + value(&samples, "mayfly_keyspace_hits_total", &[("shard", "1")]),
        1.0
    );
    for mode in ["user", "system"] {
        for shard in ["0", "1"] {
            value(
                &samples,
                "mayfly_shard_cpu_seconds_total",
                &[("shard", shard), ("mode", mode)],
            );
        }
        assert!(value(&samples, "mayfly_cpu_seconds_total", &[("mode", mode)]) >= 0.0);
    }
    // Process-wide.
    for (family, kind) in [
        ("mayfly_uptime_seconds", "gauge"),
        ("mayfly_memory_used_bytes", "gauge"),
        ("mayfly_memory_rss_bytes", "gauge"),
        ("mayfly_memory_peak_bytes", "gauge"),
        ("mayfly_memory_max_bytes", "gauge"),
        ("mayfly_connections_received_total", "counter"),
        ("mayfly_connections_rejected_total", "counter"),
        ("mayfly_net_input_bytes_total", "counter"),
        ("mayfly_net_output_bytes_total", "counter"),
        ("mayfly_cpu_seconds_total", "counter"),
        ("mayfly_shards", "gauge"),
        ("mayfly_info", "gauge"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    assert_eq!(value(&samples, "mayfly_shards", &[]), 2.0);
    assert_eq!(
        value(&samples, "mayfly_memory_max_bytes", &[]),
        info_number("maxmemory")
    );
    assert_eq!(
        value(&samples, "mayfly_connections_rejected_total", &[]),
        0.0
    );
    // The test's RESP client, the probe and this scrape were accepted.
    assert!(value(&samples, "mayfly_connections_received_total", &[]) >= 2.0);
    assert!(value(&samples, "mayfly_memory_rss_bytes", &[]) > 0.0);
    let info_row = &samples
        .iter()
        .find(|(n, _, _)| n == "mayfly_info")
        .expect("mayfly_info")
        .1;
    assert!(
        info_row.contains(&("redis_version".into(), "7.0.15".into())),
        "{info_row:?}"
    );

    // Per command, over every shard: INFO commandstats' counts, and each
    // command's durations as a cumulative histogram.
    for (family, kind) in [
        ("mayfly_commands_total", "counter"),
        ("mayfly_commands_failed_total", "counter"),
        ("mayfly_commands_rejected_total", "counter"),
        ("mayfly_command_duration_seconds", "histogram"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    let per_command = |family: &str, cmd: &str| value(&samples, family, &[("cmd", cmd)]);
    assert_eq!(per_command("mayfly_commands_total", "get"), 2.0);
    assert_eq!(per_command("mayfly_commands_rejected_total", "get"), 1.0);
    assert_eq!(per_command("mayfly_commands_failed_total", "get"), 0.0);
    assert_eq!(per_command("mayfly_commands_total", "set"), 2.0);
    assert_eq!(per_command("mayfly_commands_failed_total", "set"), 1.0);
    assert_eq!(per_command("mayfly_commands_total", "mset"), 1.0);
    let buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "mayfly_command_duration_seconds_bucket"
                && l.iter().any(|(k, v)| k == "cmd" && v == "get")
        })
        .map(|(_, l, v)| {
            let le = &l.iter().find(|(k, _)| k == "le").expect("le").1;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            (le, *v)
        })
        .collect();
    assert_eq!(buckets.len(), 19, "{buckets:?}");
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "bounds rise and counts accumulate: {buckets:?}"
    );
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 2.0)));
    assert_eq!(
        per_command("mayfly_command_duration_seconds_count", "get"),
        2.0
    );
    assert!(per_command("mayfly_command_duration_seconds_sum", "get") >= 0.0);

    // Kept alive: the next scrape on the same connection.
    http.send(b"GET /metrics?name[]=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let again = http.response();
    assert_eq!(again.status, "HTTP/1.1 200 OK");
    parse_exposition(&again.body);
    http.expect_open();
    // Connection: close is honoured.
    http.send(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    let last = http.response();
    assert_eq!(last.header("connection"), Some("close"));
    parse_exposition(&last.body);
    http.expect_closed();
}

/// Each shard's `keyspace_memory`, from INFO and from /metrics (asserted
/// equal: nothing changes the data between the two readings).
fn keyspace_memory(c: &mut common::Client, http: &mut Http) -> Vec<u64> {
    let info = text_of(&c.cmd(&["INFO", "everything"]));
    let from_info = shard_field(&info, "keyspace_memory")
        .unwrap_or_else(|| panic!("no keyspace_memory in {info}"));
    http.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let (_, samples) = parse_exposition(&http.response().body);
    let from_metrics: Vec<u64> = ["0", "1"]
        .iter()
        .map(|s| {
            value(
                &samples,
                "mayfly_shard_keyspace_memory_bytes",
                &[("shard", s)],
            ) as u64
        })
        .collect();
    assert_eq!(from_info, from_metrics, "INFO and /metrics");
    from_info
}

/// The per-shard memory is what the shard's data holds: INFO and /metrics
/// scrapes, transactions and cross-shard RENAMEs (whose replies, parts and
/// entries are built on one thread and freed on another) leave it where it
/// was, exactly; it rises with the bytes stored and falls back when they
/// are deleted, to the same figures each time.
#[test]
fn shard_memory_follows_the_data_and_does_not_drift() {
    let Some(s) = server() else { return };
    let mut c = s.client();
    let mut http = Http::connect(s.port());
    let keys_per_shard = |c: &mut common::Client| {
        let info = text_of(&c.cmd(&["INFO", "shards"]));
        shard_field(&info, "keys").expect("keys per shard")
    };
    // A key on each shard.
    let mut on_shard: [Option<String>; 2] = [None, None];
    for i in 0.. {
        assert!(i < 100, "100 keys all on one shard");
        let key = format!("key:{i}");
        let before = keys_per_shard(&mut c);
        assert_cmd!(c, ["SET", key.as_str(), "v"], b"+OK\r\n");
        let after = keys_per_shard(&mut c);
        let shard = (0..2).find(|&s| after[s] > before[s]).expect("a shard");
        on_shard[shard].get_or_insert(key);
        if on_shard.iter().all(Option::is_some) {
            break;
        }
    }
    let [Some(a), Some(b)] = on_shard else {
        unreachable!()
    };
    assert_cmd!(c, ["FLUSHALL"], b"+OK\r\n");
    let empty = keyspace_memory(&mut c, &mut http);

    // One large value on shard 0, moved there and back once so that each
    // shard has the table slots it will reuse.
    let big = "x".repeat(10_000);
    assert_cmd!(c, ["SET", a.as_str(), big.as_str()], b"+OK\r\n");
    assert_cmd!(c, ["RENAME", a.as_str(), b.as_str()], b"+OK\r\n");
    assert_cmd!(c, ["RENAME", b.as_str(), a.as_str()], b"+OK\r\n");
    let start = keyspace_memory(&mut c, &mut http);
    assert!(start[0] >= empty[0] + 10_000, "{empty:?} -> {start:?}");
    for round in 0..300 {
        let now = keyspace_memory(&mut c, &mut http);
        assert_eq!(now, start, "after {round} rounds");
        assert_cmd!(c, ["RENAME", a.as_str(), b.as_str()], b"+OK\r\n");
        let moved = keyspace_memory(&mut c, &mut http);
        assert!(moved[1] >= empty[1] + 10_000, "{start:?} -> {moved:?}");
        assert!(moved[0] + 10_000 <= start[0], "{start:?} -> {moved:?}");
        let reply = c.cmd(&["MGET", a.as_str(), b.as_str()]);
        assert_eq!(
            reply,
            format!("*2\r\n$-1\r\n$10000\r\n{big}\r\n").as_bytes()
        );
        assert_cmd!(c, ["RENAME", b.as_str(), a.as_str()], b"+OK\r\n");
        c.cmd(&["CLIENT", "LIST"]);
        c.cmd(&["SLOWLOG", "GET"]);
    }
    assert_eq!(keyspace_memory(&mut c, &mut http), start);

    // 200 values of 10,000 bytes, then deleted; three times (the first
    // leaves the tables with free-slot lists that the others reuse).
    let keys: Vec<String> = (0..200).map(|i| format!("big:{i}")).collect();
    let mut stored = Vec::new();
    let mut cleared = Vec::new();
    for _ in 0..3 {
        for key in &keys {
            assert_cmd!(c, ["SET", key.as_str(), big.as_str()], b"+OK\r\n");
        }
        let per_shard = keys_per_shard(&mut c);
        let full = keyspace_memory(&mut c, &mut http);
        for shard in 0..2 {
            // Each key's value (on the heap) and at most a slab chunk and
            // an index of its own besides.
            let added = per_shard[shard] - u64::from(shard == 0);
            let rise = full[shard] - start[shard];
            assert!(added > 0, "keys per shard {per_shard:?}");
            assert!(
                rise >= added * 10_000 && rise <= added * (10_000 + 4096),
                "shard {shard}: {added} keys, {start:?} -> {full:?}"
            );
        }
        for key in &keys {
            assert_cmd!(c, ["DEL", key.as_str()], b":1\r\n");
        }
        let after = keyspace_memory(&mut c, &mut http);
        for shard in 0..2 {
            // The values are gone; the tables keep what they grew.
            let kept = after[shard] - start[shard];
            assert!(
                kept < (full[shard] - start[shard]) / 4,
                "shard {shard}: {start:?} -> {full:?} -> {after:?}"
            );
        }
        stored.push(full);
        cleared.push(after);
    }
    assert_eq!(stored[1], stored[2], "the same data, the same figures");
    assert_eq!(cleared[0], cleared[1], "the same data, the same figures");
    assert_eq!(cleared[1], cleared[2], "the same data, the same figures");
    assert_cmd!(c, ["FLUSHALL"], b"+OK\r\n");
    assert_eq!(keyspace_memory(&mut c, &mut http), empty);
}

#[test]
fn other_paths_and_bad_requests() {
    let Some(s) = server() else { return };
    // 404 keeps the connection; HTTP/1.0 closes after the response.
    let mut http = Http::connect(s.port());
    http.send(b"GET / HTTP/1.1\r\n\r\n");
    let response = http.response();
    assert_eq!(response.status, "HTTP/1.1 404 Not Found");
    assert_eq!(response.body, "Not Found\n");
    http.send(b"GET /metrics HTTP/1.0\r\n\r\n");
    let response = http.response();
    assert_eq!(response.status, "HTTP/1.1 200 OK");
    assert_eq!(response.header("connection"), Some("close"));
    http.expect_closed();
    // Byte for byte, a 400 for a header without a colon, then closed.
    let mut got = Vec::new();
    let mut stream = TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
    stream
        .set_read_timeout(Some(common::REPLY_TIMEOUT))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n")
        .expect("write");
    stream.read_to_end(&mut got).expect("read to the close");
    assert_eq!(
        show(&got),
        show(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n")
    );
    // A request that comes in pieces.
    let mut http = Http::connect(s.port());
    for piece in [
        &b"GE"[..],
        b"T /metr",
        b"ics HTTP/1.1\r\nHo",
        b"st: x\r\n",
        b"\r\n",
    ] {
        http.send(piece);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http.response().status, "HTTP/1.1 200 OK");
    // A second request that is not a GET.
    http.send(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(http.response().status, "HTTP/1.1 400 Bad Request");
    http.expect_closed();
    // RESP still works beside it.
    assert_cmd!(s.client(), ["PING"], b"+PONG\r\n");
}

#[test]
fn a_password_guards_the_metrics_too() {
    let s = Server::start(&["--threads", "2", "--requirepass", "s3cret"]);
    if common::skip_if_external() {
        return;
    }
    let mut http = Http::connect(s.port());
    // No credentials, then the wrong ones: 401 with the challenge, and the
    // connection stays open for the right ones.
    for authorization in ["", "Authorization: Basic ZGVmYXVsdDp3cm9uZw==\r\n"] {
        http.send(format!("GET /metrics HTTP/1.1\r\n{authorization}\r\n").as_bytes());
        let response = http.response();
        assert_eq!(response.status, "HTTP/1.1 401 Unauthorized");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Basic realm=\"mayfly\"")
        );
        assert_eq!(response.body, "Unauthorized\n");
    }
    // default:s3cret, as Prometheus's basic_auth sends it.
    http.send(b"GET /metrics HTTP/1.1\r\nAuthorization: Basic ZGVmYXVsdDpzM2NyZXQ=\r\n\r\n");
    let response = http.response();
    assert_eq!(response.status, "HTTP/1.1 200 OK");
    parse_exposition(&response.body);
    // Another user with the password is not the default user.
    http.send(b"GET /metrics HTTP/1.1\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\r\n");
    assert_eq!(http.response().status, "HTTP/1.1 401 Unauthorized");
    // Without a password, no credentials are needed.
    let mut c = s.client();
    assert_cmd!(c, ["AUTH", "s3cret"], b"+OK\r\n");
    assert_cmd!(c, ["CONFIG", "SET", "requirepass", ""], b"+OK\r\n");
    http.send(b"GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(http.response().status, "HTTP/1.1 200 OK");
}

/// What a server answers `bytes` on a fresh connection, and whether it
/// closed the connection.
fn exchange(port: u16, bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

#[test]
fn resp_connections_meet_redis_cross_protocol_protection() {
    let Some(s) = server() else { return };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    for bytes in [
        // An HTTP POST: refused as soon as its first line.
        &b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"*1\r\n$4\r\npost\r\n",
        // A RESP connection that sends HTTP later: nothing of that read is
        // answered, not even the PING before it.
        b"PING\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        b"*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*2\r\n$5\r\nHOST:\r\n$1\r\nx\r\n",
        // HTTP-looking lines that are not HTTP/1.x GETs stay RESP.
        b"GET /metrics HTTP/2.0\r\n",
        b"GET /metrics\r\n",
        b"GET k\r\n",
    ] {
        let ours = exchange(s.port(), bytes);
        let theirs = exchange(redis.port, bytes);
        assert_eq!(
            (show(&ours.0), ours.1),
            (show(&theirs.0), theirs.1),
            "{} (reply, closed)",
            show(bytes)
        );
    }
    assert!(
        s.log().contains("Possible SECURITY ATTACK detected."),
        "logged as Redis: {}",
        s.log()
    );
}
