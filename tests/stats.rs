//! Per-command accounting (INFO commandstats, errorstats, latencystats and
//! total_error_replies), SLOWLOG and LATENCY, each checked against a
//! redis-server given the same options and the same commands: the lines
//! and entries must be equal once durations, times, ids and client ports
//! are masked (and, where Redis's order changes with every start, sorted).

#[macro_use]
mod common;

use common::{
    info_field, mayfly_and_redis, own_mayfly, parse_value, shard_field, show, split_args, text_of,
    Client, Compared, RedisServer, Value,
};

/// A Mayfly with 2 shards and, where installed, a redis-server (DEBUG
/// allowed), both started with `options`, and their ports.
fn both(options: &[&str]) -> (Vec<(&'static str, u16)>, Compared) {
    let mut mayfly_args = vec!["--threads", "2"];
    mayfly_args.extend_from_slice(options);
    let mut redis_args = vec!["--enable-debug-command", "yes"];
    redis_args.extend_from_slice(options);
    mayfly_and_redis(&mayfly_args, &redis_args)
}

/// Sends each line (split as redis-cli does) and returns the replies.
fn run(client: &mut Client, lines: &[&str]) -> Vec<Vec<u8>> {
    lines
        .iter()
        .map(|line| client.cmd(&split_args(line)))
        .collect()
}

/// An INFO section's lines, figures that depend on timing masked, sorted
/// (Redis's order of commands changes with every start).
fn section(client: &mut Client, name: &str) -> Vec<String> {
    let text = text_of(&client.cmd(&["INFO", name]));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(mask_durations)
        .collect();
    lines.sort();
    lines
}

/// `usec=_`, `usec_per_call=_` and `pNN=_`.
fn mask_durations(line: &str) -> String {
    let (name, fields) = line.split_once(':').unwrap_or((line, ""));
    let fields: Vec<String> = fields
        .split(',')
        .map(|field| match field.split_once('=') {
            Some((key, _)) if key.starts_with("usec") || key.starts_with('p') => {
                format!("{key}=_")
            }
            _ => field.to_string(),
        })
        .collect();
    format!("{name}:{}", fields.join(","))
}

/// What both servers are sent, on one connection, for the statistics.
const SESSION: &[&str] = &[
    // Refused before AUTH: the subcommand is looked up and checked first.
    "GET k",
    "CONFIG FOO",
    "CONFIG GET",
    "CONFIG",
    "CLIENT SETNAME",
    "AUTH wrong",
    "AUTH secret",
    "SET k v",
    "GET k",
    "GET",
    "FOO a b",
    "INCR k",
    "SET n 5",
    "INCRBY n 2",
    "SET k v XX NX",
    "SET k v EX abc",
    "EXPIRE k abc",
    "MSET a",
    "MSET a 1 b",
    "MSET a 1 b 2 c 3 d 4 e 5 f 6",
    "MGET a b c d e f",
    "DEL a b c",
    "EXISTS d e f",
    "CONFIG GET maxmemory",
    "CONFIG SET nosuch 1",
    "CLIENT SETNAME tester",
    "CLIENT GETNAME",
    "CLIENT NOSUCH",
    "CLIENT LIST ID 0",
    "OBJECT ENCODING n",
    "OBJECT FOO",
    "OBJECT",
    "COMMAND COUNT x",
    "DBSIZE",
    "SELECT 99",
    "SCAN abc",
    "ECHO hello",
    "PING",
    "TYPE k",
    "TTL k",
    "STRLEN k",
    "DEBUG SLEEP 0",
    "SLOWLOG LEN",
    "SLOWLOG FOO",
    "LATENCY HISTORY",
];

#[test]
fn commandstats_and_errorstats_match_redis() {
    let (ports, _servers) = both(&["--requirepass", "secret"]);
    let mut results = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        let replies = run(&mut client, SESSION);
        // Figures first: INFO counts itself once it has run.
        let commandstats = section(&mut client, "commandstats");
        let errorstats = section(&mut client, "errorstats");
        let latency_names: Vec<String> = section(&mut client, "latencystats")
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect();
        let stats = text_of(&client.cmd(&["INFO", "stats"]));
        let total = info_field(&stats, "total_error_replies").map(str::to_string);
        results.push((
            name,
            replies,
            commandstats,
            errorstats,
            latency_names,
            total,
        ));
    }
    let mayfly = &results[0];
    assert!(
        mayfly.2.contains(
            &"cmdstat_get:calls=1,usec=_,usec_per_call=_,rejected_calls=2,failed_calls=0"
                .to_string()
        ),
        "{:#?}",
        mayfly.2
    );
    // Every error reply counts, and the start-up probe's NOAUTH to PING.
    let errors = mayfly.1.iter().filter(|r| r.starts_with(b"-")).count() + 1;
    assert_eq!(mayfly.5, Some(errors.to_string()), "{:#?}", mayfly.3);
    let Some(redis) = results.get(1) else {
        return;
    };
    for (i, line) in SESSION.iter().enumerate() {
        // CLIENT LIST's replies differ by nature; its figures must not.
        if !line.starts_with("CLIENT LIST") {
            assert_eq!(
                show(&mayfly.1[i]),
                show(&redis.1[i]),
                "replies to {line:?} differ"
            );
        }
    }
    assert_eq!(mayfly.2, redis.2, "commandstats");
    assert_eq!(mayfly.3, redis.3, "errorstats");
    assert_eq!(mayfly.4, redis.4, "latencystats: which commands");
    assert_eq!(mayfly.5, redis.5, "total_error_replies");
}

