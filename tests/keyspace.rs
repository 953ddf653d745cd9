//! Keyspace commands over the wire: DEL, EXISTS, TTL, PTTL, EXPIRE, PEXPIRE,
//! PERSIST, DBSIZE, SELECT, FLUSHDB, FLUSHALL, SCAN. Every expected reply was
//! checked byte for byte against redis-server 7.0.

#[macro_use]
mod common;

use common::{encode, int, int_of, parse_value, Server, Value};

fn server() -> Server {
    Server::start(&["--threads", "2"])
}

#[test]
fn del_counts_deleted_keys() {
    let s = server();
    let mut c = s.client();
    for k in ["a", "b", "c"] {
        assert_cmd!(c, ["SET", k, "1"], b"+OK\r\n");
    }
    assert_cmd!(c, ["DEL", "a", "b", "nokey"], b":2\r\n");
    assert_cmd!(c, ["GET", "a"], b"$-1\r\n");
    assert_cmd!(c, ["DEL", "c", "c"], b":1\r\n");
    assert_cmd!(c, ["DEL", "c"], b":0\r\n");
    assert_cmd!(
        c,
        ["DEL"],
        b"-ERR wrong number of arguments for 'del' command\r\n"
    );
}

#[test]
fn del_many_keys_across_shards() {
    let s = server();
    let mut c = s.client();
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        assert_cmd!(c, ["SET", k, "v"], b"+OK\r\n");
    }
    let mut del: Vec<&str> = vec!["DEL"];
    del.extend(keys.iter().map(String::as_str));
    del.push("missing");
    common::assert_reply(&c.cmd(&del), &int(200));
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
}

#[test]
fn exists_counts_every_argument() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["EXISTS", "a"], b":0\r\n");
    assert_cmd!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "b", "1"], b"+OK\r\n");
    assert_cmd!(c, ["EXISTS", "a"], b":1\r\n");
    assert_cmd!(c, ["EXISTS", "a", "a", "a", "nokey"], b":3\r\n");
    assert_cmd!(c, ["EXISTS", "a", "b", "c", "b"], b":3\r\n");
    assert_cmd!(
        c,
        ["EXISTS"],
        b"-ERR wrong number of arguments for 'exists' command\r\n"
    );
}

#[test]
fn ttl_and_pttl_of_missing_and_persistent_keys() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["TTL", "nokey"], b":-2\r\n");
    assert_cmd!(c, ["PTTL", "nokey"], b":-2\r\n");
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    assert_cmd!(c, ["PTTL", "k"], b":-1\r\n");
    assert_cmd!(
        c,
        ["TTL"],
        b"-ERR wrong number of arguments for 'ttl' command\r\n"
    );
    assert_cmd!(
        c,
        ["TTL", "a", "b"],
        b"-ERR wrong number of arguments for 'ttl' command\r\n"
    );
    assert_cmd!(
        c,
        ["PTTL"],
        b"-ERR wrong number of arguments for 'pttl' command\r\n"
    );
}

#[test]
fn expire_and_pexpire_set_a_ttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100"], b":1\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "TTL after EXPIRE 100 was {ttl}");
    assert_cmd!(c, ["PEXPIRE", "k", "20000"], b":1\r\n");
    let pttl = int_of(&c.cmd(&["PTTL", "k"]));
    assert!(
        (19_000..=20_000).contains(&pttl),
        "PTTL after PEXPIRE 20000 was {pttl}"
    );
    // TTL rounds to the nearest second.
    assert_cmd!(c, ["PEXPIRE", "k", "2600"], b":1\r\n");
    assert_cmd!(c, ["TTL", "k"], b":3\r\n");
    assert_cmd!(c, ["EXPIRE", "nokey", "100"], b":0\r\n");
    assert_cmd!(c, ["PEXPIRE", "nokey", "100"], b":0\r\n");
    assert_cmd!(c, ["EXISTS", "nokey"], b":0\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
}

#[test]
fn expire_with_zero_or_negative_ttl_deletes_the_key() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "a", "v"], b"+OK\r\n");
    assert_cmd!(c, ["EXPIRE", "a", "-1"], b":1\r\n");
    assert_cmd!(c, ["EXISTS", "a"], b":0\r\n");
    assert_cmd!(c, ["GET", "a"], b"$-1\r\n");
    assert_cmd!(c, ["SET", "b", "v"], b"+OK\r\n");
    assert_cmd!(c, ["PEXPIRE", "b", "0"], b":1\r\n");
    assert_cmd!(c, ["TTL", "b"], b":-2\r\n");
    assert_cmd!(c, ["SET", "c", "v"], b"+OK\r\n");
    assert_cmd!(c, ["PEXPIRE", "c", "-1000"], b":1\r\n");
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "c", "-1"], b":0\r\n");
}

