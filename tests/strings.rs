//! String commands over the wire: SET (every option), GET, SETEX, PSETEX, SETNX.
//! Every expected reply was checked byte for byte against redis-server 7.0.

#[macro_use]
mod common;

use common::{bulk, int_of, Server};
use std::thread::sleep;
use std::time::Duration;

fn server() -> Server {
    Server::start(&["--threads", "2"])
}

// ---- SETEX / PSETEX: the examples from their documentation ----

#[test]
fn setex_doc_example_sets_value_and_ttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SETEX", "mykey", "10", "Hello, World!"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "mykey"], b"$13\r\nHello, World!\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "mykey"]));
    assert!((9..=10).contains(&ttl), "TTL after SETEX 10 was {ttl}");
    let pttl = int_of(&c.cmd(&["PTTL", "mykey"]));
    assert!(
        (9_000..=10_000).contains(&pttl),
        "PTTL after SETEX 10 was {pttl}"
    );
}

#[test]
fn setex_key_is_gone_after_its_ttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SETEX", "mykey", "1", "Hello, World!"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "mykey"], b"$13\r\nHello, World!\r\n");
    sleep(Duration::from_millis(1100));
    assert_cmd!(c, ["GET", "mykey"], b"$-1\r\n");
    assert_cmd!(c, ["EXISTS", "mykey"], b":0\r\n");
    assert_cmd!(c, ["TTL", "mykey"], b":-2\r\n");
}

#[test]
fn psetex_key_is_gone_after_its_ttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["PSETEX", "mykey", "300", "Hello"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "mykey"], b"$5\r\nHello\r\n");
    let pttl = int_of(&c.cmd(&["PTTL", "mykey"]));
    assert!(
        (1..=300).contains(&pttl),
        "PTTL after PSETEX 300 was {pttl}"
    );
    sleep(Duration::from_millis(400));
    assert_cmd!(c, ["GET", "mykey"], b"$-1\r\n");
    assert_cmd!(c, ["PTTL", "mykey"], b":-2\r\n");
}

#[test]
fn setex_api_token_and_user_session_examples() {
    let s = server();
    let mut c = s.client();
    let token = r#"{"token":"abc123","scope":"read:all","issued_at":1700000000}"#;
    let session = r#"{"user_id":42,"name":"Ada","roles":["admin","dev"]}"#;
    assert_cmd!(
        c,
        ["SETEX", "api_token:service_a", "3600", token],
        b"+OK\r\n"
    );
    assert_cmd!(c, ["SETEX", "user_session:42", "1800", session], b"+OK\r\n");
    assert_cmd!(c, ["GET", "api_token:service_a"], bulk(token));
    assert_cmd!(c, ["GET", "user_session:42"], bulk(session));
    let ttl = int_of(&c.cmd(&["TTL", "api_token:service_a"]));
    assert!((3599..=3600).contains(&ttl), "TTL was {ttl}");
    let ttl = int_of(&c.cmd(&["TTL", "user_session:42"]));
    assert!((1799..=1800).contains(&ttl), "TTL was {ttl}");
}

#[test]
fn psetex_session_and_search_results_examples() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(
        c,
        ["PSETEX", "session:12345", "1800000", "user_data"],
        b"+OK\r\n"
    );
    let results = r#"["result1","result2","result3"]"#;
    assert_cmd!(
        c,
        ["PSETEX", "search_results:user42", "300000", results],
        b"+OK\r\n"
    );
    assert_cmd!(c, ["GET", "session:12345"], b"$9\r\nuser_data\r\n");
    assert_cmd!(c, ["GET", "search_results:user42"], bulk(results));
    let pttl = int_of(&c.cmd(&["PTTL", "session:12345"]));
    assert!((1_790_000..=1_800_000).contains(&pttl), "PTTL was {pttl}");
    let ttl = int_of(&c.cmd(&["TTL", "search_results:user42"]));
    assert!((299..=300).contains(&ttl), "TTL was {ttl}");
}

