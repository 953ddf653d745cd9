//! `--requirepass`, AUTH, HELLO's AUTH option and RESET's de-authentication
//! over the wire, compared byte for byte with a redis-server started with
//! the same password; memtier_benchmark's `-a` handshake; redis-benchmark
//! with `-a`.

#[macro_use]
mod common;

use common::{encode, find_on_path, own_mayfly, show, split_args, Client, RedisServer, Server};
use std::process::Command;

const PASSWORD: &str = "secret";

/// A Mayfly of our own with `--requirepass secret`.
fn mayfly() -> Server {
    own_mayfly(&["--threads", "2", "--requirepass", PASSWORD])
}

/// Each session runs on a fresh connection to each server, in order; the
/// servers share their keys across sessions.
const SESSIONS: &[&[&str]] = &[
    // Everything but AUTH, HELLO, QUIT and RESET is refused, after the
    // command was looked up and its arity checked.
    &[
        "PING",
        "ECHO x",
        "GET k",
        "SET k v",
        "FOO a b",
        "GET",
        "CLIENT LIST",
        "CLIENT SETNAME x",
        "COMMAND INFO auth",
        "INFO",
        "SELECT 3",
        "CONFIG GET port",
        "MSET a 1 b 2",
        "DBSIZE",
        "KEYS *",
        "SCAN 0",
    ],
    // AUTH's errors; a failed AUTH does not undo an earlier success.
    &[
        "AUTH",
        "AUTH a b c",
        "AUTH wrong",
        "AUTH default wrong",
        "AUTH bob secret",
        "AUTH \"\"",
        "AUTH secre",
        "AUTH secretx",
        "auth SECRET",
        "GET k",
        "AUTH secret",
        "SET k v",
        "GET k",
        "AUTH wrong",
        "GET k",
    ],
    // RESET logs out.
    &[
        "AUTH default secret",
        "GET k",
        "RESET",
        "GET k",
        "AUTH secret",
        "GET k",
    ],
    // HELLO must authenticate or be authenticated.
    &[
        "HELLO",
        "HELLO 3",
        "HELLO 2 SETNAME x",
        "HELLO 3 AUTH default",
        "HELLO foo",
        "HELLO AUTH default secret",
        "HELLO 4 AUTH default secret",
        "HELLO 3 AUTH default wrong",
        "HELLO 3 AUTH bob secret",
        "PING",
        "hello 3 auth default secret setname me",
        "CLIENT GETNAME",
        "GET k",
        "HELLO 2",
    ],
    // HELLO's AUTH takes effect as soon as it is read: a later bad option
    // fails the command but the client stays authenticated.
    &["HELLO 2 AUTH default secret FOO", "GET k"],
    &["HELLO 3 AUTH default secret SETNAME \"a b\"", "GET k"],
    // A bad name is refused before a later AUTH is tried.
    &["HELLO 3 SETNAME \"a b\" AUTH default secret", "GET k"],
    &["HELLO 3 AUTH default wrong FOO", "PING"],
    &["AUTH secret", "HELLO 3 AUTH default wrong", "GET k"],
    &["CLIENT SETNAME x", "AUTH secret", "CLIENT GETNAME"],
    &["RESET", "QUIT"],
];

/// HELLO's reply holds the client id, which differs between the servers.
fn comparable(args: &[Vec<u8>], reply: &[u8]) -> Vec<u8> {
    if !args[0].eq_ignore_ascii_case(b"hello") {
        return reply.to_vec();
    }
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    let mut lines = text.split_inclusive("\r\n");
    while let Some(line) = lines.next() {
        out.push_str(line);
        if line == "$2\r\n" {
            if let Some(name) = lines.next() {
                out.push_str(name);
                if name == "id\r\n" {
                    lines.next();
                    out.push_str(":<id>\r\n");
                }
            }
        }
    }
    out.into_bytes()
}

