//! The modes memtier_benchmark and redis-benchmark run in, end to end.
//!
//! memtier_benchmark is not packaged for Debian, so its per-connection
//! handshake is replayed exactly: back to back, before any traffic, `SELECT
//! <n>` with `--select-db` (the reply must be exactly `+OK`) and `HELLO 2` or
//! `HELLO 3` with `--protocol=resp2`/`resp3` (the default protocol sends no
//! HELLO); then its traffic, `SET k v`, `GET k` and, with `--expiry-range`,
//! `SETEX k <secs> v`, pipelined with `--pipeline`. A GET counts as a hit when
//! its bulk length is above 0. (`-a` is in `tests/auth.rs`, `--cluster-mode`
//! in `tests/cluster.rs`.) redis-benchmark's own modes (`--dbnum`, `-3`, `-P`)
//! run for real when it is installed.

#[macro_use]
mod common;

use common::{encode, find_on_path, Client, Server};
use std::process::Command;

fn server() -> Server {
    Server::start(&["--threads", "2"])
}

/// One memtier connection's handshake, sent in one write; checks each reply.
fn handshake(c: &mut Client, select_db: Option<u32>, hello: Option<u32>) {
    let mut request = Vec::new();
    if let Some(db) = select_db {
        request.extend(encode(&["SELECT", db.to_string().as_str()]));
    }
    if let Some(proto) = hello {
        request.extend(encode(&["HELLO", proto.to_string().as_str()]));
    }
    let expected = usize::from(select_db.is_some()) + usize::from(hello.is_some());
    let replies = c.pipeline(request, expected);
    let mut replies = replies.iter();
    if select_db.is_some() {
        assert_eq!(replies.next().map(Vec::as_slice), Some(&b"+OK\r\n"[..]));
    }
    if let Some(proto) = hello {
        let reply = replies.next().expect("a HELLO reply");
        let head: &[u8] = if proto == 3 { b"%7\r\n" } else { b"*14\r\n" };
        assert!(reply.starts_with(head), "HELLO {proto}: {reply:?}");
        let proto_field = format!("$5\r\nproto\r\n:{proto}\r\n");
        assert!(
            reply
                .windows(proto_field.len())
                .any(|w| w == proto_field.as_bytes()),
            "HELLO {proto}: {reply:?}"
        );
    }
}

/// memtier's traffic on one connection, `depth` requests in flight: SETs
/// (or SETEXs), then GETs of the same keys (all hits), then GETs of keys
/// never set (misses).
fn traffic(c: &mut Client, prefix: &str, depth: usize, expiry: bool, resp3: bool) {
    let keys: Vec<String> = (0..depth)
        .map(|i| format!("memtier-{prefix}-{i}"))
        .collect();
    let mut sets = Vec::new();
    for key in &keys {
        sets.extend(if expiry {
            encode(&[
                "SETEX",
                key.as_str(),
                "30",
                "value-of-32-bytes-xxxxxxxxxxxxxx",
            ])
        } else {
            encode(&["SET", key.as_str(), "value-of-32-bytes-xxxxxxxxxxxxxx"])
        });
    }
    for reply in c.pipeline(sets, depth) {
        assert_eq!(reply, b"+OK\r\n");
    }
    let gets: Vec<u8> = keys
        .iter()
        .flat_map(|k| encode(&["GET", k.as_str()]))
        .collect();
    for reply in c.pipeline(gets, depth) {
        assert_eq!(reply, b"$32\r\nvalue-of-32-bytes-xxxxxxxxxxxxxx\r\n");
    }
    let misses: Vec<u8> = keys
        .iter()
        .flat_map(|k| encode(&["GET", format!("{k}-missing").as_str()]))
        .collect();
    let null: &[u8] = if resp3 { b"_\r\n" } else { b"$-1\r\n" };
    for reply in c.pipeline(misses, depth) {
        assert_eq!(reply, null);
    }
}

/// One memtier_benchmark invocation's options.
struct Mode {
    name: &'static str,
    select_db: Option<u32>,
    hello: Option<u32>,
    expiry: bool,
    pipeline: usize,
}

const fn mode(
    name: &'static str,
    select_db: Option<u32>,
    hello: Option<u32>,
    expiry: bool,
    pipeline: usize,
) -> Mode {
    Mode {
        name,
        select_db,
        hello,
        expiry,
        pipeline,
    }
}

#[test]
fn memtier_modes_handshake_then_traffic() {
    let s = server();
    let modes = [
        mode("default", None, None, false, 1),
        mode("resp2", None, Some(2), false, 1),
        mode("resp3", None, Some(3), false, 1),
        mode("select-db", Some(5), None, false, 1),
        mode("select-db-resp3", Some(7), Some(3), false, 1),
        mode("expiry-range", None, None, true, 1),
        mode("pipeline", None, None, false, 32),
        mode("everything", Some(3), Some(3), true, 16),
    ];
    for m in &modes {
        // memtier opens several connections; each does the handshake.
        for connection in 0..3 {
            let mut c = s.client();
            handshake(&mut c, m.select_db, m.hello);
            let prefix = format!("{}-{connection}", m.name);
            traffic(&mut c, &prefix, m.pipeline, m.expiry, m.hello == Some(3));
        }
    }
    // The keys went to the databases selected, with TTLs where SETEX put them.
    let mut c = s.client();
    assert_cmd!(c, ["SELECT", "5"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":3\r\n");
    assert_cmd!(c, ["SELECT", "3"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":48\r\n");
    assert_cmd!(c, ["TTL", "memtier-everything-0-0"], b":30\r\n");
    assert_cmd!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_cmd!(c, ["TTL", "memtier-expiry-range-0-0"], b":30\r\n");
    assert_cmd!(c, ["TTL", "memtier-default-0-0"], b":-1\r\n");
}

/// redis-benchmark's own modes against Mayfly: `--dbnum`, `-3` and `-P`.
#[test]
fn redis_benchmark_modes_complete() {
    let Some(benchmark) = find_on_path("redis-benchmark") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-benchmark is not on PATH, and CI is set (apt-get install redis-tools)"
        );
        eprintln!("NOTICE: redis-benchmark is not on PATH; skipping its modes");
        return;
    };
    let s = server();
    let port = s.port().to_string();
    for extra in [
        &[][..],
        &["--dbnum", "4"],
        &["-3"],
        &["-P", "16"],
        &["-3", "--dbnum", "2", "-P", "8"],
    ] {
        let out = Command::new(&benchmark)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-n",
                "2000",
                "-c",
                "4",
                "-r",
                "1000",
            ])
            .args(["-t", "set,get", "-q", "--csv"])
            .args(extra)
            .output()
            .expect("run redis-benchmark");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "redis-benchmark {extra:?}: {text}");
        for test in ["\"SET\"", "\"GET\""] {
            assert!(
                text.contains(test),
                "redis-benchmark {extra:?} ran no {test}: {text}"
            );
        }
    }
    let mut c = s.client();
    assert_cmd!(c, ["SELECT", "4"], b"+OK\r\n");
    let dbsize = common::int_of(&c.cmd(&["DBSIZE"]));
    assert!(
        dbsize > 0,
        "redis-benchmark --dbnum 4 wrote nothing to db 4"
    );
}
