//! INFO compared with redis-server 7.0: the sections and their order for
//! each way of asking, every field Mayfly prints is one Redis prints in the
//! same section and order (but the Mayfly-only ones), the fields that
//! redis_exporter and the usual dashboards read are there, and the counters
//! agree with Redis's after the same commands. Then Mayfly's own figures:
//! `avg_ttl`, and the `# Shards` section.

#[macro_use]
mod common;

use common::{encode, info_field, shard_field, text_of, wait_for, Client, RedisServer, Server};
use std::time::Duration;

/// Sections another part of Mayfly renders (the command accounting):
/// compared where both servers have them, never required.
const ACCOUNTING: &[&str] = &["# Commandstats", "# Errorstats", "# Latencystats"];
/// Mayfly's own section.
const MAYFLY_SECTIONS: &[&str] = &["# Shards"];
/// Mayfly-only fields, by section (as `commands::MAYFLY_ONLY`).
const MAYFLY_FIELDS: &[(&str, &str)] = &[("Server", "mayfly_version"), ("Server", "shards")];

/// Fields that redis_exporter turns into metrics and that common Redis
/// dashboards (Grafana's for redis_exporter, Datadog's) chart, by section.
const EXPORTER_FIELDS: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "redis_version",
            "redis_mode",
            "os",
            "process_id",
            "run_id",
            "tcp_port",
            "uptime_in_seconds",
            "executable",
            "config_file",
        ],
    ),
    (
        "clients",
        &[
            "connected_clients",
            "blocked_clients",
            "tracking_clients",
            "maxclients",
            "client_recent_max_input_buffer",
            "client_recent_max_output_buffer",
        ],
    ),
    (
        "memory",
        &[
            "used_memory",
            "used_memory_rss",
            "used_memory_peak",
            "used_memory_startup",
            "used_memory_lua",
            "used_memory_scripts",
            "total_system_memory",
            "maxmemory",
            "maxmemory_policy",
            "mem_fragmentation_ratio",
            "mem_fragmentation_bytes",
            "mem_allocator",
        ],
    ),
    (
        "persistence",
        &[
            "loading",
            "rdb_bgsave_in_progress",
            "rdb_last_save_time",
            "rdb_last_bgsave_status",
            "rdb_last_bgsave_time_sec",
            "aof_enabled",
            "aof_rewrite_in_progress",
            "aof_last_bgrewrite_status",
            "aof_last_write_status",
        ],
    ),
    (
        "stats",
        &[
            "total_connections_received",
            "total_commands_processed",
            "instantaneous_ops_per_sec",
            "total_net_input_bytes",
            "total_net_output_bytes",
            "instantaneous_input_kbps",
            "instantaneous_output_kbps",
            "rejected_connections",
            "expired_keys",
            "expired_time_cap_reached_count",
            "expire_cycle_cpu_milliseconds",
            "evicted_keys",
            "keyspace_hits",
            "keyspace_misses",
            "pubsub_channels",
            "pubsub_patterns",
            "latest_fork_usec",
            "total_reads_processed",
            "total_writes_processed",
        ],
    ),
    (
        "replication",
        &[
            "role",
            "connected_slaves",
            "master_replid",
            "master_repl_offset",
            "repl_backlog_active",
        ],
    ),
    (
        "cpu",
        &[
            "used_cpu_sys",
            "used_cpu_user",
            "used_cpu_sys_children",
            "used_cpu_user_children",
            "used_cpu_sys_main_thread",
            "used_cpu_user_main_thread",
        ],
    ),
    ("cluster", &["cluster_enabled"]),
    ("keyspace", &["db0"]),
];

/// INFO's text, parsed: each section's title and its fields' names.
fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.split("\r\n") {
        if let Some(title) = line.strip_prefix("# ") {
            out.push((title.to_string(), Vec::new()));
        } else if let Some((name, _)) = line.split_once(':') {
            let (title, fields) = out
                .last_mut()
                .unwrap_or_else(|| panic!("{line} before a title"));
            assert!(
                !fields.contains(&name.to_string()),
                "{name} twice in {title}"
            );
            fields.push(name.to_string());
        } else {
            assert!(line.is_empty(), "not a field: {line:?}");
        }
    }
    out
}

fn titles(text: &str) -> Vec<String> {
    sections(text)
        .into_iter()
        .map(|(title, _)| format!("# {title}"))
        .filter(|t| !ACCOUNTING.contains(&t.as_str()) && !MAYFLY_SECTIONS.contains(&t.as_str()))
        .collect()
}

fn info(client: &mut Client, args: &[&str]) -> String {
    let mut request = vec!["INFO"];
    request.extend_from_slice(args);
    text_of(&client.cmd(&request))
}

