//! The client limits, each checked on Mayfly and on a redis-server started
//! with the same option: `maxclients`, idle `timeout`, `tcp-keepalive`,
//! `maxmemory` (noeviction: Redis's OOM error), `proto-max-bulk-len` and
//! `client-query-buffer-limit`.

#[macro_use]
mod common;

use common::{
    assert_one_client_too_many, encode, free_port, info_field, mayfly_and_redis, show, text_of,
    wait_for, Client, Compared,
};
use std::time::{Duration, Instant};

/// The ports of a Mayfly (2 shards) and, where installed, a redis-server,
/// both started with `options`; the servers live as long as the guard.
fn both(options: &[&str]) -> (Vec<(&'static str, u16)>, Compared) {
    let mut mayfly_args = vec!["--threads", "2"];
    mayfly_args.extend_from_slice(options);
    mayfly_and_redis(&mayfly_args, options)
}

fn info(client: &mut Client, section: &str, field: &str) -> String {
    let text = text_of(&client.cmd(&["INFO", section]));
    info_field(&text, field)
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {text}"))
        .to_string()
}

#[test]
fn maxclients_refuses_one_client_too_many() {
    let (ports, _servers) = both(&["--maxclients", "2"]);
    for (name, port) in ports {
        let mut first = Client::connect(port);
        // The start-up probe's connection may still be closing.
        assert!(
            wait_for(Duration::from_secs(5), || info(
                &mut first,
                "clients",
                "connected_clients"
            ) == "1"),
            "{name}: connected_clients never settled at 1"
        );
        let second = assert_one_client_too_many(port, name);
        assert_eq!(
            info(&mut first, "stats", "rejected_connections"),
            "1",
            "{name}"
        );
        drop(second);
        // Once a client leaves, a new one is served.
        assert!(
            wait_for(Duration::from_secs(5), || {
                let mut again = Client::connect(port);
                again.try_send_raw(&encode(&["PING"])).is_ok()
                    && again.try_read_reply().ok().as_deref() == Some(&b"+PONG\r\n"[..])
            }),
            "{name}: no client is served after one left"
        );
    }
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let (ports, _servers) = both(&["--timeout", "1"]);
    for (name, port) in ports {
        let mut idle = Client::connect(port);
        assert_cmd!(idle, ["PING"], b"+PONG\r\n");
        let mut busy = Client::connect(port);
        let start = Instant::now();
        // Idle for more than 1 whole second: closed by the next check (each second).
        while start.elapsed() < Duration::from_millis(3500) {
            assert_cmd!(busy, ["PING"], b"+PONG\r\n");
            std::thread::sleep(Duration::from_millis(250));
        }
        // Redis closes it without a word.
        idle.expect_closed();
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n", "{name}");
    }
}

/// The server side's TCP timer for the connection from local port
/// `client_port` to `server_port`, from /proc/net/tcp: 2 is keepalive.
fn server_socket_timer(server_port: u16, client_port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{server_port:04X}");
    let remote = format!("0100007F:{client_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        // "tr:tm->when": the timer kind before the colon.
        fields.get(5)?.split(':').next()?.parse().ok()
    })
}

fn keepalive_timer_after_connect(port: u16) -> Option<u32> {
    let mut client = Client::connect(port);
    assert_cmd!(client, ["PING"], b"+PONG\r\n");
    let client_port = client.local_port();
    server_socket_timer(port, client_port)
}

#[test]
fn tcp_keepalive_is_set_on_accepted_sockets() {
    let (ports, _servers) = both(&[]);
    for (name, port) in ports {
        assert_eq!(
            keepalive_timer_after_connect(port),
            Some(2),
            "{name}: default 300"
        );
    }
    let (ports, _servers) = both(&["--tcp-keepalive", "0"]);
    for (name, port) in ports {
        assert_eq!(keepalive_timer_after_connect(port), Some(0), "{name}: off");
    }
}

/// Runs `lines` (redis-cli syntax) on a fresh connection to each server and
/// asserts identical replies; returns Mayfly's.
fn same_replies(ports: &[(&str, u16)], lines: &[&str]) -> Vec<Vec<u8>> {
    let mut replies: Vec<Vec<Vec<u8>>> = Vec::new();
    for (_, port) in ports {
        let mut client = Client::connect(*port);
        replies.push(
            lines
                .iter()
                .map(|line| client.cmd(&common::split_args(line)))
                .collect(),
        );
    }
    for (i, line) in lines.iter().enumerate() {
        for (server, (name, _)) in replies.iter().zip(ports).skip(1) {
            assert_eq!(
                show(&replies[0][i]),
                show(&server[i]),
                "{line}: mayfly vs {name}"
            );
        }
    }
    replies.swap_remove(0)
}