#[test]
fn latencystats_lines_are_in_redis_format() {
    let server = own_mayfly(&["--threads", "2"]);
    let mut client = server.client();
    run(
        &mut client,
        &["SET k v", "GET k", "GET k", "CONFIG GET port"],
    );
    let text = text_of(&client.cmd(&["INFO", "latencystats"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# Latencystats", "{text}");
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(':').next().unwrap_or_default())
        .collect();
    // The table's order; PING is the start-up probe's.
    assert_eq!(
        names,
        [
            "latency_percentiles_usec_ping",
            "latency_percentiles_usec_get",
            "latency_percentiles_usec_set",
            "latency_percentiles_usec_config|get",
        ],
        "{text}"
    );
    for line in &lines[1..] {
        let (_, fields) = line.split_once(':').expect("name:fields");
        let keys: Vec<&str> = fields
            .split(',')
            .map(|f| {
                let (key, value) = f.split_once('=').expect("key=value");
                let (whole, decimals) = value.split_once('.').expect("a decimal point");
                assert!(
                    whole.parse::<u64>().is_ok() && decimals.len() == 3,
                    "{line}"
                );
                key
            })
            .collect();
        assert_eq!(keys, ["p50", "p99", "p99.9"], "{line}");
    }
}

#[test]
fn info_sections_in_redis_order() {
    let (ports, _servers) = both(&[]);
    let headers = |port: u16, args: &[&str]| -> Vec<String> {
        let mut client = Client::connect(port);
        text_of(&client.cmd(args))
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let mayfly_port = ports[0].1;
    let default = headers(mayfly_port, &["INFO"]);
    assert!(default.contains(&"# Errorstats".to_string()), "{default:?}");
    assert!(
        !default.contains(&"# Commandstats".to_string()),
        "{default:?}"
    );
    assert!(
        !default.contains(&"# Latencystats".to_string()),
        "{default:?}"
    );
    assert_eq!(headers(mayfly_port, &["INFO", "default"]), default);
    let all = headers(mayfly_port, &["INFO", "all"]);
    assert_eq!(headers(mayfly_port, &["INFO", "everything"]), all);
    assert_eq!(
        headers(mayfly_port, &["INFO", "latencystats", "COMMANDSTATS"]),
        ["# Commandstats", "# Latencystats"]
    );
    let Some(&(_, redis_port)) = ports.get(1) else {
        return;
    };
    // Mayfly's sections appear in Redis's order (`# Shards` is its own).
    for (args, mayfly) in [(&["INFO"][..], default), (&["INFO", "all"][..], all)] {
        let redis = headers(redis_port, args);
        let shared: Vec<&String> = mayfly.iter().filter(|h| redis.contains(h)).collect();
        let order: Vec<&String> = redis.iter().filter(|h| mayfly.contains(h)).collect();
        assert_eq!(shared, order, "{args:?}");
        for mine in ["# Commandstats", "# Errorstats", "# Latencystats"] {
            assert_eq!(
                mayfly.iter().any(|h| h == mine),
                redis.iter().any(|h| h == mine),
                "{mine} in {args:?}"
            );
        }
    }
}

#[test]
fn resetstat_forgets_commands_and_errors() {
    let (ports, _servers) = both(&[]);
    for (name, port) in ports {
        let mut client = Client::connect(port);
        run(&mut client, &["SET k v", "GET", "NOPE", "INCR k"]);
        assert_eq!(client.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
        assert_eq!(
            section(&mut client, "commandstats"),
            ["cmdstat_config|resetstat:calls=1,usec=_,usec_per_call=_,rejected_calls=0,failed_calls=0"],
            "{name}"
        );
        assert_eq!(
            section(&mut client, "errorstats"),
            Vec::<String>::new(),
            "{name}"
        );
        assert_eq!(
            section(&mut client, "latencystats")
                .iter()
                .map(|l| l.split(':').next().unwrap_or_default())
                .collect::<Vec<_>>(),
            [
                "latency_percentiles_usec_config|resetstat",
                "latency_percentiles_usec_info",
            ],
            "{name}"
        );
        let stats = text_of(&client.cmd(&["INFO", "stats"]));
        assert_eq!(
            info_field(&stats, "total_error_replies"),
            Some("0"),
            "{name}"
        );
    }
}

/// A command deferred until the commands before it ran (CONFIG RESETSTAT
/// runs on every shard) counts once it ran, as the others: after a reset,
/// the count is 1, the reset itself.
#[test]
fn resetstat_counts_itself_as_a_processed_command() {
    let (ports, _servers) = both(&[]);
    for (name, port) in ports {
        let mut client = Client::connect(port);
        run(&mut client, &["SET k v", "GET k"]);
        let piped = pipelined(&mut client, &["GET k", "CONFIG RESETSTAT", "INFO stats"]);
        let stats = text_of(&piped[2]);
        assert_eq!(
            info_field(&stats, "total_commands_processed"),
            Some("1"),
            "{name}"
        );
        let stats = text_of(&client.cmd(&["INFO", "stats"]));
        assert_eq!(
            info_field(&stats, "total_commands_processed"),
            Some("2"),
            "{name}"
        );
    }
}

/// A protocol error counts as an `ERR` reply, as in Redis.
#[test]
fn protocol_errors_count() {
    let (ports, _servers) = both(&[]);
    for (name, port) in ports {
        let mut client = Client::connect(port);
        client.cmd(&["CONFIG", "RESETSTAT"]);
        let mut bad = Client::connect(port);
        bad.send_raw(b"*1\r\n$-5\r\n");
        assert_eq!(
            bad.read_reply(),
            b"-ERR Protocol error: invalid bulk length\r\n",
            "{name}"
        );
        assert_eq!(
            section(&mut client, "errorstats"),
            ["errorstat_ERR:count=1"],
            "{name}"
        );
    }
}

/// Asserts that Redis's replies (`results[1]`, where it ran) are Mayfly's
/// (`results[0]`), one by one.
#[track_caller]
fn assert_same_replies(results: &[Vec<Vec<u8>>]) {
    if let Some(redis) = results.get(1) {
        for (mine, theirs) in results[0].iter().zip(redis) {
            assert_eq!(show(mine), show(theirs));
        }
    }
}

/// SLOWLOG GET's entries, each a list of its arguments, its client's
/// address with the port masked and its client's name; and each one's id
/// and duration.
struct SlowEntries {
    masked: Vec<Vec<String>>,
    ids: Vec<i64>,
    durations: Vec<i64>,
    /// The clients' addresses, unmasked.
    addrs: Vec<String>,
}

fn slow_entries(reply: &[u8]) -> SlowEntries {
    let Value::Array(entries) = parse_value(reply) else {
        panic!("not an array: {}", show(reply));
    };
    let mut out = SlowEntries {
        masked: Vec::new(),
        ids: Vec::new(),
        durations: Vec::new(),
        addrs: Vec::new(),
    };
    for entry in entries {
        let Value::Array(fields) = entry else {
            panic!("an entry is an array: {}", show(reply));
        };
        assert_eq!(fields.len(), 6, "{}", show(reply));
        let (Value::Int(id), Value::Int(_), Value::Int(duration), Value::Array(args)) =
            (&fields[0], &fields[1], &fields[2], &fields[3])
        else {
            panic!("id, time, duration, arguments: {}", show(reply));
        };
        let text = |v: &Value| String::from_utf8_lossy(v.as_bytes().expect("a bulk")).into_owned();
        let mut line: Vec<String> = args.iter().map(text).collect();
        let addr = text(&fields[4]);
        let host = addr.rsplit_once(':').map_or(&addr[..], |(host, _)| host);
        line.push(format!("{host}:_"));
        line.push(text(&fields[5]));
        out.masked.push(line);
        out.ids.push(*id);
        out.durations.push(*duration);
        out.addrs.push(addr);
    }
    out
}

#[test]
fn slowlog_entries_match_redis() {
    let (ports, _servers) = both(&["--slowlog-log-slower-than", "0"]);
    let long = "x".repeat(200);
    let echo = "z".repeat(129);
    let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let del = format!("DEL {}", many.join(" "));
    let del31 = format!("DEL {}", many[..31].join(" "));
    let set_long = format!("SET {long} {}", "y".repeat(128));
    let echo_long = format!("ECHO {echo}");
    let session: Vec<&str> = vec![
        "SLOWLOG RESET",
        "CLIENT SETNAME tester",
        "SET k v",
        "GET k",
        "GET",
        "NOPE x",
        &del,
        &del31,
        &set_long,
        &echo_long,
        "AUTH pw",
        "AUTH user pw",
        "AUTH a b c",
        "HELLO 3 AUTH someone pw",
        "HELLO 9 AUTH default pw",
        "HELLO 2 SETNAME tester AUTH default pw NOPE",
        "CONFIG SET masterauth pw",
        "CONFIG SET maxmemory 0 masteruser",
        "MSET a 1 b 2 c 3 d 4",
        "MGET a b c d",
        "SLOWLOG GET 2",
        "SLOWLOG LEN",
    ];
    let mut logs = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        run(&mut client, &session);
        let reply = client.cmd(&["SLOWLOG", "GET", "-1"]);
        let SlowEntries {
            masked: entries,
            ids,
            ..
        } = slow_entries(&reply);
        assert!(ids.windows(2).all(|w| w[0] == w[1] + 1), "{name}: {ids:?}");
        // Everything but the refused GET and NOPE, newest first.
        assert_eq!(entries.len(), session.len() - 2, "{name}: {entries:#?}");
        logs.push(entries);
    }
    let first = &logs[0];
    assert_eq!(first[0], ["SLOWLOG", "LEN", "127.0.0.1:_", "tester"]);
    assert_eq!(first[1][..3], ["SLOWLOG", "GET", "2"]);
    assert_eq!(
        first[first.len() - 1],
        ["SLOWLOG", "RESET", "127.0.0.1:_", ""]
    );
    if let Some(redis) = logs.get(1) {
        assert_eq!(first, redis);
    }
}

#[test]
fn slowlog_count_max_len_reset_and_errors_match_redis() {
    let (ports, _servers) = both(&["--slowlog-log-slower-than", "0", "--slowlog-max-len", "5"]);
    let mut results = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        let mut replies = Vec::new();
        run(
            &mut client,
            &[
                "PING", "ECHO a", "ECHO b", "ECHO c", "ECHO d", "ECHO e", "ECHO f",
            ],
        );
        replies.push(client.cmd(&["SLOWLOG", "LEN"]));
        for count in [None, Some("2"), Some("0"), Some("-1"), Some("100")] {
            let mut args = vec!["SLOWLOG", "GET"];
            args.extend(count);
            let reply = client.cmd(&args);
            let entries = slow_entries(&reply).masked;
            replies.push(format!("{entries:?}").into_bytes());
        }
        for line in [
            "SLOWLOG GET -2",
            "SLOWLOG GET abc",
            "SLOWLOG GET 1 2",
            "SLOWLOG LEN x",
            "SLOWLOG RESET x",
            "SLOWLOG FOO",
            "SLOWLOG",
            "SLOWLOG RESET",
            "SLOWLOG LEN",
        ] {
            replies.push(client.cmd(&split_args(line)));
        }
        let len_after_reset = replies.last().cloned();
        assert_eq!(len_after_reset.as_deref(), Some(&b":1\r\n"[..]), "{name}");
        results.push(replies);
    }
    assert_same_replies(&results);
}

#[test]
fn slowlog_help() {
    let server = own_mayfly(&[]);
    let mut client = server.client();
    let redis = RedisServer::start();
    let help = client.cmd(&["SLOWLOG", "HELP"]);
    assert!(
        help.starts_with(b"*12\r\n+SLOWLOG <subcommand>"),
        "{}",
        show(&help)
    );
    if let Some(redis) = redis {
        assert_eq!(show(&help), show(&redis.client().cmd(&["slowlog", "help"])));
    }
}

/// A command slower than the default 10 ms, DEBUG SLEEP, is logged with
/// its client's address and name.
#[test]
fn debug_sleep_makes_a_slow_entry() {
    let (ports, _servers) = both(&[]);
    let mut logs = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        run(
            &mut client,
            &["SLOWLOG RESET", "CLIENT SETNAME sleeper", "SET k v"],
        );
        assert_eq!(
            client.cmd(&["DEBUG", "SLEEP", "0.02"]),
            b"+OK\r\n",
            "{name}"
        );
        // The newest entry (a loaded machine may make a fast command slow).
        let reply = client.cmd(&["SLOWLOG", "GET", "1"]);
        let entries = slow_entries(&reply);
        assert!(
            entries.durations[0] >= 20_000,
            "{name}: {:?}",
            entries.durations
        );
        let addr = format!("127.0.0.1:{}", client.local_port());
        assert_eq!(entries.addrs, [addr], "{name}");
        logs.push(entries.masked);
    }
    assert_eq!(
        logs[0],
        [vec!["DEBUG", "SLEEP", "0.02", "127.0.0.1:_", "sleeper"]]
    );
    if let Some(redis) = logs.get(1) {
        assert_eq!(&logs[0], redis);
    }
}

/// Every shard's entries are merged, newest first, whichever thread ran
/// the command or served the client.
#[test]
fn slowlog_merges_every_thread() {
    let server = own_mayfly(&["--threads", "2", "--slowlog-log-slower-than", "0"]);
    let mut clients: Vec<Client> = (0..6).map(|_| server.client()).collect();
    clients[0].cmd(&["SLOWLOG", "RESET"]);
    let mut expected = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let name = format!("c{i}");
        client.cmd(&["CLIENT", "SETNAME", &name]);
        // Keys on both shards: some GETs run on the other shard.
        for key in 0..4 {
            let key = format!("key{i}:{key}");
            client.cmd(&["GET", &key]);
            expected.push(vec![
                "GET".to_string(),
                key,
                format!("127.0.0.1:{}", client.local_port()),
                name.clone(),
            ]);
        }
    }
    let info = text_of(&clients[0].cmd(&["INFO", "shards"]));
    let peer_jobs = shard_field(&info, "peer_jobs").expect("# Shards");
    assert!(
        peer_jobs.iter().sum::<u64>() > 0,
        "no GET ran on another shard: {info}"
    );
    let reply = clients[0].cmd(&["SLOWLOG", "GET", "-1"]);
    let entries = slow_entries(&reply);
    assert!(
        entries.ids.windows(2).all(|w| w[0] > w[1]),
        "{:?}",
        entries.ids
    );
    let gets: Vec<Vec<String>> = (0..entries.ids.len())
        .rev()
        .filter(|&i| entries.masked[i][0] == "GET")
        .map(|i| {
            let line = &entries.masked[i];
            let name = &line[line.len() - 1];
            vec![
                line[0].clone(),
                line[1].clone(),
                entries.addrs[i].clone(),
                name.clone(),
            ]
        })
        .collect();
    assert_eq!(gets, expected);
    assert_eq!(
        clients[3].cmd(&["SLOWLOG", "LEN"]),
        format!(":{}\r\n", entries.ids.len() + 1).as_bytes()
    );
    assert_eq!(clients[4].cmd(&["SLOWLOG", "RESET"]), b"+OK\r\n");
    assert_eq!(clients[5].cmd(&["SLOWLOG", "LEN"]), b":1\r\n");
}