/// A fresh Mayfly of 2 shards and a fresh redis-server (`None` if it is not
/// installed), each with one key in db 0.
fn servers() -> Option<(Server, RedisServer)> {
    let mayfly = Server::start(&["--threads", "2"]);
    let redis = RedisServer::start()?;
    for port in [mayfly.port(), redis.port] {
        assert_cmd!(Client::connect(port), ["SET", "k", "v"], b"+OK\r\n");
    }
    Some((mayfly, redis))
}

#[test]
fn sections_are_chosen_and_ordered_as_redis() {
    let Some((mayfly, redis)) = servers() else {
        return;
    };
    let (mut m, mut r) = (mayfly.client(), redis.client());
    for args in [
        &[][..],
        &["default"],
        &["all"],
        &["everything"],
        &["ALL", "server"],
        &["keyspace", "SERVER", "cpu", "server"],
        &["module_list"],
        &["modules"],
        &["nosuchsection"],
        &["nosuch", "memory"],
        &["default", "persistence", "replication"],
    ] {
        let (ours, theirs) = (info(&mut m, args), info(&mut r, args));
        assert_eq!(titles(&ours), titles(&theirs), "INFO {args:?}");
    }
    assert_cmd!(m, ["INFO", "nosuchsection"], b"$0\r\n\r\n");
    // Mayfly's own section comes last, by default and with all.
    for args in [&[][..], &["all"], &["shards"]] {
        let text = info(&mut m, args);
        let last = sections(&text).pop().map(|(title, _)| title);
        assert_eq!(last.as_deref(), Some("Shards"), "INFO {args:?}");
    }
}

#[test]
fn every_field_is_a_redis_field_of_its_section_in_redis_order() {
    let Some((mayfly, redis)) = servers() else {
        return;
    };
    let ours = sections(&info(&mut mayfly.client(), &["everything"]));
    let theirs = sections(&info(&mut redis.client(), &["everything"]));
    for (title, fields) in &ours {
        if MAYFLY_SECTIONS.contains(&format!("# {title}").as_str()) {
            continue;
        }
        // Their fields name the commands and errors seen, in an order that
        // changes with every start of Redis: tests/stats.rs compares them.
        if ["Commandstats", "Errorstats", "Latencystats"].contains(&title.as_str()) {
            continue;
        }
        let redis_fields = &theirs
            .iter()
            .find(|(t, _)| t == title)
            .unwrap_or_else(|| panic!("Redis has no # {title}"))
            .1;
        let mut last = None;
        for field in fields {
            if MAYFLY_FIELDS.contains(&(title.as_str(), field.as_str())) {
                continue;
            }
            let at = redis_fields.iter().position(|f| f == field);
            let at = at.unwrap_or_else(|| panic!("{field} is not a field of Redis's # {title}"));
            assert!(
                last.is_none_or(|last| at > last),
                "{field} is out of Redis's order in # {title}"
            );
            last = Some(at);
        }
    }
    // The Mayfly-only fields come last in their section.
    let server = &ours
        .iter()
        .find(|(t, _)| t == "Server")
        .expect("# Server")
        .1;
    assert_eq!(server[server.len() - 2..], ["mayfly_version", "shards"]);
}

#[test]
fn exporters_find_their_fields() {
    let Some((mayfly, redis)) = servers() else {
        return;
    };
    for (name, port) in [("mayfly", mayfly.port()), ("redis", redis.port)] {
        let mut c = Client::connect(port);
        for (section, fields) in EXPORTER_FIELDS {
            let text = info(&mut c, &[section]);
            for field in *fields {
                assert!(
                    info_field(&text, field).is_some(),
                    "{name}: INFO {section} lacks {field}:\n{text}"
                );
            }
        }
    }
}

/// The INFO fields of [`counters_agree_with_redis`], as numbers.
fn numbers(text: &str, fields: &[&str]) -> Vec<i64> {
    fields
        .iter()
        .map(|f| {
            info_field(text, f)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no number for {f} in {text}"))
        })
        .collect()
}

