//! Expiry: a key is invisible from the moment its deadline passes, and keys
//! nobody touches again are reclaimed in the background.

#[macro_use]
mod common;

use common::{encode, info_field, shard_stats, show, text_of, wait_for, Server};
use std::thread::sleep;
use std::time::{Duration, Instant};

#[test]
fn untouched_expired_keys_are_reclaimed() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    let count = 20_000;
    let mut request = Vec::new();
    for i in 0..count {
        request.extend(encode(&["PSETEX", &format!("volatile:{i}"), "300", "v"]));
    }
    let replies = c.pipeline(request, count);
    // Every key's deadline is at most 300 ms after its reply arrived.
    let deadline = Instant::now() + Duration::from_millis(300);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply, b"+OK\r\n", "reply to PSETEX #{i}: {}", show(reply));
    }
    let keyspace = text_of(&c.cmd(&["INFO", "keyspace"]));
    assert!(info_field(&keyspace, "db0").is_some(), "{keyspace:?}");
    // A key without a TTL, elsewhere, must survive the reaping.
    let mut other = s.client();
    assert_cmd!(other, ["SELECT", "1"], b"+OK\r\n");
    assert_cmd!(other, ["SET", "stays", "v"], b"+OK\r\n");

    // Touch no key. Poll INFO, whose key counts (as Redis's) include keys
    // past their deadline that are not reclaimed yet; DBSIZE is left for
    // the end, as it might reclaim due keys itself.
    let now = Instant::now();
    if now < deadline {
        sleep(deadline - now);
    }
    let mut keyspace = String::new();
    let reclaimed = wait_for(Duration::from_secs(3), || {
        keyspace = text_of(&c.cmd(&["INFO", "keyspace"]));
        info_field(&keyspace, "db0").is_none()
    });
    assert!(
        reclaimed,
        "{count} expired keys not reclaimed 3 s after their deadline: {keyspace:?}"
    );
    assert_cmd!(c, ["DBSIZE"], b":0\r\n");
    let db1 = info_field(&keyspace, "db1").unwrap_or_else(|| panic!("{keyspace:?}"));
    assert!(db1.starts_with("keys=1,expires=0,"), "db1:{db1}");
    assert_cmd!(other, ["GET", "stays"], b"$1\r\nv\r\n");
    assert_cmd!(other, ["DEL", "stays"], b":1\r\n");

    if !s.is_external() {
        let info = text_of(&c.cmd(&["INFO"]));
        let shards = shard_stats(&info).unwrap_or_else(|| panic!("no # Shards section:\n{info}"));
        assert_eq!(
            shards,
            vec![(0, 0), (0, 0)],
            "every shard is empty:\n{info}"
        );
    }
}

#[test]
fn key_past_its_deadline_is_invisible_at_once() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    let count = 1000;
    let mut request = Vec::new();
    for i in 0..count {
        request.extend(encode(&["PSETEX", &format!("short:{i}"), "200", "v"]));
    }
    for reply in c.pipeline(request, count) {
        assert_eq!(reply, b"+OK\r\n");
    }
    assert_cmd!(c, ["GET", "short:0"], b"$1\r\nv\r\n");
    sleep(Duration::from_millis(250));
    // Past the deadline every read sees nothing, whether or not the key has
    // been reclaimed yet.
    let mut request = Vec::new();
    for i in 0..count {
        let k = format!("short:{i}");
        request.extend(encode(&["GET", &k]));
        request.extend(encode(&["EXISTS", &k]));
        request.extend(encode(&["TTL", &k]));
        request.extend(encode(&["PTTL", &k]));
    }
    let replies = c.pipeline(request, 4 * count);
    for (i, four) in replies.chunks(4).enumerate() {
        assert_eq!(four[0], b"$-1\r\n", "GET short:{i}: {}", show(&four[0]));
        assert_eq!(four[1], b":0\r\n", "EXISTS short:{i}: {}", show(&four[1]));
        assert_eq!(four[2], b":-2\r\n", "TTL short:{i}: {}", show(&four[2]));
        assert_eq!(four[3], b":-2\r\n", "PTTL short:{i}: {}", show(&four[3]));
    }
}

#[test]
fn expired_key_can_be_written_again() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    assert_cmd!(c, ["PSETEX", "k", "50", "old"], b"+OK\r\n");
    sleep(Duration::from_millis(120));
    assert_cmd!(c, ["SET", "k", "new", "XX"], b"$-1\r\n");
    assert_cmd!(c, ["SET", "k", "new", "GET"], b"$-1\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    assert_cmd!(c, ["PSETEX", "k", "50", "again"], b"+OK\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":1\r\n");
    sleep(Duration::from_millis(120));
    assert_cmd!(c, ["GET", "k"], b"$5\r\nagain\r\n");
    assert_cmd!(c, ["PEXPIRE", "k", "50"], b":1\r\n");
    sleep(Duration::from_millis(120));
    assert_cmd!(c, ["EXPIRE", "k", "100"], b":0\r\n");
    assert_cmd!(c, ["PERSIST", "k"], b":0\r\n");
    assert_cmd!(c, ["DEL", "k"], b":0\r\n");
}

/// DEBUG SET-ACTIVE-EXPIRE 0 stops the background reclaiming on every shard
/// (expired keys stay counted in INFO, yet are invisible to reads); 1
/// brings it back.
#[test]
fn debug_set_active_expire_turns_the_timer_wheel_off_and_on() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    assert_cmd!(c, ["DEBUG", "SET-ACTIVE-EXPIRE", "0"], b"+OK\r\n");
    let count = 200;
    let mut request = Vec::new();
    for i in 0..count {
        request.extend(encode(&["PSETEX", &format!("paused:{i}"), "50", "v"]));
    }
    c.pipeline(request, count);
    sleep(Duration::from_millis(300));
    let keyspace = text_of(&c.cmd(&["INFO", "keyspace"]));
    let db0 = info_field(&keyspace, "db0").unwrap_or_else(|| panic!("{keyspace:?}"));
    assert!(
        db0.starts_with(&format!("keys={count},expires={count},")),
        "db0:{db0}"
    );
    assert_cmd!(c, ["GET", "paused:0"], b"$-1\r\n");
    assert_cmd!(c, ["DEBUG", "SET-ACTIVE-EXPIRE", "1"], b"+OK\r\n");
    let reclaimed = wait_for(Duration::from_secs(3), || {
        let keyspace = text_of(&c.cmd(&["INFO", "keyspace"]));
        info_field(&keyspace, "db0").is_none()
    });
    assert!(
        reclaimed,
        "keys not reclaimed once active expiry is back on"
    );
    assert_cmd!(
        c,
        ["DEBUG", "SET-ACTIVE-EXPIRE"],
        b"-ERR unknown subcommand or wrong number of arguments for 'SET-ACTIVE-EXPIRE'. Try DEBUG HELP.\r\n"
    );
}