/// Sends `lines` (split as redis-cli does) in one write; their replies.
fn pipelined(client: &mut Client, lines: &[&str]) -> Vec<Vec<u8>> {
    let request: Vec<u8> = lines
        .iter()
        .flat_map(|line| common::encode(&split_args(line)))
        .collect();
    client.pipeline(request, lines.len())
}

/// `slowlog-log-slower-than` and `latency-monitor-threshold` apply from the
/// CONFIG SET that sets them on, that command included, and not to the
/// commands before it in a pipeline: Redis checks them after every command.
#[test]
fn thresholds_apply_from_the_config_set_that_sets_them() {
    let (ports, _servers) = both(&[]);
    let mut results = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        let mut replies = run(
            &mut client,
            &[
                "SLOWLOG RESET",
                "CONFIG SET slowlog-log-slower-than 0",
                "SLOWLOG LEN",
                "CONFIG SET slowlog-log-slower-than -1",
            ],
        );
        assert_eq!(replies[2], b":1\r\n", "{name}: the CONFIG SET is logged");
        let entries = slow_entries(&client.cmd(&["SLOWLOG", "GET"])).masked;
        assert_eq!(entries.len(), 2, "{name}: {entries:?}");
        assert_eq!(
            entries[1][..4],
            ["CONFIG", "SET", "slowlog-log-slower-than", "0"]
        );
        replies.push(format!("{entries:?}").into_bytes());
        // In one pipeline: the GET before the CONFIG SET is not logged.
        let piped = pipelined(
            &mut client,
            &[
                "SLOWLOG RESET",
                "GET k",
                "CONFIG SET slowlog-log-slower-than 0",
                "SLOWLOG LEN",
                "CONFIG SET slowlog-log-slower-than -1",
                "SLOWLOG GET",
            ],
        );
        assert_eq!(piped[3], b":1\r\n", "{name}");
        let entries = slow_entries(&piped[5]).masked;
        replies.push(format!("{entries:?}").into_bytes());
        // The latency threshold applies to the rest of the pipeline.
        let piped = pipelined(
            &mut client,
            &[
                "CONFIG SET latency-monitor-threshold 5",
                "DEBUG SLEEP 0.01",
                "CONFIG SET latency-monitor-threshold 0",
                "DEBUG SLEEP 0.01",
                "LATENCY HISTORY command",
            ],
        );
        let history = parse_value(&piped[4]);
        let Value::Array(samples) = &history else {
            panic!("{name}: {history:?}");
        };
        assert_eq!(samples.len(), 1, "{name}: one sample, the first sleep");
        results.push(replies);
    }
    assert_same_replies(&results);
}