#[test]
fn counters_agree_with_redis() {
    let Some((mayfly, redis)) = servers() else {
        return;
    };
    const FIELDS: [&str; 8] = [
        "total_connections_received",
        "total_commands_processed",
        "keyspace_hits",
        "keyspace_misses",
        "expired_keys",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "total_reads_processed",
    ];
    let mut deltas = Vec::new();
    for (name, port) in [("mayfly", mayfly.port()), ("redis", redis.port)] {
        let mut c = Client::connect(port);
        // The start-up probe's and the setup's connections close first.
        assert!(
            wait_for(Duration::from_secs(5), || {
                info_field(&info(&mut c, &["clients"]), "connected_clients") == Some("1")
            }),
            "{name}: other connections never closed"
        );
        let before_request = encode(&["INFO", "stats"]);
        c.send_raw(&before_request);
        let before_reply = c.read_reply();
        let before = numbers(&text_of(&before_reply), &FIELDS);
        let writes_before: i64 = numbers(&text_of(&before_reply), &["total_writes_processed"])[0];
        let (mut sent, mut received, mut requests) = (0, before_reply.len(), 0);
        let mut run = |c: &mut Client, args: &[&str], expected: &[u8]| {
            let request = encode(args);
            c.send_raw(&request);
            let reply = c.read_reply();
            assert_eq!(reply, expected, "{name}: {args:?}");
            sent += request.len();
            received += reply.len();
            requests += 1;
        };
        let mut other = Client::connect(port);
        run(&mut other, &["PING"], b"+PONG\r\n");
        run(&mut c, &["SET", "a", "1"], b"+OK\r\n");
        run(&mut c, &["GET", "a"], b"$1\r\n1\r\n");
        run(&mut c, &["GET", "nosuch"], b"$-1\r\n");
        run(&mut c, &["SET", "t", "v", "PX", "1"], b"+OK\r\n");
        std::thread::sleep(Duration::from_millis(20));
        run(&mut c, &["GET", "t"], b"$-1\r\n");
        run(&mut c, &["INCR", "n"], b":1\r\n");
        run(
            &mut c,
            &["MGET", "a", "nosuch", "b"],
            b"*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n",
        );
        let after_request = encode(&["INFO", "stats"]);
        c.send_raw(&after_request);
        let after_text = text_of(&c.read_reply());
        let after = numbers(&after_text, &FIELDS);
        let delta: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        let writes = numbers(&after_text, &["total_writes_processed"])[0] - writes_before;
        // One connection; the first INFO and the commands (not the second
        // INFO); GET a and MGET's a hit; GET nosuch, GET t and MGET's
        // nosuch and b miss; t expired; the bytes as sent and received;
        // one read per request, one write per reply.
        let expected = [
            1,
            requests as i64 + 1,
            2,
            4,
            1,
            (sent + after_request.len()) as i64,
            received as i64,
            requests as i64 + 1,
        ];
        assert_eq!(delta, expected, "{name}: deltas of {FIELDS:?}");
        assert_eq!(
            writes,
            requests as i64 + 1,
            "{name}: total_writes_processed"
        );
        deltas.push(delta);
    }
    assert_eq!(deltas[0][..5], deltas[1][..5], "the same counts as Redis");
}

/// A Mayfly of 2 shards of our own: its own figures are checked (none
/// with an external server).
fn own_mayfly() -> Option<Server> {
    let s = Server::start(&["--threads", "2"]);
    (!common::skip_if_external()).then_some(s)
}

#[test]
fn avg_ttl_is_the_mean_time_left() {
    let Some(s) = own_mayfly() else { return };
    let mut c = s.client();
    assert_cmd!(c, ["SET", "a", "1", "EX", "100"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "b", "1", "EX", "300"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "c", "1"], b"+OK\r\n");
    let text = info(&mut c, &["keyspace"]);
    let db0 = info_field(&text, "db0").unwrap_or_else(|| panic!("no db0 in {text}"));
    let ttl: u64 = db0
        .strip_prefix("keys=3,expires=2,avg_ttl=")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("db0:{db0}"));
    assert!((190_000..=200_000).contains(&ttl), "db0:{db0}");
}