#[test]
fn setex_overwrites_value_and_resets_ttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SETEX", "k", "1000", "old"], b"+OK\r\n");
    assert_cmd!(c, ["SETEX", "k", "20", "new"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$3\r\nnew\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!(
        (19..=20).contains(&ttl),
        "TTL after the second SETEX was {ttl}"
    );
    // A key without a TTL gets one; PSETEX over SETEX likewise.
    assert_cmd!(c, ["SET", "plain", "v"], b"+OK\r\n");
    assert_cmd!(c, ["SETEX", "plain", "50", "w"], b"+OK\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "plain"]));
    assert!((49..=50).contains(&ttl), "TTL was {ttl}");
    assert_cmd!(c, ["PSETEX", "plain", "5000", "x"], b"+OK\r\n");
    let pttl = int_of(&c.cmd(&["PTTL", "plain"]));
    assert!((4_000..=5_000).contains(&pttl), "PTTL was {pttl}");
    assert_cmd!(c, ["GET", "plain"], b"$1\r\nx\r\n");
}

#[test]
fn setex_and_psetex_errors() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(
        c,
        ["SETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "-1", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["PSETEX", "k", "-5", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_cmd!(
        c,
        ["PSETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "ten", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "1.5", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["PSETEX", "k", "", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "99999999999999999999", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    // Seconds that overflow once turned into a millisecond deadline.
    assert_cmd!(
        c,
        ["SETEX", "k", "9223372036854775807", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "9223372036854775", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["PSETEX", "k", "9223372036854775807", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "10"],
        b"-ERR wrong number of arguments for 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "10", "v", "extra"],
        b"-ERR wrong number of arguments for 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["PSETEX", "k"],
        b"-ERR wrong number of arguments for 'psetex' command\r\n"
    );
    // None of the failed calls created the key.
    assert_cmd!(c, ["EXISTS", "k"], b":0\r\n");
}

#[test]
fn failed_setex_leaves_existing_key_alone() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "keep"], b"+OK\r\n");
    assert_cmd!(
        c,
        ["SETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETEX", "k", "x", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_cmd!(c, ["GET", "k"], b"$4\r\nkeep\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
}

// ---- GET / SET basics ----

#[test]
fn get_and_set_basics() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["GET", "nokey"], b"$-1\r\n");
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_cmd!(c, ["SET", "k", "other"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$5\r\nother\r\n");
    assert_cmd!(c, ["SET", "empty", ""], b"+OK\r\n");
    assert_cmd!(c, ["GET", "empty"], b"$0\r\n\r\n");
    assert_cmd!(c, ["SET", "", "empty key"], b"+OK\r\n");
    assert_cmd!(c, ["GET", ""], b"$9\r\nempty key\r\n");
    // Command names are case-insensitive; keys are not.
    assert_cmd!(c, ["set", "Key", "upper"], b"+OK\r\n");
    assert_cmd!(c, ["gEt", "Key"], b"$5\r\nupper\r\n");
    assert_cmd!(c, ["GET", "key"], b"$-1\r\n");
}

#[test]
fn large_value_round_trips() {
    let s = server();
    let mut c = s.client();
    let value: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_cmd!(c, [&b"SET"[..], b"big", &value], b"+OK\r\n");
    assert_cmd!(c, ["GET", "big"], bulk(&value));
}

#[test]
fn get_and_set_arity() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(
        c,
        ["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_cmd!(
        c,
        ["GET", "a", "b"],
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_cmd!(
        c,
        ["SET"],
        b"-ERR wrong number of arguments for 'set' command\r\n"
    );
    assert_cmd!(
        c,
        ["SET", "k"],
        b"-ERR wrong number of arguments for 'set' command\r\n"
    );
}

// ---- SET options ----

#[test]
fn set_nx_and_xx() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v", "XX"], b"$-1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$-1\r\n");
    assert_cmd!(c, ["SET", "k", "v", "NX"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "k", "w", "NX"], b"$-1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_cmd!(c, ["SET", "k", "w", "XX"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nw\r\n");
    // Options are case-insensitive, and repeating one is allowed.
    assert_cmd!(c, ["SET", "k", "x", "nx"], b"$-1\r\n");
    assert_cmd!(c, ["SET", "k", "x", "xx", "XX"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "k", "y", "NX", "NX"], b"$-1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nx\r\n");
}

#[test]
fn set_get_option() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v1", "GET"], b"$-1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$2\r\nv1\r\n");
    assert_cmd!(c, ["SET", "k", "v2", "GET"], b"$2\r\nv1\r\n");
    assert_cmd!(c, ["GET", "k"], b"$2\r\nv2\r\n");
    assert_cmd!(c, ["SET", "k", "v3", "GET", "GET"], b"$2\r\nv2\r\n");
    // With XX on a missing key: nil, nothing set.
    assert_cmd!(c, ["SET", "missing", "v", "XX", "GET"], b"$-1\r\n");
    assert_cmd!(c, ["EXISTS", "missing"], b":0\r\n");
    // NX and GET together (allowed since 7.0): the old value comes back and
    // nothing is set.
    assert_cmd!(c, ["SET", "k", "v4", "NX", "GET"], b"$2\r\nv3\r\n");
    assert_cmd!(c, ["GET", "k"], b"$2\r\nv3\r\n");
    assert_cmd!(c, ["SET", "fresh", "v", "NX", "GET"], b"$-1\r\n");
    assert_cmd!(c, ["GET", "fresh"], b"$1\r\nv\r\n");
    // GET with an expiry.
    assert_cmd!(c, ["SET", "k", "v5", "EX", "100", "GET"], b"$2\r\nv3\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "TTL was {ttl}");
}

#[test]
fn set_ex_px_set_a_ttl_and_plain_set_clears_it() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v", "EX", "100"], b"+OK\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "TTL after EX 100 was {ttl}");
    assert_cmd!(c, ["SET", "k", "v", "PX", "50000"], b"+OK\r\n");
    let pttl = int_of(&c.cmd(&["PTTL", "k"]));
    assert!(
        (49_000..=50_000).contains(&pttl),
        "PTTL after PX 50000 was {pttl}"
    );
    // The last of repeated identical options wins.
    assert_cmd!(c, ["SET", "k", "v", "EX", "10", "EX", "200"], b"+OK\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!(
        (199..=200).contains(&ttl),
        "TTL after EX 10 EX 200 was {ttl}"
    );
    // A plain SET removes the TTL.
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["TTL", "k"], b":-1\r\n");
    // A TTL of 31,700 years.
    assert_cmd!(c, ["SET", "k", "v", "EX", "1000000000000"], b"+OK\r\n");
    assert_cmd!(c, ["TTL", "k"], b":1000000000000\r\n");
}

#[test]
fn set_keepttl() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v1", "EX", "100"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "k", "v2", "KEEPTTL"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$2\r\nv2\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "TTL after KEEPTTL was {ttl}");
    assert_cmd!(
        c,
        ["SET", "k", "v3", "keepttl", "XX", "GET"],
        b"$2\r\nv2\r\n"
    );
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!((99..=100).contains(&ttl), "TTL after KEEPTTL was {ttl}");
    // KEEPTTL on a key without a TTL, or a new key: no TTL.
    assert_cmd!(c, ["SET", "n", "v", "KEEPTTL"], b"+OK\r\n");
    assert_cmd!(c, ["TTL", "n"], b":-1\r\n");
}

#[test]
fn set_exat_pxat() {
    let s = server();
    let mut c = s.client();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let at = (now.as_secs() + 100).to_string();
    assert_cmd!(c, ["SET", "k", "v", "EXAT", &at], b"+OK\r\n");
    let ttl = int_of(&c.cmd(&["TTL", "k"]));
    assert!(
        (98..=100).contains(&ttl),
        "TTL after EXAT now+100 was {ttl}"
    );
    let at_ms = (now.as_millis() + 100_000).to_string();
    assert_cmd!(c, ["SET", "k2", "v", "PXAT", &at_ms], b"+OK\r\n");
    let pttl = int_of(&c.cmd(&["PTTL", "k2"]));
    assert!(
        (90_000..=100_000).contains(&pttl),
        "PTTL after PXAT now+100s was {pttl}"
    );
    // A deadline in the past: OK, and the key is gone at once.
    assert_cmd!(c, ["SET", "k", "v", "EXAT", "1"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$-1\r\n");
    assert_cmd!(c, ["EXISTS", "k"], b":0\r\n");
    assert_cmd!(c, ["SET", "k2", "v", "PXAT", "1"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k2"], b"$-1\r\n");
    assert_cmd!(c, ["TTL", "k2"], b":-2\r\n");
    assert_cmd!(c, ["SET", "k3", "v", "PXAT", "1000", "GET"], b"$-1\r\n");
    assert_cmd!(c, ["EXISTS", "k3"], b":0\r\n");
}

#[test]
fn set_expire_errors() {
    let s = server();
    let mut c = s.client();
    let invalid = b"-ERR invalid expire time in 'set' command\r\n";
    assert_cmd!(c, ["SET", "k", "v", "EX", "0"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "EX", "-1"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "PX", "0"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "PX", "-100"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "EXAT", "0"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "EXAT", "-1"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "PXAT", "0"], invalid);
    // Overflow of the millisecond deadline.
    assert_cmd!(c, ["SET", "k", "v", "EX", "9223372036854775807"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "EX", "9223372036854775"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "PX", "9223372036854775807"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "PX", "9223372036854775806"], invalid);
    assert_cmd!(c, ["SET", "k", "v", "EXAT", "9223372036854775807"], invalid);
    let not_int = b"-ERR value is not an integer or out of range\r\n";
    assert_cmd!(c, ["SET", "k", "v", "EX", "abc"], not_int);
    assert_cmd!(c, ["SET", "k", "v", "PX", "1.5"], not_int);
    assert_cmd!(c, ["SET", "k", "v", "EX", "99999999999999999999"], not_int);
    assert_cmd!(c, ["EXISTS", "k"], b":0\r\n");
}

#[test]
fn set_syntax_errors() {
    let s = server();
    let mut c = s.client();
    let syntax = b"-ERR syntax error\r\n";
    assert_cmd!(c, ["SET", "k", "v", "EX"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "PX"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "EXAT"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "FOO"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "NX", "XX"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "XX", "NX"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "EX", "10", "PX", "100"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "EX", "10", "EXAT", "100"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "EXAT", "10", "PXAT", "10"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "KEEPTTL", "EX", "10"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "PX", "10", "KEEPTTL"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "GET", "EX"], syntax);
    assert_cmd!(c, ["SET", "k", "v", "10"], syntax);
    // A syntax error wins over a bad number that comes before it.
    assert_cmd!(c, ["SET", "k", "v", "EX", "abc", "PX", "5"], syntax);
    assert_cmd!(c, ["EXISTS", "k"], b":0\r\n");
}

// ---- SETNX ----

#[test]
fn setnx() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SETNX", "a", "1"], b":1\r\n");
    assert_cmd!(c, ["SETNX", "a", "2"], b":0\r\n");
    assert_cmd!(c, ["GET", "a"], b"$1\r\n1\r\n");
    assert_cmd!(
        c,
        ["SETNX", "a"],
        b"-ERR wrong number of arguments for 'setnx' command\r\n"
    );
    assert_cmd!(
        c,
        ["SETNX", "a", "1", "2"],
        b"-ERR wrong number of arguments for 'setnx' command\r\n"
    );
    // An expired key counts as missing.
    assert_cmd!(c, ["PSETEX", "t", "50", "old"], b"+OK\r\n");
    sleep(Duration::from_millis(120));
    assert_cmd!(c, ["SETNX", "t", "new"], b":1\r\n");
    assert_cmd!(c, ["GET", "t"], b"$3\r\nnew\r\n");
    assert_cmd!(c, ["TTL", "t"], b":-1\r\n");
}