/// A lower `slowlog-max-len` drops the oldest entries at once, whichever
/// thread holds them, and a higher one brings none back; while the log is
/// off (a negative threshold) nothing is dropped, as in Redis, which trims
/// after every command only while the log is on.
#[test]
fn slowlog_max_len_trims_every_thread_as_redis() {
    let (ports, _servers) = both(&["--slowlog-log-slower-than", "0"]);
    let mut results = Vec::new();
    for (name, port) in ports {
        // Clients on both threads, and keys on both shards.
        let mut clients: Vec<Client> = (0..6).map(|_| Client::connect(port)).collect();
        clients[0].cmd(&["SLOWLOG", "RESET"]);
        for (i, client) in clients.iter_mut().enumerate() {
            client.cmd(&["GET", &format!("key{i}")]);
            client.cmd(&["PING"]);
        }
        let mut replies = Vec::new();
        for line in [
            "CONFIG SET slowlog-log-slower-than 10000",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-max-len 2",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-max-len 128",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-log-slower-than 0",
            "PING",
            "PING",
            "PING",
            "CONFIG SET slowlog-log-slower-than -1",
            "CONFIG SET slowlog-max-len 1",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-max-len 0",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-log-slower-than 10000",
            "SLOWLOG LEN",
            "CONFIG SET slowlog-max-len 128",
        ] {
            replies.push(clients[5].cmd(&split_args(line)));
        }
        let lens: Vec<String> = replies
            .iter()
            .filter(|r| r.starts_with(b":"))
            .map(|r| String::from_utf8_lossy(r).trim_end().to_string())
            .collect();
        assert_eq!(lens, [":13", ":2", ":2", ":6", ":6", ":0"], "{name}");
        results.push(replies);
    }
    assert_same_replies(&results);
}