#[test]
fn replies_match_redis_with_requirepass() {
    let Some(redis) = RedisServer::start_with(&["--requirepass", PASSWORD]) else {
        return;
    };
    let mayfly = mayfly();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for session in SESSIONS {
        let mut r = redis.client();
        let mut m = mayfly.client();
        for line in *session {
            let args = split_args(line);
            let expected = comparable(&args, &r.cmd(&args));
            let got = comparable(&args, &m.cmd(&args));
            compared += 1;
            if expected != got {
                mismatches.push(format!(
                    "{line}\n  redis:  {}\n  mayfly: {}",
                    show(&expected),
                    show(&got)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} replies differ from redis-server's:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Sends memtier_benchmark's handshake (`-a secret --select-db 3`, and
/// `HELLO 3` for `--protocol=resp3`) in one write, as it does, then its
/// commands; returns every reply.
fn memtier_session(port: u16, password: &str, resp3: bool) -> Vec<Vec<u8>> {
    let mut request = encode(&["AUTH", password]);
    request.extend(encode(&["SELECT", "3"]));
    let mut expected = 2;
    if resp3 {
        request.extend(encode(&["HELLO", "3"]));
        expected += 1;
    }
    let mut client = Client::connect(port);
    let mut replies = client.pipeline(request, expected);
    for command in [
        &["SET", "k", "v"][..],
        &["GET", "k"],
        &["SETEX", "k", "10", "v"],
    ] {
        replies.push(client.cmd(command));
    }
    replies
}

const HELLO3_START: &[u8] = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n";

#[test]
fn memtier_handshake_with_password() {
    let server = mayfly();
    for resp3 in [false, true] {
        let replies = memtier_session(server.port(), PASSWORD, resp3);
        let (handshake, commands) = replies.split_at(replies.len() - 3);
        assert_eq!(handshake[0], b"+OK\r\n", "AUTH");
        assert_eq!(handshake[1], b"+OK\r\n", "SELECT");
        if resp3 {
            assert!(
                handshake[2].starts_with(HELLO3_START),
                "HELLO 3: {}",
                show(&handshake[2])
            );
        }
        assert_eq!(commands[0], b"+OK\r\n", "SET");
        assert_eq!(commands[1], b"$1\r\nv\r\n", "GET");
        assert_eq!(commands[2], b"+OK\r\n", "SETEX");
    }
}

#[test]
fn memtier_handshake_with_wrong_password() {
    let server = mayfly();
    let noauth: &[u8] = b"-NOAUTH Authentication required.\r\n";
    for resp3 in [false, true] {
        let replies = memtier_session(server.port(), "wrong", resp3);
        assert_eq!(
            replies[0],
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(replies[1], noauth, "SELECT");
        if resp3 {
            assert!(replies[2].starts_with(b"-NOAUTH HELLO must be called"));
        }
        for reply in &replies[replies.len() - 3..] {
            assert_eq!(reply, noauth);
        }
    }
    // Nothing was written.
    let mut client = server.client();
    assert_cmd!(client, ["AUTH", PASSWORD], "+OK\r\n");
    assert_cmd!(client, ["SELECT", "3"], "+OK\r\n");
    assert_cmd!(client, ["DBSIZE"], ":0\r\n");
}

#[test]
fn empty_requirepass_means_none() {
    let server = own_mayfly(&["--requirepass", ""]);
    let mut client = server.client();
    assert_cmd!(client, ["PING"], "+PONG\r\n");
    assert_cmd!(
        client,
        ["AUTH", "x"],
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n"
    );
}

#[test]
fn redis_benchmark_with_password() {
    let Some(benchmark) = find_on_path("redis-benchmark") else {
        if std::env::var_os("CI").is_some() {
            panic!("redis-benchmark is not on PATH, and CI is set (apt-get install redis-tools)");
        }
        eprintln!("NOTICE: redis-benchmark is not on PATH; skipping its run with -a");
        return;
    };
    let server = mayfly();
    let port = server.port().to_string();
    let output = Command::new(benchmark)
        .args(["-h", "127.0.0.1", "-p", &port, "-a", PASSWORD])
        .args(["-t", "set,get", "-n", "1000", "-q"])
        .output()
        .expect("run redis-benchmark");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for test in ["SET: ", "GET: "] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(test) && l.contains("requests per second")),
            "no {test} result in:\n{stdout}\n{stderr}"
        );
    }
    // Every command it sent was authenticated.
    let mut client = server.client();
    assert_cmd!(client, ["AUTH", PASSWORD], "+OK\r\n");
    assert_cmd!(client, ["EXISTS", "key:__rand_int__"], ":1\r\n");
}