#[test]
fn maxmemory_refuses_commands_that_add_memory() {
    // One byte: always above it, whatever the server's own overhead.
    let (ports, _servers) = both(&["--maxmemory", "1"]);
    let replies = same_replies(
        &ports,
        &[
            "SET k v",
            "SETEX k 10 v",
            "SETNX k v",
            "APPEND k v",
            "INCR n",
            "MSET a 1 b 2",
            "COPY a b",
            "GET k",
            "DEL k a",
            "EXPIRE k 10",
            "GETDEL k",
            "PING",
            "SET",
            "FLUSHALL",
            "DBSIZE",
        ],
    );
    assert_eq!(
        replies[0],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    // A limit far above what is used: writes go through.
    let (ports, _servers) = both(&["--maxmemory", "1gb"]);
    same_replies(&ports, &["SET k v", "INCR n", "MSET a 1 b 2", "DBSIZE"]);
}

#[test]
fn proto_max_bulk_len_bounds_requests_and_strings() {
    let (ports, _servers) = both(&["--proto-max-bulk-len", "1mb"]);
    same_replies(
        &ports,
        &[
            "SET k v",
            "SETRANGE k 1048575 x",
            "SETRANGE k 1048576 x",
            "APPEND k x",
            "STRLEN k",
        ],
    );
    for (name, port) in &ports {
        let mut client = Client::connect(*port);
        client
            .send_raw(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 1024 * 1024 + 1).as_bytes());
        assert_eq!(
            client.read_reply(),
            b"-ERR Protocol error: invalid bulk length\r\n",
            "{name}"
        );
        client.expect_closed();
    }
}

#[test]
fn client_query_buffer_limit_closes_the_client() {
    let (ports, _servers) = both(&["--client-query-buffer-limit", "1mb"]);
    for (name, port) in &ports {
        // One argument of 1 MiB does not fit with its header in 1 MiB.
        let mut client = Client::connect(*port);
        let mut request = encode(&["SET", "k"]);
        request[1] = b'3';
        request.extend_from_slice(format!("${}\r\n", 1024 * 1024).as_bytes());
        request.extend_from_slice(&vec![b'x'; 1024 * 1024]);
        request.extend_from_slice(b"\r\n");
        let _ = client.try_send_raw(&request);
        client.expect_closed();
        // Each argument counts alone: two of 900,000 bytes are served.
        let mut client = Client::connect(*port);
        let value = vec![b'y'; 900_000];
        let request = encode(&[&b"MSET"[..], b"a", &value, b"b", &value]);
        for piece in request.chunks(100_000) {
            client.send_raw(piece);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(client.read_reply(), b"+OK\r\n", "{name}");
        assert_cmd!(client, ["STRLEN", "b"], b":900000\r\n");
    }
}

/// Runs mayfly with the open files limit set to `nofile` first.
fn mayfly_with_nofile(nofile: u32, port: u16) -> common::Process {
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        &format!(
            "ulimit -n {nofile} && exec {} --port {port} --bind 127.0.0.1 --threads 2",
            env!("CARGO_BIN_EXE_mayfly")
        ),
    ]);
    common::Process::spawn(&mut command).expect("spawn sh")
}

#[test]
fn maxclients_is_lowered_to_fit_the_open_files_limit() {
    // 200 descriptors, 48 kept for the shards: 152 clients, with Redis's warning.
    let port = free_port();
    let mut process = mayfly_with_nofile(200, port);
    assert!(
        wait_for(Duration::from_secs(10), || process
            .output()
            .contains("maxclients has been reduced to 152")),
        "no warning: {}",
        process.output()
    );
    assert!(wait_for(Duration::from_secs(10), || {
        Client::try_connect(port).is_ok()
    }));
    let mut client = Client::connect(port);
    assert_cmd!(client, ["PING"], b"+PONG\r\n");
    process.stop();
    // Not even the shards' descriptors fit: no start, exit status 1.
    let mut process = mayfly_with_nofile(40, free_port());
    let status = process
        .wait_timeout(Duration::from_secs(10))
        .expect("mayfly should exit");
    assert_eq!(status.code(), Some(1), "{}", process.output());
    assert!(
        process
            .output()
            .contains("Your current 'ulimit -n' of 40 is not enough for the server to start"),
        "{}",
        process.output()
    );
}
