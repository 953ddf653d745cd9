//! The process: `--help`, the start-up log line, clean exit on SIGTERM and
//! SIGINT with the port free at once, and a one-thread server. These check
//! the `mayfly` binary itself, so they do nothing under `MAYFLY_TEST_PORT`.

#[macro_use]
mod common;

use common::{shard_stats, skip_if_external, text_of, wait_for, Server, SIGINT, SIGTERM};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn help_lists_every_option_with_its_default() {
    if skip_if_external() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mayfly"))
        .arg("--help")
        .output()
        .expect("run mayfly --help");
    assert!(
        out.status.success(),
        "mayfly --help exited with {}",
        out.status
    );
    let help = String::from_utf8_lossy(&out.stdout);
    // One block per option: from its line up to the next line that starts an
    // option (config.rs checks every option of the table the same way).
    let mut blocks: Vec<String> = Vec::new();
    for line in help.lines() {
        if line.trim_start().starts_with('-') || blocks.is_empty() {
            blocks.push(String::new());
        }
        let block = blocks.last_mut().expect("a block");
        block.push_str(line);
        block.push('\n');
    }
    for (option, default) in [
        ("--port", Some("6379")),
        ("--bind", None),
        ("--threads", None),
        ("--databases", Some("16")),
        ("--keyspace-segments", Some("1024")),
        ("--cluster-mode", Some("no")),
        ("--loglevel", None),
    ] {
        let block = blocks
            .iter()
            .find(|b| b.trim_start().starts_with(&format!("{option} ")))
            .unwrap_or_else(|| panic!("--help does not mention {option}:\n{help}"));
        assert!(
            block.to_lowercase().contains("default"),
            "--help gives no default for {option}:\n{block}"
        );
        if let Some(value) = default {
            assert!(
                block.contains(value),
                "--help should say {option} defaults to {value}:\n{block}"
            );
        }
    }
}

#[test]
fn logs_a_start_up_line_with_version_address_and_shards() {
    if skip_if_external() {
        return;
    }
    let s = Server::start(&["--threads", "2"]);
    let version = env!("CARGO_PKG_VERSION");
    let port = s.port().to_string();
    let found = wait_for(Duration::from_secs(2), || {
        s.log()
            .lines()
            .any(|l| l.contains(version) && l.contains(&port) && l.contains('2'))
    });
    assert!(
        found,
        "no start-up line with version {version}, port {port} and 2 shards in:\n{}",
        s.log()
    );
}

/// Starts a server with an idle client attached, sends `signal`, and checks
/// that it exits with status 0 within 2 s and that the port can be reused at once.
fn exits_cleanly_on(signal: i32) {
    let mut s = Server::start(&["--threads", "2"]);
    let port = s.port();
    let mut idle = s.client();
    assert_cmd!(idle, ["SET", "k", "v"], b"+OK\r\n");
    let started = Instant::now();
    s.process().signal(signal);
    let status = s.process().wait_timeout(Duration::from_secs(2));
    let elapsed = started.elapsed();
    let log = s.log();
    let status =
        status.unwrap_or_else(|| panic!("still running 2 s after signal {signal}; log:\n{log}"));
    assert!(
        status.success(),
        "exit status after signal {signal} was {status} (after {elapsed:?}); log:\n{log}"
    );
    drop(s);

    // Start again on the same port and connect the way a client that retries
    // would: "connection refused" until the new server listens is fine, but
    // every connection that is accepted must work. (The kernel spreads
    // connections over every socket listening on the port, so one left over
    // from the old process would reset some of them.)
    let _restarted = Server::launch(port, &["--threads", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut served = 0;
    while served < 8 {
        assert!(
            Instant::now() < deadline,
            "no connection to the restarted server on port {port}"
        );
        let Ok(mut c) = common::Client::try_connect(port) else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        c.send(&["PING"]);
        match c.try_read_reply() {
            Ok(reply) => common::assert_reply(&reply, b"+PONG\r\n"),
            Err(e) => panic!(
                "connection {served} to the server restarted on port {port} failed ({e}): \
                 did a listening socket of the old process outlive it?"
            ),
        }
        assert_cmd!(c, ["GET", "k"], b"$-1\r\n");
        served += 1;
    }
}

#[test]
fn sigterm_exits_zero_and_frees_the_port() {
    if skip_if_external() {
        return;
    }
    exits_cleanly_on(SIGTERM);
}

#[test]
fn sigint_exits_zero_and_frees_the_port() {
    if skip_if_external() {
        return;
    }
    exits_cleanly_on(SIGINT);
}

#[test]
fn one_thread_server_works() {
    if skip_if_external() {
        return;
    }
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    for i in 0..100 {
        assert_cmd!(c, ["SET", &format!("k{i}"), &i.to_string()], b"+OK\r\n");
    }
    assert_cmd!(c, ["GET", "k42"], b"$2\r\n42\r\n");
    assert_cmd!(c, ["DEL", "k1", "k2", "k3", "nokey"], b":3\r\n");
    assert_cmd!(c, ["EXISTS", "k1", "k4", "k5"], b":2\r\n");
    assert_cmd!(c, ["DBSIZE"], b":97\r\n");
    let info = text_of(&c.cmd(&["INFO"]));
    let shards = shard_stats(&info).unwrap_or_else(|| panic!("no # Shards section:\n{info}"));
    assert_eq!(shards, vec![(97, 0)], "{info}");
}

#[test]
fn a_second_server_on_a_used_port_exits_1() {
    if skip_if_external() {
        return;
    }
    let server = Server::start(&["--threads", "2"]);
    let port = server.port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_mayfly"))
        .args(["--port", &port, "--threads", "2"])
        .output()
        .expect("run a second mayfly");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the second server must not start"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Address already in use"), "log: {log}");
    // The first server still has every connection.
    let mut c = server.client();
    assert_cmd!(c, ["PING"], b"+PONG\r\n");
}

#[test]
fn a_shard_that_cannot_start_makes_the_server_exit_1() {
    if skip_if_external() {
        return;
    }
    // glommio refuses to start under a 64 KiB memlock limit: the server must
    // say so and exit 1, not announce itself ready with a dead shard.
    let port = common::free_port().to_string();
    let script = format!(
        "ulimit -l 64 && exec {} --port {port} --threads 2",
        env!("CARGO_BIN_EXE_mayfly")
    );
    let start = Instant::now();
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("run mayfly under sh");
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("failed to start"), "log: {log}");
    assert!(!log.contains("ready to accept connections"), "log: {log}");
}

#[test]
fn a_shard_that_stops_ticking_is_logged_with_its_thread_state() {
    if skip_if_external() {
        return;
    }
    let s = Server::start(&["--threads", "2"]);
    let mut client = s.client();
    // DEBUG SLEEP blocks the connection's shard thread, as it blocks Redis.
    assert_cmd!(client, ["DEBUG", "SLEEP", "1.5"], b"+OK\r\n");
    let logged = wait_for(Duration::from_secs(3), || {
        let log = s.log();
        log.contains("has not ticked for 1.")
            && log.contains("state S")
            && log.contains("ticks again after")
    });
    assert!(logged, "no stall report in the log:\n{}", s.log());
}