/// The time a connection spends planning a batch is no command's: the
/// first GET of each pipeline of 1,024 (whose planning took tens of µs) is
/// no more often in the slow log than any other. (Commands slowed down by
/// a loaded machine land anywhere; 1 in 1,024 of them on the first GET.)
#[test]
fn planning_a_batch_is_not_its_first_commands_time() {
    let server = own_mayfly(&[
        "--threads",
        "1",
        "--slowlog-log-slower-than",
        "20",
        "--slowlog-max-len",
        "1000",
    ]);
    let mut client = server.client();
    let mut request = Vec::new();
    for i in 0..1024 {
        request.extend(common::encode(&["GET", &format!("key{i}")]));
    }
    // Warm: the first GET makes its counters and histogram.
    client.pipeline(request.clone(), 1024);
    client.cmd(&["SLOWLOG", "RESET"]);
    for _ in 0..200 {
        let replies = client.pipeline(request.clone(), 1024);
        assert!(replies.iter().all(|r| r == b"$-1\r\n"));
    }
    let reply = client.cmd(&["SLOWLOG", "GET", "-1"]);
    let entries = slow_entries(&reply).masked;
    let first = entries.iter().filter(|e| e[..2] == ["GET", "key0"]).count();
    assert!(
        first <= 2 || first * 4 <= entries.len(),
        "GET key0 is {first} of {} slow entries",
        entries.len()
    );
}