#[test]
fn expire_errors() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(
        c,
        ["EXPIRE", "k", "abc"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["PEXPIRE", "k", "1.5"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k"],
        b"-ERR wrong number of arguments for 'expire' command\r\n"
    );
    assert_cmd!(
        c,
        ["PEXPIRE", "k"],
        b"-ERR wrong number of arguments for 'pexpire' command\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k", "9223372036854775807"],
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k", "9223372036854775"],
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k", "-9223372036854775808"],
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_cmd!(
        c,
        ["PEXPIRE", "k", "9223372036854775807"],
        b"-ERR invalid expire time in 'pexpire' command\r\n"
    );
    // The key and its (lack of) TTL are untouched.
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
}

#[test]
fn expire_nx_xx_gt_lt() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100", "XX"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100", "GT"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100", "NX"], b":1\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "200", "NX"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "200", "XX"], b":1\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100", "GT"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "300", "LT"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "300", "GT"], b":1\r\n");
    assert_cmd!(c, ["PEXPIRE", "k", "250000", "lt"], b":1\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((249..=250).contains(&ttl), "TTL was {ttl}");
    assert_cmd!(
        c,
        ["EXPIRE", "k", "10", "NX", "XX"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k", "10", "GT", "LT"],
        b"-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_cmd!(
        c,
        ["EXPIRE", "k", "10", "FOO"],
        b"-ERR Unsupported option FOO\r\n"
    );
}

#[test]
fn persist() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["PERSIST", "nokey"], b":0\r\n");
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":0\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100"], b":1\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":1\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":0\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_cmd!(
        c,
        ["PERSIST"],
        b"-ERR wrong number of arguments for 'persist' command\r\n"
    );
    assert_cmd!(
        c,
        ["PERSIST", "a", "b"],
        b"-ERR wrong number of arguments for 'persist' command\r\n"
    );
}

#[test]
fn persisted_key_survives_its_old_deadline() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["PSETEX", "k", "100", "v"], b"+OK\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    // Likewise a key overwritten without a TTL, and one whose TTL was extended.
    assert_cmd!(c, ["PSETEX", "o", "100", "v"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "o", "w"], b"+OK\r\n");
    assert_cmd!(c, ["PSETEX", "x", "100", "v"], b"+OK\r\n");
    assert_cmd!(c, ["EXPIRE", "x", "100"], b":1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_cmd!(c, ["GET", "o"], b"$1\r\nw\r\n");
    assert_cmd!(c, ["GET", "x"], b"$1\r\nv\r\n");
    assert_cmd!(c, ["DBSIZE"], b":3\r\n");
}

#[test]
fn dbsize() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    for i in 0..50 {
        assert_cmd!(c, ["SET", &format!("k{i}"), "v"], b"+OK\r\n");
    }
    assert_cmd!(c, ["DBSIZE"], b":50\r\n");
    assert_cmd!(c, ["SET", "k0", "again"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":50\r\n");
    assert_cmd!(c, ["DEL", "k0", "k1"], b":2\r\n");
    assert_cmd!(c, ["DBSIZE"], b":48\r\n");
    assert_cmd!(
        c,
        ["DBSIZE", "x"],
        b"-ERR wrong number of arguments for 'dbsize' command\r\n"
    );
}

#[test]
fn select_switches_between_isolated_databases() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "in0"], b"+OK\r\n");
    assert_cmd!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$-1\r\n");
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    assert_cmd!(c, ["SET", "k", "in1"], b"+OK\r\n");
    assert_cmd!(c, ["EXPIRE", "k", "100"], b":1\r\n");
    assert_cmd!(c, ["SELECT", "15"], b"+OK\r\n");
    assert_cmd!(c, ["EXISTS", "k"], b":0\r\n");
    assert_cmd!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$3\r\nin0\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    assert_cmd!(c, ["DEL", "k"], b":1\r\n");
    assert_cmd!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$3\r\nin1\r\n");
    // The selected database belongs to the connection.
    let mut other = s.client();
    assert_cmd!(other, ["GET", "k"], b"$-1\r\n");
    assert_cmd!(other, ["SELECT", "1"], b"+OK\r\n");
    assert_cmd!(other, ["GET", "k"], b"$3\r\nin1\r\n");
}

#[test]
fn select_errors() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SELECT", "16"], b"-ERR DB index is out of range\r\n");
    assert_cmd!(c, ["SELECT", "-1"], b"-ERR DB index is out of range\r\n");
    assert_cmd!(
        c,
        ["SELECT", "abc"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["SELECT", "1.0"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["SELECT", ""],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["SELECT"],
        b"-ERR wrong number of arguments for 'select' command\r\n"
    );
    assert_cmd!(
        c,
        ["SELECT", "1", "2"],
        b"-ERR wrong number of arguments for 'select' command\r\n"
    );
    // A failed SELECT leaves the connection on its database.
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["SELECT", "99"], b"-ERR DB index is out of range\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
}

#[test]
fn databases_option_sets_the_number_of_databases() {
    let s = Server::start(&["--threads", "2", "--databases", "4"]);
    if s.is_external() {
        eprintln!("skipped: --databases applies only to a mayfly we start");
        return;
    }
    let mut c = s.client();
    assert_cmd!(c, ["SELECT", "3"], b"+OK\r\n");
    assert_cmd!(c, ["SELECT", "4"], b"-ERR DB index is out of range\r\n");
}

#[test]
fn flushdb_empties_only_the_selected_database() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "a", "0"], b"+OK\r\n");
    assert_cmd!(c, ["SETEX", "b", "100", "0"], b"+OK\r\n");
    assert_cmd!(c, ["SELECT", "2"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "a", "2"], b"+OK\r\n");
    assert_cmd!(c, ["FLUSHDB"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    assert_cmd!(c, ["GET", "a"], b"$-1\r\n");
    assert_cmd!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":2\r\n");
    assert_cmd!(c, ["GET", "a"], b"$1\r\n0\r\n");
    assert_cmd!(c, ["FLUSHDB", "SYNC"], b"+OK\r\n");
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    assert_cmd!(c, ["FLUSHDB", "ASYNC"], b"+OK\r\n");
    assert_cmd!(c, ["FLUSHDB", "x"], b"-ERR syntax error\r\n");
    assert_cmd!(c, ["FLUSHDB", "SYNC", "ASYNC"], b"-ERR syntax error\r\n");
}