#[test]
fn shards_section_counts_each_shard() {
    let Some(s) = own_mayfly() else { return };
    let mut c = s.client();
    let shards_info = |c: &mut Client| info(c, &["shards"]);
    let field = |text: &str, name: &str| {
        shard_field(text, name).unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let text = shards_info(&mut c);
    assert_eq!(field(&text, "keys"), [0, 0]);
    assert_eq!(field(&text, "connected_clients").iter().sum::<u64>(), 1);
    // One key on each shard: a SET each costs its shard one op.
    let mut keys: Vec<String> = Vec::new();
    let mut owners = Vec::new();
    let mut stored = 0;
    for i in 0.. {
        let key = format!("key:{i}");
        let before = field(&shards_info(&mut c), "ops");
        assert_cmd!(c, ["SET", key.as_str(), "v"], b"+OK\r\n");
        stored += 1;
        let text = shards_info(&mut c);
        let ops = field(&text, "ops");
        let grew: Vec<usize> = (0..2).filter(|&s| ops[s] > before[s]).collect();
        assert_eq!(
            grew.len(),
            1,
            "one shard ran the SET: {before:?} -> {ops:?}"
        );
        assert_eq!(ops[grew[0]], before[grew[0]] + 1, "{before:?} -> {ops:?}");
        if !owners.contains(&grew[0]) {
            owners.push(grew[0]);
            keys.push(key);
        }
        if owners.len() == 2 {
            break;
        }
        assert!(i < 100, "100 keys all on shard {owners:?}");
    }
    let text = shards_info(&mut c);
    assert_eq!(field(&text, "keys").iter().sum::<u64>(), stored);
    // A command over both shards: a transaction with a part on each, and
    // mesh messages both ways.
    let (mesh_before, ops_before) = (field(&text, "mesh_sent"), field(&text, "ops"));
    let reply = c.cmd(&["MGET", keys[0].as_str(), keys[1].as_str()]);
    assert_eq!(reply, b"*2\r\n$1\r\nv\r\n$1\r\nv\r\n");
    let text = shards_info(&mut c);
    let (mesh, ops) = (field(&text, "mesh_sent"), field(&text, "ops"));
    assert_eq!(ops, [ops_before[0] + 1, ops_before[1] + 1], "one part each");
    assert!(
        mesh.iter().zip(&mesh_before).all(|(a, b)| a > b),
        "{mesh_before:?} -> {mesh:?}"
    );
    let received = field(&text, "mesh_received");
    assert!(received.iter().all(|&n| n > 0), "{text}");
    // What CLIENT LIST, CLIENT KILL, SLOWLOG and LATENCY ask every shard
    // touches no data: no ops.
    for _ in 0..10 {
        c.cmd(&["CLIENT", "LIST"]);
        c.cmd(&["SLOWLOG", "LEN"]);
    }
    assert_cmd!(c, ["LATENCY", "LATEST"], b"*0\r\n");
    assert_cmd!(c, ["CLIENT", "KILL", "ID", "999999"], b":0\r\n");
    assert_eq!(field(&shards_info(&mut c), "ops"), ops, "no ops");
    // Memory per shard: at least the entry of the key each holds (see
    // tests/metrics.rs for how it follows the data); CPU: a number.
    let memory = field(&text, "keyspace_memory");
    assert!(memory.iter().all(|&m| m > 64), "{text}");
    for i in 0..2 {
        let line = info_field(&text, &format!("shard{i}")).expect("shardN line");
        let user = line
            .split(',')
            .find_map(|f| f.strip_prefix("used_cpu_user="))
            .unwrap_or_else(|| panic!("no used_cpu_user in {line}"));
        assert!(user.parse::<f64>().is_ok(), "{line}");
    }
    // CONFIG RESETSTAT zeroes the counters, keeps the keys.
    assert_cmd!(c, ["CONFIG", "RESETSTAT"], b"+OK\r\n");
    let text = shards_info(&mut c);
    assert_eq!(field(&text, "ops"), [0, 0]);
    assert_eq!(field(&text, "keys").iter().sum::<u64>(), stored);
}

/// INFO of a `mayfly` started with `args`, and `NOTIFY_SOCKET` set or not.
fn info_of_process(args: &[&str], notify_socket: Option<&str>) -> String {
    let port = common::free_port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mayfly"));
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(args)
        .env_remove("NOTIFY_SOCKET");
    if let Some(path) = notify_socket {
        command.env("NOTIFY_SOCKET", path);
    }
    let mut process = common::Process::spawn(&mut command).expect("spawn mayfly");
    let mut client = None;
    let up = wait_for(Duration::from_secs(10), || {
        client = Client::try_connect(port).ok();
        client.is_some()
    });
    assert!(up, "mayfly did not serve: {}", process.output());
    let text = info(client.as_mut().expect("connected"), &["everything"]);
    process.stop();
    text
}

#[test]
fn mode_and_supervision_are_reported_as_redis_does() {
    if common::skip_if_external() {
        return;
    }
    let plain = info_of_process(&["--threads", "1"], None);
    assert_eq!(info_field(&plain, "redis_mode"), Some("standalone"));
    assert_eq!(info_field(&plain, "cluster_enabled"), Some("0"));
    assert_eq!(info_field(&plain, "process_supervised"), Some("no"));
    assert_eq!(info_field(&plain, "shards"), Some("1"));
    let executable = info_field(&plain, "executable").expect("executable");
    assert!(executable.ends_with("/mayfly"), "executable:{executable}");
    assert_eq!(info_field(&plain, "config_file"), Some(""));
    let cluster = info_of_process(
        &["--threads", "1", "--cluster-mode", "emulated"],
        Some("/nonexistent/notify.sock"),
    );
    assert_eq!(info_field(&cluster, "redis_mode"), Some("cluster"));
    assert_eq!(info_field(&cluster, "cluster_enabled"), Some("1"));
    assert_eq!(info_field(&cluster, "process_supervised"), Some("systemd"));
}
