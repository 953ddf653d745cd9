//! Connection and server commands over the wire: PING, ECHO, HELLO (RESP3),
//! QUIT, COMMAND, INFO, and the error for unknown commands. Every expected
//! reply was checked byte for byte against redis-server 7.0.

#[macro_use]
mod common;

use common::{int_of, parse_value, shard_stats, show, text_of, Server, Value};

fn server() -> Server {
    Server::start(&["--threads", "2"])
}

#[test]
fn ping() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["PING"], b"+PONG\r\n");
    assert_cmd!(c, ["ping"], b"+PONG\r\n");
    assert_cmd!(c, ["PING", "hello world"], b"$11\r\nhello world\r\n");
    assert_cmd!(c, ["PING", ""], b"$0\r\n\r\n");
    assert_cmd!(
        c,
        ["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n"
    );
}

#[test]
fn echo() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["ECHO", "hello"], b"$5\r\nhello\r\n");
    assert_cmd!(c, ["ECHO", ""], b"$0\r\n\r\n");
    assert_cmd!(c, [&b"ECHO"[..], b"a\r\nb\x00c"], b"$6\r\na\r\nb\x00c\r\n");
    assert_cmd!(
        c,
        ["ECHO"],
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_cmd!(
        c,
        ["ECHO", "a", "b"],
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
}

#[test]
fn unknown_command_error_names_command_and_args() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(
        c,
        ["FOO", "a", "b"],
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_cmd!(
        c,
        ["FOO"],
        b"-ERR unknown command 'FOO', with args beginning with: \r\n"
    );
    assert_cmd!(
        c,
        ["foo", "bar"],
        b"-ERR unknown command 'foo', with args beginning with: 'bar' \r\n"
    );
    assert_cmd!(
        c,
        [""],
        b"-ERR unknown command '', with args beginning with: \r\n"
    );
    // Commands Mayfly does not have yet get the same error as any unknown name.
    assert_cmd!(
        c,
        ["XYZZY", "key", "1"],
        b"-ERR unknown command 'XYZZY', with args beginning with: 'key' '1' \r\n"
    );
    // The connection keeps working.
    assert_cmd!(c, ["PING"], b"+PONG\r\n");
}

#[test]
fn unknown_command_error_truncates_long_input() {
    let s = server();
    let mut c = s.client();
    let long_arg = "a".repeat(200);
    let mut expected = b"-ERR unknown command 'FOO', with args beginning with: '".to_vec();
    expected.extend_from_slice("a".repeat(128).as_bytes());
    expected.extend_from_slice(b"' \r\n");
    assert_cmd!(c, ["FOO", &long_arg, "b"], expected);
    let long_name = "X".repeat(200);
    let mut expected = b"-ERR unknown command '".to_vec();
    expected.extend_from_slice("X".repeat(128).as_bytes());
    expected.extend_from_slice(b"', with args beginning with: 'y' \r\n");
    assert_cmd!(c, [&long_name, "y"], expected);
    // The list of arguments stops at 128 bytes, cutting the last one short:
    // 21 arguments take 126 bytes, so only 2 bytes of the 22nd are shown.
    let many: Vec<String> = (0..60).map(|i| format!("a{i:02}")).collect();
    let mut args = vec!["FOO".to_string()];
    args.extend(many.iter().cloned());
    let listed: String = many[..21].iter().map(|a| format!("'{a}' ")).collect();
    let expected =
        format!("-ERR unknown command 'FOO', with args beginning with: {listed}'a2' \r\n");
    common::assert_reply(&c.cmd(&args), expected.as_bytes());
    // Newlines in an argument are shown as spaces.
    assert_cmd!(
        c,
        ["FOO", "a\nb", "c\r\nd"],
        b"-ERR unknown command 'FOO', with args beginning with: 'a b' 'c  d' \r\n"
    );
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_cmd!(c, ["QUIT"], b"+OK\r\n");
    c.expect_closed();
    // Commands pipelined after QUIT are not run.
    let mut c = s.client();
    c.send_raw(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nlater\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.expect_closed();
    let mut c = s.client();
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    // QUIT takes any arguments.
    assert_cmd!(c, ["quit", "x", "y"], b"+OK\r\n");
    c.expect_closed();
    // A protocol error after QUIT in the same write is not answered either.
    let mut c = s.client();
    c.send_raw(b"QUIT\r\n*x\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.expect_closed();
}

#[test]
fn hello_3_switches_to_resp3() {
    let s = server();
    let mut c = s.client();
    let reply = c.cmd(&["HELLO", "3"]);
    assert!(
        reply.starts_with(b"%7\r\n"),
        "HELLO 3 must be a map of 7: {}",
        show(&reply)
    );
    let Value::Map(pairs) = parse_value(&reply) else {
        unreachable!()
    };
    let keys: Vec<&[u8]> = pairs
        .iter()
        .map(|(k, _)| k.as_bytes().expect("bulk key"))
        .collect();
    let expected_keys: [&[u8]; 7] = [
        b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules",
    ];
    assert_eq!(keys, expected_keys, "HELLO 3 keys: {}", show(&reply));
    let map = Value::Map(pairs);
    assert!(
        matches!(map.get("server"), Some(Value::Bulk(b)) if !b.is_empty()),
        "{}",
        show(&reply)
    );
    assert!(
        matches!(map.get("version"), Some(Value::Bulk(b)) if !b.is_empty()),
        "{}",
        show(&reply)
    );
    assert_eq!(map.get("proto"), Some(&Value::Int(3)));
    assert!(
        matches!(map.get("id"), Some(Value::Int(id)) if *id > 0),
        "{}",
        show(&reply)
    );
    assert_eq!(map.get("mode"), Some(&Value::Bulk(b"standalone".to_vec())));
    assert_eq!(map.get("role"), Some(&Value::Bulk(b"master".to_vec())));
    assert_eq!(map.get("modules"), Some(&Value::Array(vec![])));

    // RESP3 replies from now on.
    assert_cmd!(c, ["GET", "nokey"], b"_\r\n");
    assert_cmd!(c, ["SET", "k", "v", "GET"], b"_\r\n");
    assert_cmd!(c, ["SET", "k2", "v", "NX"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "k2", "v", "NX"], b"_\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_cmd!(c, ["EXISTS", "k"], b":1\r\n");
    assert_cmd!(c, ["COMMAND", "INFO", "nosuchcommand"], b"*1\r\n_\r\n");
    assert_cmd!(c, ["COMMAND", "DOCS", "nosuchcommand"], b"%0\r\n");
    // INFO is a verbatim string in RESP3.
    let info = c.cmd(&["INFO"]);
    assert!(
        info.starts_with(b"="),
        "INFO in RESP3 must be verbatim: {}",
        show(&info)
    );
    assert!(
        matches!(parse_value(&info), Value::Verbatim(f, _) if f == "txt"),
        "{}",
        show(&info)
    );
    // HELLO without a version reports the current protocol.
    let reply = c.cmd(&["HELLO"]);
    assert!(reply.starts_with(b"%7\r\n"), "{}", show(&reply));
    assert_eq!(parse_value(&reply).get("proto"), Some(&Value::Int(3)));
    // Back to RESP2.
    let reply = c.cmd(&["HELLO", "2"]);
    assert!(
        reply.starts_with(b"*14\r\n"),
        "HELLO 2 must be an array of 14: {}",
        show(&reply)
    );
    assert_eq!(parse_value(&reply).get("proto"), Some(&Value::Int(2)));
    assert_cmd!(c, ["GET", "nokey"], b"$-1\r\n");
    // RESP3 is per connection.
    let mut other = s.client();
    assert_cmd!(other, ["GET", "nokey"], b"$-1\r\n");
}

#[test]
fn hello_errors() {
    let s = server();
    let mut c = s.client();
    assert_cmd!(
        c,
        ["HELLO", "4"],
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_cmd!(
        c,
        ["HELLO", "1"],
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_cmd!(
        c,
        ["HELLO", "-3"],
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_cmd!(
        c,
        ["HELLO", "abc"],
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["HELLO", "3.0"],
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_cmd!(
        c,
        ["HELLO", "3", "foo"],
        b"-ERR Syntax error in HELLO option 'foo'\r\n"
    );
    // A refused HELLO leaves the protocol unchanged.
    assert_cmd!(c, ["GET", "nokey"], b"$-1\r\n");
}

#[test]
fn command_count_info_docs() {
    let s = server();
    let mut c = s.client();
    let count = int_of(&c.cmd(&["COMMAND", "COUNT"]));
    assert!(count >= 20, "COMMAND COUNT = {count}");
    assert_cmd!(
        c,
        ["COMMAND", "COUNT", "x"],
        b"-ERR wrong number of arguments for 'command|count' command\r\n"
    );
    assert_cmd!(
        c,
        ["COMMAND", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"
    );

    // COMMAND: one entry per command.
    let all = c.cmd(&["COMMAND"]);
    let Value::Array(entries) = parse_value(&all) else {
        panic!("COMMAND: {}", show(&all))
    };
    assert_eq!(
        entries.len() as i64,
        count,
        "COMMAND has as many entries as COMMAND COUNT"
    );

    // COMMAND INFO: Redis 7's ten fields per command.
    let info = c.cmd(&["COMMAND", "INFO", "get"]);
    assert!(
        info.starts_with(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n"),
        "COMMAND INFO get: {}",
        show(&info)
    );
    let Value::Array(outer) = parse_value(&info) else {
        unreachable!()
    };
    let Value::Array(fields) = &outer[0] else {
        panic!("{}", show(&info))
    };
    let Value::Array(flags) = &fields[2] else {
        panic!("flags: {}", show(&info))
    };
    assert!(
        flags.contains(&Value::Simple("readonly".into())),
        "flags of get: {flags:?}"
    );
    assert_eq!(
        fields[3..6],
        [Value::Int(1), Value::Int(1), Value::Int(1)],
        "key positions of get"
    );
    let info = c.cmd(&["COMMAND", "INFO", "set", "nosuchcommand", "ttl"]);
    let Value::Array(entries) = parse_value(&info) else {
        panic!("{}", show(&info))
    };
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1], Value::Null);
    let Value::Array(set) = &entries[0] else {
        panic!("{}", show(&info))
    };
    assert_eq!(set[..2], [Value::Bulk(b"set".to_vec()), Value::Int(-3)]);
    let Value::Array(ttl) = &entries[2] else {
        panic!("{}", show(&info))
    };
    assert_eq!(ttl[..2], [Value::Bulk(b"ttl".to_vec()), Value::Int(2)]);
    assert_cmd!(c, ["COMMAND", "INFO", "nosuchcommand"], b"*1\r\n$-1\r\n");

    // COMMAND DOCS: a map from name to a map of doc fields (flattened in RESP2).
    let docs = c.cmd(&["COMMAND", "DOCS", "set"]);
    assert!(
        docs.starts_with(b"*2\r\n$3\r\nset\r\n*"),
        "COMMAND DOCS set: {}",
        show(&docs)
    );
    check_docs_map(&parse_value(&docs), "set");
    assert_cmd!(c, ["COMMAND", "DOCS", "nosuchcommand"], b"*0\r\n");
    assert_eq!(c.cmd(&["HELLO", "3"])[0], b'%');
    let docs = c.cmd(&["COMMAND", "DOCS", "set"]);
    assert!(
        docs.starts_with(b"%1\r\n$3\r\nset\r\n%"),
        "COMMAND DOCS set in RESP3: {}",
        show(&docs)
    );
    check_docs_map(&parse_value(&docs), "set");
}

/// What redis-cli needs from COMMAND DOCS: `{name: {summary, since, group, ...}}`.
fn check_docs_map(docs: &Value, name: &str) {
    let entry = docs
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {docs:?}"));
    let keys: Vec<&[u8]> = match entry {
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, _)| k.as_bytes().expect("bulk key"))
            .collect(),
        Value::Array(items) => {
            assert!(
                items.len() % 2 == 0,
                "odd number of items in the flattened map: {entry:?}"
            );
            items
                .iter()
                .step_by(2)
                .map(|k| k.as_bytes().expect("bulk key"))
                .collect()
        }
        other => panic!("doc entry is not a map: {other:?}"),
    };
    for required in ["summary", "since", "group"] {
        assert!(
            keys.contains(&required.as_bytes()),
            "COMMAND DOCS {name} lacks {required}: {entry:?}"
        );
    }
    assert!(matches!(entry.get("summary"), Some(Value::Bulk(s)) if !s.is_empty()));
}

#[test]
fn info_has_redis_sections_and_keyspace() {
    let s = server();
    let mut c = s.client();
    let info = text_of(&c.cmd(&["INFO"]));
    for section in [
        "# Server\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Stats\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(info.contains(section), "INFO lacks {section:?}:\n{info}");
    }
    assert!(
        !info.contains("db0:"),
        "an empty server lists no db0:\n{info}"
    );
    assert_cmd!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_cmd!(c, ["SETEX", "b", "100", "1"], b"+OK\r\n");
    if !s.is_external() {
        let info = text_of(&c.cmd(&["INFO"]));
        let shards = shard_stats(&info).unwrap_or_else(|| panic!("no # Shards section:\n{info}"));
        assert_eq!(shards.len(), 2, "--threads 2 makes two shards:\n{info}");
        let keys: u64 = shards.iter().map(|(k, _)| k).sum();
        let expires: u64 = shards.iter().map(|(_, e)| e).sum();
        assert_eq!(
            (keys, expires),
            (2, 1),
            "keys and expires over all shards:\n{info}"
        );
    }
    assert_cmd!(c, ["SELECT", "3"], b"+OK\r\n");
    assert_cmd!(c, ["SET", "c", "1"], b"+OK\r\n");
    let keyspace = text_of(&c.cmd(&["INFO", "keyspace"]));
    assert!(keyspace.starts_with("# Keyspace\r\n"), "{keyspace:?}");
    let db0 =
        common::info_field(&keyspace, "db0").unwrap_or_else(|| panic!("no db0 in {keyspace:?}"));
    assert!(db0.starts_with("keys=2,expires=1,"), "db0:{db0}");
    let db3 =
        common::info_field(&keyspace, "db3").unwrap_or_else(|| panic!("no db3 in {keyspace:?}"));
    assert!(db3.starts_with("keys=1,expires=0,"), "db3:{db3}");
    assert!(
        !keyspace.contains("# Server"),
        "INFO keyspace is only that section: {keyspace:?}"
    );
    assert_cmd!(c, ["INFO", "nosuchsection"], b"$0\r\n\r\n");
}
