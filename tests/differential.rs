//! Differential tests: the same commands, and the same raw bytes, sent to a
//! real `redis-server` and to Mayfly side by side; every reply must match
//! byte for byte. Needs `redis-server` on PATH (skipped with a notice when it
//! is missing, unless `CI` is set).

#[macro_use]
mod common;

use common::{encode, show, split_args, Client, RedisServer, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One command per line, split like redis-cli does: blanks separate
/// arguments, double quotes group them and understand `\r \n \t \0 \\ \" \xHH`.
/// `#` starts a comment line. A line starting with `~` is sent to both
/// servers but its reply is not compared (it is not deterministic).
/// Replies that depend on time, ids or the command table are left out.
const SCRIPT: &str = r#"
# connection
PING
ping
PING hello
PING ""
PING a b
ECHO hello
ECHO ""
ECHO "bin\r\n\x00ary"
ECHO
ECHO a b

# GET / SET
GET missing
SET k v
GET k
set k V
GET k
SET "" "empty key"
GET ""
SET k v2 GET
SET k v3 NX
SET k v3 XX
GET k
SET k v4 NX GET
GET k
SET fresh v NX GET
SET missing2 v XX GET
SET missing2 v XX
EXISTS missing2
SET k v EX 100
SET k v PX 100000
SET k v EX 10 EX 20
SET k v KEEPTTL
SET k v keepttl xx get
SET k v NX NX
SET k v GET GET
SET k v EXAT 1
GET k
SET k v PXAT 1
EXISTS k
SET k v EX 0
SET k v EX -1
SET k v PX 0
SET k v PX -100
SET k v EXAT 0
SET k v PXAT -5
SET k v EX 9223372036854775807
SET k v EX 9223372036854775
SET k v PX 9223372036854775807
SET k v EXAT 9223372036854775807
SET k v EX abc
SET k v EX 1.5
SET k v EX 99999999999999999999
SET k v EX ""
SET k v EX
SET k v PX
SET k v PXAT
SET k v NX XX
SET k v XX NX
SET k v EX 10 PX 10
SET k v KEEPTTL EX 10
SET k v PX 10 KEEPTTL
SET k v PXAT 10 EXAT 10
SET k v FOO
SET k v 10
SET k v GET EX
SET k v EX abc PX 5
EXISTS k
SET k
SET
GET
GET a b
SET "bin\r\nkey\x00" "bin\x00value\r\n"
GET "bin\r\nkey\x00"

# SETNX / SETEX / PSETEX
SETNX n 1
SETNX n 2
GET n
SETNX n
SETNX n 1 2
SETEX mykey 10 "Hello, World!"
GET mykey
SETEX api_token 3600 "{\"token\":\"abc123\"}"
GET api_token
SETEX mykey 0 v
SETEX mykey -1 v
PSETEX mykey -5 v
PSETEX mykey 0 v
SETEX mykey ten v
SETEX mykey 1.5 v
SETEX mykey "" v
SETEX mykey 99999999999999999999 v
SETEX mykey 9223372036854775807 v
SETEX mykey 9223372036854775 v
PSETEX mykey 9223372036854775807 v
SETEX mykey 10
SETEX mykey 10 v extra
PSETEX mykey
GET mykey
PSETEX session:12345 1800000 user_data
GET session:12345
PSETEX search_results:user42 300000 "[\"result1\",\"result2\"]"
GET search_results:user42

# DEL / EXISTS
DEL k n missing
DEL session:12345 session:12345
DEL
EXISTS mykey mykey missing api_token
EXISTS
DEL mykey api_token search_results:user42 fresh "" "bin\r\nkey\x00"

# TTL / PTTL / EXPIRE / PEXPIRE / PERSIST
TTL missing
PTTL missing
SET plain v
TTL plain
PTTL plain
TTL
TTL a b
PTTL
EXPIRE missing 100
PEXPIRE missing 100
EXPIRE plain 100
PERSIST plain
PERSIST plain
PERSIST missing
PERSIST
PERSIST a b
TTL plain
EXPIRE plain abc
PEXPIRE plain 1.5
EXPIRE plain
PEXPIRE plain
EXPIRE plain 9223372036854775807
EXPIRE plain 9223372036854775
EXPIRE plain -9223372036854775808
PEXPIRE plain 9223372036854775807
TTL plain
EXPIRE plain 100 XX
EXPIRE plain 100 NX
EXPIRE plain 200 NX
EXPIRE plain 200 XX
EXPIRE plain 100 GT
EXPIRE plain 300 LT
EXPIRE plain 300 GT
PEXPIRE plain 250000 lt
EXPIRE plain 10 NX XX
EXPIRE plain 10 GT LT
EXPIRE plain 10 NX GT
EXPIRE plain 10 FOO
EXPIRE plain -1
EXISTS plain
TTL plain
SET p v
PEXPIRE p 0
GET p
SET p v
PEXPIRE p -1000
EXPIRE p -1

# DBSIZE / SELECT / FLUSHDB / FLUSHALL
DBSIZE
DBSIZE x
SELECT 1
DBSIZE
SET k in1
SELECT 16
SELECT -1
SELECT abc
SELECT 1.0
SELECT ""
SELECT
SELECT 1 2
GET k
SELECT 15
EXISTS k
SELECT 0
GET k
SET k in0
FLUSHDB
DBSIZE
SELECT 1
GET k
SELECT 0
SET a 1
FLUSHALL
DBSIZE
SELECT 1
DBSIZE
SELECT 0
FLUSHDB x
FLUSHDB SYNC
FLUSHDB ASYNC
FLUSHDB SYNC ASYNC
FLUSHALL SYNC
FLUSHALL ASYNC
FLUSHALL x

# EXPIREAT / PEXPIREAT / EXPIRETIME / PEXPIRETIME
EXPIRETIME nokey
PEXPIRETIME nokey
SET t v
EXPIRETIME t
EXPIREAT t 4000000000
EXPIRETIME t
PEXPIRETIME t
PEXPIREAT t 4000000000499 GT
EXPIRETIME t
PEXPIREAT t 4000000000500
EXPIRETIME t
EXPIREAT t 4000000001 LT
EXPIREAT t 3000000000 LT
PEXPIRETIME t
EXPIREAT t 9223372036854776
EXPIREAT t -9223372036854776
EXPIREAT t abc foo
EXPIREAT t 1 GT LT
EXPIREAT t 1 NX GT
EXPIREAT t 1 bar
EXPIREAT t
EXPIRETIME t x
EXPIREAT t -5
EXISTS t
SET t v
EXPIREAT t 5000000000 GT
EXPIREAT t 5000000000 LT

# TOUCH / MOVE / SWAPDB
SET t v
TOUCH t t nokey
TOUCH
MOVE t 0
MOVE nokey 0
MOVE t 16
MOVE t -1
MOVE t abc
MOVE t 2147483648
MOVE nokey 1
EXPIREAT t 4000000000
MOVE t 1
EXISTS t
SELECT 1
EXPIRETIME t
SET t v1
SELECT 0
SET t v0
MOVE t 1
GET t
SWAPDB 0 1
GET t
SWAPDB 0 1
GET t
SWAPDB 0 0
SWAPDB a b
SWAPDB 0 b
SWAPDB 2147483648 0
SWAPDB -1 0
SWAPDB 0 -1
SWAPDB 0
MOVE t 1 x

# RENAME / RENAMENX / COPY (keys tagged to share a shard)
RENAME {r}a {r}b
RENAME {r}a {r}a
RENAMENX {r}a {r}b
SET {r}a 1
RENAME {r}a {r}a
RENAMENX {r}a {r}a
EXPIREAT {r}a 4000000000
RENAME {r}a {r}b
EXISTS {r}a
EXPIRETIME {r}b
SET {r}c 3
RENAMENX {r}b {r}c
RENAME {r}b {r}c
GET {r}c
EXPIRETIME {r}c
SET {r}d 4
RENAME {r}d {r}c
EXPIRETIME {r}c
RENAMENX {r}c {r}e
RENAME {r}a
COPY {r}e {r}f
EXPIREAT {r}e 4000000000
COPY {r}e {r}f
COPY {r}e {r}f
COPY {r}e {r}f REPLACE
EXPIRETIME {r}f
COPY {r}e {r}e
COPY nokey nokey
COPY {r}e {r}e DB 1
COPY {r}e {r}f DB
COPY {r}e {r}f foo
COPY {r}e {r}f DB 16
COPY {r}e {r}f DB -1
COPY {r}e {r}f DB abc
COPY {r}e {r}f DB 2147483648
COPY {r}e {r}e foo DB 16
COPY {r}e {r}e DB 16 foo
COPY {r}e {r}f replace replace db 1 db 2
COPY {r}e
FLUSHALL

# APPEND / STRLEN / SETRANGE / GETRANGE / SUBSTR
APPEND s Hello
APPEND s " World"
STRLEN s
STRLEN missing
APPEND empty ""
EXISTS empty
SETRANGE s 6 Redis
SETRANGE s 13 "!"
GET s
SETRANGE s 0 ""
SETRANGE s -1 x
SETRANGE s 536870912 x
SETRANGE s 9223372036854775807 x
SETRANGE s x x
SETRANGE nos 5 ""
EXISTS nos
SETRANGE nos 2 ab
GET nos
GETRANGE s 0 3
GETRANGE s -3 -1
GETRANGE s 10 100
GETRANGE s 3 1
GETRANGE s -1 -5
GETRANGE s -9223372036854775808 9223372036854775807
GETRANGE missing 0 -1
GETRANGE s a 1
SUBSTR s 1 2

# GETSET / GETDEL / GETEX
GETSET g a
GETSET g b
GETDEL g
GETDEL g
SET g v
GETEX g
GETEX g EX 100
TTL g
GETEX g PERSIST
TTL g
GETEX g EX
GETEX g EX 0
GETEX g EX abc
GETEX g EX 10 PX 10
GETEX g PERSIST EX 10
GETEX g KEEPTTL
GETEX missing EX abc
GETEX g PXAT 1
EXISTS g

# INCR / DECR / INCRBY / DECRBY / INCRBYFLOAT
INCR n
INCRBY n 100000
DECR n
DECRBY n -5
DECRBY n -9223372036854775808
INCRBY n abc
SET n 9223372036854775807
INCR n
SET n " 1"
INCR n
SET f 10.5
INCRBYFLOAT f 0.1
INCRBYFLOAT f -5.6
INCRBYFLOAT f 5.0e3
INCRBYFLOAT f 1.5e-7
INCRBYFLOAT f abc
INCRBYFLOAT f inf
INCRBYFLOAT f 0x1p-3
INCRBYFLOAT f 1e308
INCRBYFLOAT f 1e4932
INCRBYFLOAT f 1e4932
INCRBYFLOAT newf 3.25
GET newf

# TYPE / OBJECT / LCS
TYPE s
TYPE missing
SET o 123
OBJECT ENCODING o
OBJECT REFCOUNT o
SET o 12345
OBJECT REFCOUNT o
APPEND o 6
OBJECT ENCODING o
INCRBYFLOAT o 1
OBJECT ENCODING o
OBJECT ENCODING missing
OBJECT FREQ o
OBJECT HELP
OBJECT foo o
OBJECT ENCODING
MEMORY HELP
MEMORY USAGE missing
MEMORY USAGE o SAMPLES -1
MEMORY foo
SET {l}1 ohmytext
SET {l}2 mynewtext
LCS {l}1 {l}2
LCS {l}1 {l}2 LEN
LCS {l}1 {l}2 IDX MINMATCHLEN 4 WITHMATCHLEN
LCS {l}1 {l}2 IDX
LCS {l}1 {l}2 LEN IDX
LCS {l}1 {l}2 FOO
LCS {l}1

# errors for unknown commands and subcommands
FOO a b
FOO
foo bar
""
XYZZY "a b" "c\nd"
FOO aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b
FOO a1 a2 a3 a4 a5 a6 a7 a8 a9 b1 b2 b3 b4 b5 b6 b7 b8 b9 c1 c2 c3 c4 c5 c6 c7 c8 c9 d1 d2 d3 d4 d5 d6 d7 d8 d9 e1 e2 e3 e4 e5 e6 e7 e8 e9
COMMAND INFO nosuchcommand
COMMAND DOCS nosuchcommand
COMMAND FOO
COMMAND COUNT x
INFO nosuchsection
HELLO 4
HELLO 1
HELLO -3
HELLO abc
HELLO 3.0
HELLO 3 foo
GET missing

# RESP3
~HELLO 3
GET missing
SET r v GET
SET r v2 GET
SET r v NX
SET r v XX GET
EXISTS r missing
TTL missing
COMMAND INFO nosuchcommand
COMMAND DOCS nosuchcommand
INFO nosuchsection
FOO bar
SET r v EX 0
LCS {l}1 {l}2 IDX WITHMATCHLEN
OBJECT HELP
HELLO 4
~HELLO 2
GET missing
SET r v NX
QUIT
"#;

fn read_or_describe(client: &mut Client) -> Result<Vec<u8>, String> {
    client
        .try_read_reply()
        .map_err(|e| format!("<no reply: {e}>"))
}

#[test]
fn same_replies_as_redis_for_every_command() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mayfly = Server::start(&["--threads", "2"]);
    let mut r = redis.client();
    let mut m = mayfly.client();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for line in SCRIPT.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (compare, command) = match line.strip_prefix('~') {
            Some(rest) => (false, rest),
            None => (true, line),
        };
        let args = split_args(command);
        r.send(&args);
        m.send(&args);
        let from_redis = read_or_describe(&mut r);
        let from_mayfly = read_or_describe(&mut m);
        let (from_redis, from_mayfly) = match (from_redis, from_mayfly) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let show_side = |x: &Result<Vec<u8>, String>| match x {
                    Ok(bytes) => show(bytes),
                    Err(e) => e.clone(),
                };
                mismatches.push(format!(
                    "{line}\n     redis: {}\n    mayfly: {}",
                    show_side(&a),
                    show_side(&b)
                ));
                // The two connections are out of step now: stop here.
                break;
            }
        };
        if compare {
            compared += 1;
            if from_redis != from_mayfly {
                mismatches.push(format!(
                    "{line}\n     redis: {}\n    mayfly: {}",
                    show(&from_redis),
                    show(&from_mayfly)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} replies differ from Redis:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(compared >= 150, "only {compared} commands compared");
    // QUIT closed both connections.
    r.expect_closed();
    m.expect_closed();
}

const DONE: &[u8] = b"$8\r\n__done__\r\n";

/// Sends `input` on a fresh connection. If `closes`, reads until the server
/// closes; otherwise follows it with `ECHO __done__` and reads up to its reply.
fn raw_exchange(port: u16, input: &[u8], closes: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = input.to_vec();
    if !closes {
        request.extend(encode(&["ECHO", "__done__"]));
    }
    // The server may close before reading everything.
    let _ = stream.write_all(&request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if !closes && out.ends_with(DONE) {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                out.extend_from_slice(b"<reset>");
                break;
            }
            Err(e) => {
                out.extend_from_slice(format!("<{e}>").as_bytes());
                break;
            }
        }
    }
    // A reset and an orderly close look the same to a client that got the reply.
    if out.ends_with(b"<reset>") {
        out.truncate(out.len() - b"<reset>".len());
        out.extend_from_slice(b"<closed>");
    }
    out
}

#[test]
fn same_bytes_as_redis_for_raw_protocol_input() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mayfly = Server::start(&["--threads", "2"]);
    let too_long = vec![b'A'; 64 * 1024 + 1];
    let cases: Vec<(&[u8], bool)> = vec![
        (b"PING\r\n", false),
        (b"PING\n", false),
        (b"\r\n\n  ECHO   x  \r\n", false),
        (b"SET a \"b c\"\r\nGET a\r\n", false),
        (b"ECHO 'x y'\r\n", false),
        (b"ECHO \"a\\x41\\n\"\r\n", false),
        (b"ECHO \"\"\r\n", false),
        (b"$abc\r\n", false),
        (b"+PING\r\n", false),
        (b":1\r\n", false),
        (b"*0\r\n*-1\r\nPING\r\n", false),
        (
            b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n",
            false,
        ),
        (b"*1\r\n$0\r\n\r\n", false),
        (b"FOO a b\r\nGET\r\n", false),
        (b"*1\r\n+foo\r\n", true),
        (b"*2\r\n$4\r\nECHO\r\n:1\r\n", true),
        (b"*1\r\n$abc\r\n", true),
        (b"*1\r\n$-1\r\n", true),
        (b"*1\r\n$ 4\r\n", true),
        (b"*1\r\n$536870913\r\n", true),
        (b"*abc\r\n", true),
        (b"*+1\r\n", true),
        (b"*2147483648\r\n", true),
        (b"SET a \"b\r\n", true),
        (b"GET \"a\"b\r\n", true),
        (b"*1\r\n$4\r\nPING\r\n*1\r\n+x\r\n", true),
        (b"QUIT\r\nPING\r\n", true),
        (b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n", true),
        (&too_long, true),
    ];
    let mut mismatches = Vec::new();
    for (input, closes) in &cases {
        let from_redis = raw_exchange(redis.port, input, *closes);
        let from_mayfly = raw_exchange(mayfly.port(), input, *closes);
        if from_redis != from_mayfly {
            mismatches.push(format!(
                "{}\n     redis: {}\n    mayfly: {}",
                show(&input[..input.len().min(80)]),
                show(&from_redis),
                show(&from_mayfly)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} raw exchanges differ from Redis:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    // Both servers still hold their data and serve new connections.
    let mut r = redis.client();
    let mut m = mayfly.client();
    assert_eq!(r.cmd(&["GET", "a"]), m.cmd(&["GET", "a"]));
}