#[test]
fn flushall_empties_every_database() {
    let s = server();
    let mut c = s.client();
    for db in ["0", "1", "15"] {
        assert_cmd!(c, ["SELECT", db], b"+OK\r\n");
        assert_cmd!(c, ["SET", "k", db], b"+OK\r\n");
        assert_cmd!(c, ["SETEX", "t", "100", db], b"+OK\r\n");
    }
    assert_cmd!(c, ["FLUSHALL"], b"+OK\r\n");
    for db in ["0", "1", "15"] {
        assert_cmd!(c, ["SELECT", db], b"+OK\r\n");
        assert_cmd!(c, ["DBSIZE"], b":0\r\n");
        assert_cmd!(c, ["GET", "k"], b"$-1\r\n");
    }
    assert_cmd!(c, ["FLUSHALL", "SYNC"], b"+OK\r\n");
    assert_cmd!(c, ["FLUSHALL", "ASYNC"], b"+OK\r\n");
    assert_cmd!(c, ["FLUSHALL", "x"], b"-ERR syntax error\r\n");
    // The server is still fully usable.
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
}

/// A full SCAN returns every key that existed for the whole scan at least
/// once, from both shards, while another client keeps inserting and
/// deleting other keys (so tables grow and shrink between calls).
#[test]
fn scan_returns_every_key_despite_concurrent_growth() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    let count = 5000;
    let mut request = Vec::new();
    for i in 0..count {
        request.extend(encode(&["SET", &format!("stable:{i}"), "v"]));
    }
    c.pipeline(request, count);
    let port = s.port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = common::Client::connect(port);
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut request = Vec::new();
                for i in 0..500 {
                    request.extend(encode(&["SET", &format!("churn:{round}:{i}"), "v"]));
                }
                if round > 0 {
                    for i in 0..500 {
                        request.extend(encode(&["DEL", &format!("churn:{}:{i}", round - 1)]));
                    }
                }
                c.pipeline(request, if round > 0 { 1000 } else { 500 });
                round += 1;
            }
        })
    };
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = parse_value(&c.cmd(&["SCAN", &cursor, "MATCH", "stable:*", "COUNT", "20"]));
        let Value::Array(parts) = reply else {
            panic!("SCAN reply {reply:?}")
        };
        cursor = String::from_utf8(parts[0].as_bytes().expect("cursor").to_vec()).expect("utf-8");
        if let Value::Array(keys) = &parts[1] {
            for key in keys {
                seen.insert(key.as_bytes().expect("key").to_vec());
            }
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 100_000, "SCAN does not finish");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().expect("churn thread");
    let missing: Vec<usize> = (0..count)
        .filter(|i| !seen.contains(format!("stable:{i}").as_bytes()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} keys never returned, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(seen.len(), count, "only stable:* keys match");
    assert!(calls > 2, "a scan in {calls} calls did not cross shards");
}

/// `--keyspace-segments 1` (the benchmarks' single-table baseline) serves the
/// same keys the same way: every key set is read back, counted and scanned.
#[test]
fn one_segment_per_keyspace_serves_the_same_keys() {
    let s = Server::start(&["--threads", "2", "--keyspace-segments", "1"]);
    let mut c = s.client();
    for i in 0..2_000 {
        let key = format!("k{i}");
        assert_cmd!(c, ["SET", key.as_str(), "v"], b"+OK\r\n");
    }
    assert_cmd!(c, ["GET", "k1999"], b"$1\r\nv\r\n");
    assert_cmd!(c, ["DBSIZE"], b":2000\r\n");
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = parse_value(&c.cmd(&["SCAN", cursor.as_str(), "COUNT", "100"]));
        let Value::Array(parts) = reply else {
            panic!("SCAN replied {reply:?}");
        };
        let (Value::Bulk(next), Value::Array(keys)) = (&parts[0], &parts[1]) else {
            panic!("SCAN replied {parts:?}");
        };
        for key in keys {
            if let Value::Bulk(k) = key {
                seen.insert(k.clone());
            }
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2_000);
}
