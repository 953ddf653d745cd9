//! `--cluster-mode emulated`: what cluster-aware clients do on connect, over
//! the wire. memtier_benchmark `--cluster-mode` sends `CLUSTER SLOTS` on its
//! first connection (the reply must be a non-empty array), then routes every
//! key by `CRC16(key) & 16383` (hash tags honoured) to the node the reply
//! names, following `-MOVED`/`-ASK`. Mayfly must name itself for every slot,
//! compute slots as Redis does, and serve every key without redirecting.

#[macro_use]
mod common;

use common::{int_of, parse_value, RedisServer, Server, Value};

fn emulated() -> Server {
    Server::start(&["--threads", "2", "--cluster-mode", "emulated"])
}

#[test]
fn memtier_cluster_handshake_finds_one_node_owning_every_slot() {
    let s = emulated();
    let mut c = s.client();
    let Value::Array(ranges) = parse_value(&c.cmd(&["CLUSTER", "SLOTS"])) else {
        panic!("CLUSTER SLOTS is not an array");
    };
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    let Value::Array(range) = &ranges[0] else {
        panic!("{ranges:?}");
    };
    assert_eq!(range[0], Value::Int(0));
    assert_eq!(range[1], Value::Int(16383));
    let Value::Array(node) = &range[2] else {
        panic!("{range:?}");
    };
    assert_eq!(node[0], Value::Bulk(b"127.0.0.1".to_vec()));
    assert_eq!(node[1], Value::Int(i64::from(s.port())));
    // Then its traffic, on keys of many slots: never a redirection.
    for i in 0..200 {
        let key = format!("memtier-{i}");
        assert_cmd!(c, ["SET", key.as_str(), "v"], b"+OK\r\n");
        assert_cmd!(c, ["GET", key.as_str()], b"$1\r\nv\r\n");
        assert_cmd!(c, ["SETEX", key.as_str(), "10", "w"], b"+OK\r\n");
    }
    assert_cmd!(c, ["READONLY"], b"+OK\r\n");
    let myid = c.cmd(&["CLUSTER", "MYID"]);
    assert!(myid.starts_with(b"$40\r\n"), "{myid:?}");
}

/// Clients compute slots themselves; CLUSTER KEYSLOT must agree with a real
/// redis-server in cluster mode, hash tags included.
#[test]
fn keyslot_matches_a_redis_cluster_node() {
    let config = std::env::temp_dir().join(format!("mayfly-nodes-{}.conf", std::process::id()));
    let config = config.to_string_lossy().into_owned();
    let Some(redis) = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        config.as_str(),
    ]) else {
        return;
    };
    let s = emulated();
    let mut ours = s.client();
    let mut theirs = redis.client();
    let keys = [
        "",
        "foo",
        "{user}.a",
        "{user}.b",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{",
        "}",
        "{}",
        "a{b",
        "key:000000012345",
        "\u{e9}t\u{e9}",
    ];
    let many: Vec<String> = (0..300).map(|i| format!("k{i}{{t{}}}x", i % 7)).collect();
    for key in keys.iter().copied().chain(many.iter().map(String::as_str)) {
        let want = int_of(&theirs.cmd(&["CLUSTER", "KEYSLOT", key]));
        assert_eq!(
            int_of(&ours.cmd(&["CLUSTER", "KEYSLOT", key])),
            want,
            "{key:?}"
        );
    }
    let _ = std::fs::remove_file(&config);
}

#[test]
fn without_the_option_cluster_commands_are_disabled() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    let disabled = b"-ERR This instance has cluster support disabled\r\n";
    assert_cmd!(c, ["CLUSTER", "SLOTS"], disabled);
    assert_cmd!(c, ["CLUSTER", "KEYSLOT", "x"], disabled);
    assert_cmd!(c, ["READONLY"], disabled);
}