/// LATENCY's replies with the times masked.
fn masked_latency(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    // Unix times (10 digits) vary; latencies in ms are short.
    text.split("\r\n")
        .map(|l| {
            if l.len() == 11 && l.starts_with(':') {
                ":<time>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn latency_events_of_slow_commands_match_redis() {
    let (ports, _servers) = both(&["--latency-monitor-threshold", "100"]);
    let mut results = Vec::new();
    for (name, port) in ports {
        let mut client = Client::connect(port);
        let mut replies = Vec::new();
        replies.push(client.cmd(&["LATENCY", "LATEST"]));
        assert_eq!(client.cmd(&["DEBUG", "SLEEP", "0.15"]), b"+OK\r\n");
        let latest = parse_value(&client.cmd(&["LATENCY", "LATEST"]));
        let Value::Array(events) = &latest else {
            panic!("{name}: {latest:?}");
        };
        let Value::Array(event) = &events[0] else {
            panic!("{name}: {latest:?}");
        };
        assert_eq!(event[0], Value::Bulk(b"command".to_vec()), "{name}");
        let (Value::Int(latency), Value::Int(max)) = (&event[2], &event[3]) else {
            panic!("{name}: {latest:?}");
        };
        assert!(*latency >= 150 && max == latency, "{name}: {latest:?}");
        // The samples are those of DEBUG SLEEP: masked, the rest must match.
        let sleep = format!(":{latency}\r\n");
        let mask = |reply: Vec<u8>| masked_latency(&reply).replace(&sleep, ":<slept>\r\n");
        replies.push(mask(client.cmd(&["LATENCY", "LATEST"])).into_bytes());
        replies.push(mask(client.cmd(&["LATENCY", "HISTORY", "command"])).into_bytes());
        client.cmd(&["HELLO", "3"]);
        replies.push(mask(client.cmd(&["LATENCY", "LATEST"])).into_bytes());
        replies.push(mask(client.cmd(&["LATENCY", "HISTORY", "command"])).into_bytes());
        // The graph's figures and labels (seconds ago) depend on timing.
        let digits = |reply: Vec<u8>| -> Vec<u8> {
            let body = reply.iter().position(|&c| c == b'\n').map_or(0, |p| p + 1);
            let (head, text) = reply.split_at(body);
            let text = text
                .iter()
                .map(|&c| if c.is_ascii_digit() { b'9' } else { c });
            head.iter().copied().chain(text).collect()
        };
        replies.push(digits(client.cmd(&["LATENCY", "GRAPH", "command"])));
        client.cmd(&["HELLO", "2"]);
        replies.push(digits(client.cmd(&["LATENCY", "GRAPH", "command"])));
        for line in [
            "LATENCY HISTORY fast-command",
            "LATENCY GRAPH fast-command",
            "LATENCY GRAPH",
            "LATENCY HISTORY nope",
            "LATENCY HISTORY",
            "LATENCY LATEST x",
            "LATENCY FOO",
            "LATENCY",
            "LATENCY RESET nope",
            "LATENCY RESET command command nope",
            "LATENCY LATEST",
            "LATENCY RESET",
        ] {
            replies.push(client.cmd(&split_args(line)));
        }
        results.push(replies);
    }
    assert_eq!(results[0][0], b"*0\r\n");
    assert_eq!(
        String::from_utf8_lossy(&results[0][1]),
        "*1\r\n*4\r\n$7\r\ncommand\r\n:<time>\r\n:<slept>\r\n:<slept>\r\n"
    );
    assert_same_replies(&results);
}

/// MGET is `fast` in Redis: a long one is a `fast-command` event.
#[test]
fn a_long_fast_command_is_a_fast_command_event() {
    let server = own_mayfly(&["--threads", "1", "--latency-monitor-threshold", "1"]);
    let mut client = server.client();
    // 300,000 lookups take well over a millisecond.
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..300_000).map(|i| format!("missing:{i}")));
    let reply = client.cmd(&mget);
    assert!(reply.starts_with(b"*300000\r\n$-1\r\n"));
    let latest = text_of_events(&client.cmd(&["LATENCY", "LATEST"]));
    assert!(latest.contains(&"fast-command".to_string()), "{latest:?}");
    assert_eq!(client.cmd(&["LATENCY", "RESET", "fast-command"]), b":1\r\n");
}

/// A shard's expiry tick that reclaims its budget of 20,000 keys takes
/// milliseconds: an `expire-cycle` event.
#[test]
fn a_long_expiry_tick_is_an_expire_cycle_event() {
    let server = own_mayfly(&["--threads", "1", "--latency-monitor-threshold", "1"]);
    let mut client = server.client();
    let mut request = Vec::new();
    let keys = 100_000;
    for i in 0..keys {
        request.extend(common::encode(&[
            "SET",
            &format!("key:{i}"),
            "v",
            "PX",
            "100",
        ]));
    }
    let replies = client.pipeline(request, keys);
    assert!(replies.iter().all(|r| r == b"+OK\r\n"));
    assert!(
        common::wait_for(std::time::Duration::from_secs(10), || {
            client.cmd(&["DBSIZE"]) == b":0\r\n"
        }),
        "the keys were not reclaimed"
    );
    let events = text_of_events(&client.cmd(&["LATENCY", "LATEST"]));
    assert!(events.contains(&"expire-cycle".to_string()), "{events:?}");
}

/// The event names of a LATENCY LATEST reply.
fn text_of_events(reply: &[u8]) -> Vec<String> {
    let Value::Array(events) = parse_value(reply) else {
        panic!("{}", show(reply));
    };
    events
        .iter()
        .filter_map(|e| match e {
            Value::Array(fields) => fields[0]
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn latency_help() {
    let server = own_mayfly(&[]);
    let mut client = server.client();
    assert_cmd!(
        client,
        ["LATENCY", "HELP"],
        b"*12\r\n\
          +LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
          +GRAPH <event>\r\n\
          +    Return an ASCII latency graph for the <event> class.\r\n\
          +HISTORY <event>\r\n\
          +    Return time-latency samples for the <event> class.\r\n\
          +LATEST\r\n\
          +    Return the latest latency samples for all events.\r\n\
          +RESET [<event> ...]\r\n\
          +    Reset latency data of one or more <event> classes.\r\n\
          +    (default: reset all data for all event classes)\r\n\
          +HELP\r\n\
          +    Prints this help.\r\n"
    );
}
