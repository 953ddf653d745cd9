//! MONITOR compared with redis-server 7.0, two clients each: what a
//! monitoring client is shown of another client's commands (which are
//! hidden, which redacted, how arguments are quoted, the database), what it
//! may still send itself and the replies it gets (RESP2 and RESP3), RESET
//! and QUIT; timestamps, ports and client ids masked. Then Mayfly's own
//! case: monitors on every shard see the commands of clients on every
//! shard, each once and in each client's order. And the idle `timeout`,
//! which closes idle clients but never a monitor, to which every line
//! written counts as an interaction.

#[macro_use]
mod common;

use common::{
    encode, mayfly_and_redis, parse_value, shard_field, show, text_of, Client, RedisServer, Server,
    Value,
};
use std::time::Duration;

/// Masks what differs between two runs: timestamps, client ports (each
/// port of `roles` by its role's name, others as `ADDR`), client ids.
fn mask_as(bytes: &[u8], roles: &[(u16, &str)]) -> String {
    let text = show(bytes);
    let mut out = String::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        // `+1339518083.107412 [` -> `+T [`
        if let Some(after) = rest.strip_prefix('+') {
            let stamp = after.find(" [").filter(|&end| {
                end > 0 && after[..end].chars().all(|c| c.is_ascii_digit() || c == '.')
            });
            if let Some(end) = stamp {
                out.push_str("+T");
                rest = &after[end..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("127.0.0.1:") {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            let port: Option<u16> = after[..end].parse().ok();
            let role = roles.iter().find(|(p, _)| Some(*p) == port);
            out.push_str(role.map_or("ADDR", |(_, name)| name));
            rest = &after[end..];
            continue;
        }
        // HELLO's client id.
        let id = "$2\\r\\nid\\r\\n:";
        if let Some(after) = rest.strip_prefix(id) {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            out.push_str(id);
            out.push('N');
            rest = &after[end..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn mask(bytes: &[u8]) -> String {
    mask_as(bytes, &[])
}

/// Reads replies from `c` until one is exactly `last`; returns them all.
fn read_until(c: &mut Client, last: &[u8]) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    loop {
        let reply = c.read_reply();
        let done = reply == last;
        replies.push(reply);
        if done {
            return replies;
        }
        assert!(replies.len() < 1000, "never got {}", show(last));
    }
}

/// The commands another client sends while one monitors.
const OTHERS: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["GET", "a"],
    &["SELECT", "3"],
    &["GET", "x"],
    &["SELECT", "0"],
    &["FOO", "bar"],
    &["GET"],
    &["AUTH", "x"],
    &["AUTH", "a", "b", "c"],
    &["AUTH", "default", "pw"],
    &["HELLO", "3", "AUTH", "default", "pw"],
    &["HELLO", "2", "FOO", "AUTH", "a", "b"],
    &["HELLO", "2", "AUTH", "a", "b", "FOO"],
    &["HELLO", "2", "AUTH", "a"],
    &["HELLO", "9", "AUTH", "a", "b"],
    &["HELLO", "2", "SETNAME", "me"],
    &["CLIENT", "LIST", "TYPE", "replica"],
    &["CLIENT", "ID"],
    &["CLIENT", "FOO"],
    &["CONFIG", "GET", "port"],
    &["CONFIG", "HELP"],
    &["DEBUG", "HELP"],
    &["MONITOR", "extra"],
    &["INCR", "a\x01\"\\\n"],
    &["SET", "b", "x y\t\x7f\u{ff}"],
    &["MSET", "a"],
    &["MSET", "k1", "1", "k2", "2", "k3", "3"],
    &["MGET", "k1", "k2", "k3"],
    &["DEL", "k1", "k2", "k3", "b"],
    &["KEYS", "nomatch*"],
    &["INFO", "nosuchsection"],
    &["OBJECT", "FOO"],
    &["OBJECT", "ENCODING", "a"],
    &["EXPIRE", "a", "100"],
    &["PING"],
];

/// A Mayfly of 2 shards and a redis-server (`None` where it is not installed).
fn both() -> Option<(Server, RedisServer)> {
    let s = Server::start(&["--threads", "2"]);
    Some((s, RedisServer::start()?))
}

/// What a monitor is shown of [`OTHERS`] (from a RESP2 client, `c`), of a
/// RESP3 client's commands (`r3`) and of a last ECHO (`last`): each
/// client's lines in order (the order between clients is best effort).
fn shown_of_others(port: u16) -> Vec<(String, Vec<String>)> {
    let mut m = Client::connect(port);
    assert_cmd!(m, ["MONITOR"], b"+OK\r\n");
    let mut c = Client::connect(port);
    for args in OTHERS {
        c.cmd(args);
    }
    let mut r3 = Client::connect(port);
    r3.cmd(&["HELLO", "3"]);
    r3.cmd(&["SET", "r3", "v"]);
    r3.send_raw(b"PING\r\n");
    r3.read_reply();
    r3.cmd(&["ECHO", "r3 end"]);
    let roles = [(c.local_port(), "c"), (r3.local_port(), "r3")];
    assert_cmd!(c, ["QUIT"], b"+OK\r\n");
    c.expect_closed();
    let mut last = Client::connect(port);
    last.cmd(&["ECHO", "end"]);
    let roles = [roles[0], roles[1], (last.local_port(), "last")];
    let mut by_client: Vec<(String, Vec<String>)> = roles
        .iter()
        .map(|(_, name)| (name.to_string(), Vec::new()))
        .collect();
    let ends = [
        r#"\"QUIT\""#,
        r#"\"ECHO\" \"r3 end\""#,
        r#"\"ECHO\" \"end\""#,
    ];
    let mut done = [false; 3];
    while !done.iter().all(|d| *d) {
        let line = mask_as(&m.read_reply(), &roles);
        let role = roles
            .iter()
            .position(|(_, name)| line.contains(&format!(" {name}] ")))
            .unwrap_or_else(|| panic!("a line from no known client: {line}"));
        done[role] |= line.contains(ends[role]);
        by_client[role].1.push(line);
        assert!(by_client[role].1.len() < 100, "no end line: {by_client:#?}");
    }
    by_client
}

#[test]
fn a_monitor_sees_what_redis_shows() {
    let Some((s, redis)) = both() else { return };
    let ours = shown_of_others(s.port());
    let theirs = shown_of_others(redis.port);
    assert_eq!(ours, theirs);
    // What the comparison covers: hidden, redacted, quoted, databases.
    let all: String = theirs.iter().flat_map(|(_, lines)| lines.clone()).collect();
    for seen in [
        r#"[3 c] \"GET\" \"x\""#,
        r#"\"AUTH\" \"(redacted)\" \"(redacted)\""#,
        r#"\"HELLO\" \"2\" \"FOO\" \"AUTH\" \"a\" \"b\""#,
        r#"\"INCR\" \"a\\x01\\\"\\\\\\n\""#,
        r#"\"QUIT\""#,
    ] {
        assert!(all.contains(seen), "{seen} in {all}");
    }
    for hidden in ["CONFIG\\\" \\\"GET", "DEBUG", "FOO\\\" \\\"bar", "MONITOR"] {
        assert!(!all.contains(hidden), "{hidden} shown: {all}");
    }
}

/// A monitor's own exchange: what it may send, the replies, its own lines,
/// RESP3, a second MONITOR, RESET, then QUIT.
fn own_exchange(port: u16) -> Vec<String> {
    let mut setup = Client::connect(port);
    assert_cmd!(setup, ["SET", "a", "1"], b"+OK\r\n");
    let mut m = Client::connect(port);
    let mut out = Vec::new();
    out.push(mask(&m.cmd(&["MONITOR"])));
    // CLIENT LIST shows it with flag O, its last command MONITOR.
    let list = text_of(&setup.cmd(&["CLIENT", "LIST"]));
    let line = list
        .lines()
        .find(|l| l.contains(" cmd=monitor "))
        .unwrap_or_else(|| panic!("no monitor in {list}"));
    assert!(line.contains(" flags=O "), "{line}");
    let requests: &[&[&str]] = &[
        &["PING"],
        &["GET", "a"],
        &["SET", "a", "2"],
        &["ECHO", "x"],
        &["MONITOR"],
        &["SELECT", "1"],
        &["DBSIZE"],
        &["TIME", "x"],
        &["FOO"],
        &["HELLO", "3"],
        &["PING"],
        &["GET", "a"],
        &["CLIENT", "GETNAME"],
        &["HELLO", "2"],
        &["TYPE", "a"],
        &["DEL", "a"],
        &["RESET"],
        &["GET", "a"],
    ];
    // One at a time, then the same as one pipeline.
    for args in requests {
        m.send(args);
    }
    m.send(&["ECHO", "one"]);
    out.extend(read_until(&mut m, b"$3\r\none\r\n").iter().map(|r| mask(r)));
    assert_cmd!(m, ["MONITOR"], b"+OK\r\n");
    let pipeline: Vec<u8> = requests.iter().flat_map(|args| encode(args)).collect();
    m.send_raw(&pipeline);
    m.send(&["ECHO", "two"]);
    out.extend(read_until(&mut m, b"$3\r\ntwo\r\n").iter().map(|r| mask(r)));
    // QUIT while monitoring: +OK, closed, its own line not sent.
    assert_cmd!(m, ["MONITOR"], b"+OK\r\n");
    assert_cmd!(m, ["QUIT"], b"+OK\r\n");
    m.expect_closed();
    out
}

#[test]
fn a_monitor_may_send_what_redis_allows() {
    let Some((s, redis)) = both() else { return };
    let ours = own_exchange(s.port());
    let theirs = own_exchange(redis.port);
    assert_eq!(ours, theirs);
    let all = theirs.join("\n");
    assert!(
        all.contains("Replica can't interact with the keyspace"),
        "{all}"
    );
    assert!(all.contains(r#"+T [0 ADDR] \"PING\"\r\n"#), "{all}");
}

/// Opens a connection and finds the shard that serves it, by the shards'
/// client counts (seen from `probe`).
fn client_on_shard(s: &Server, probe: &mut Client) -> (Client, usize) {
    let clients = |probe: &mut Client| {
        let info = text_of(&probe.cmd(&["INFO", "shards"]));
        shard_field(&info, "connected_clients").expect("# Shards")
    };
    let before = clients(probe);
    let mut c = s.client();
    assert_cmd!(c, ["PING"], b"+PONG\r\n");
    let after = clients(probe);
    let grew: Vec<usize> = (0..after.len()).filter(|&i| after[i] > before[i]).collect();
    assert_eq!(grew.len(), 1, "{before:?} -> {after:?}");
    (c, grew[0])
}

#[test]
fn monitors_on_every_shard_see_clients_on_every_shard() {
    let s = Server::start(&["--threads", "2"]);
    if common::skip_if_external() {
        return;
    }
    let mut probe = s.client();
    // A monitor and a client on each shard.
    let (mut monitors, mut clients) = (vec![None, None], vec![None, None]);
    for _ in 0..200 {
        let (c, shard) = client_on_shard(&s, &mut probe);
        if monitors[shard].is_none() {
            monitors[shard] = Some(c);
        } else if clients[shard].is_none() {
            clients[shard] = Some(c);
        }
        if monitors.iter().chain(&clients).all(Option::is_some) {
            break;
        }
    }
    let mut monitors: Vec<Client> = monitors
        .into_iter()
        .map(|m| m.expect("a monitor on each shard"))
        .collect();
    let mut clients: Vec<Client> = clients
        .into_iter()
        .map(|c| c.expect("a client on each shard"))
        .collect();
    for m in &mut monitors {
        assert_cmd!(m, ["MONITOR"], b"+OK\r\n");
    }
    // Each client in turn, single commands and pipelines, keys on every
    // shard (MSET and MGET run as transactions).
    for round in 0..20 {
        for (i, c) in clients.iter_mut().enumerate() {
            c.cmd(&["SET", &format!("c{i}:{round}"), "v"]);
            let pipeline = [
                encode(&["INCR", &format!("n{i}")]),
                encode(&["MSET", "x", "1", "y", "2", "z", &round.to_string()]),
                encode(&["MGET", "x", "y", "z"]),
            ]
            .concat();
            c.pipeline(pipeline, 3);
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.cmd(&["ECHO", &format!("end{i}")]);
    }
    for (shard, m) in monitors.iter_mut().enumerate() {
        // Each client's lines, in its order.
        let mut seen: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
        let mut ends = 0;
        let mut ports = Vec::new();
        while ends < 2 {
            let line = match parse_value(&m.read_reply()) {
                Value::Simple(line) => line,
                other => panic!("monitor on shard {shard} got {other:?}"),
            };
            let (addr, args) = line
                .split_once("] ")
                .and_then(|(head, args)| Some((head.split_once(' ')?.1, args)))
                .unwrap_or_else(|| panic!("malformed line {line}"));
            let client = match ports.iter().position(|p| p == addr) {
                Some(i) => i,
                None => {
                    ports.push(addr.to_string());
                    ports.len() - 1
                }
            };
            assert!(client < 2, "lines from a third client: {line}");
            if args.starts_with("\"ECHO\"") {
                ends += 1;
            }
            seen[client].push(args.to_string());
        }
        for lines in &seen {
            assert_eq!(
                lines.len(),
                20 * 4 + 1,
                "monitor on shard {shard}: {lines:#?}"
            );
            let i = if lines[0].contains("\"c0:0\"") { 0 } else { 1 };
            for round in 0..20 {
                assert_eq!(
                    lines[round * 4..round * 4 + 4],
                    [
                        format!("\"SET\" \"c{i}:{round}\" \"v\""),
                        format!("\"INCR\" \"n{i}\""),
                        format!("\"MSET\" \"x\" \"1\" \"y\" \"2\" \"z\" \"{round}\""),
                        "\"MGET\" \"x\" \"y\" \"z\"".to_string(),
                    ],
                    "monitor on shard {shard}, client {i}"
                );
            }
        }
    }
    // Once nobody monitors, nothing is sent.
    for m in &mut monitors {
        // (the first one's RESET is shown to the second)
        m.send(&["RESET"]);
        read_until(m, b"+RESET\r\n");
    }
    clients[0].cmd(&["SET", "after", "v"]);
    for m in &mut monitors {
        m.expect_silence(std::time::Duration::from_millis(100));
    }
}

/// `field=` of the CLIENT LIST line of the client named `name`.
fn listed_field(list: &str, name: &str, field: &str) -> String {
    let line = list.lines().find(|l| l.contains(&format!(" name={name} ")));
    let line = line.unwrap_or_else(|| panic!("no {name} in {list}"));
    let value = line
        .split(' ')
        .find_map(|f| f.strip_prefix(field)?.strip_prefix('='));
    value
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .to_string()
}

#[test]
fn the_idle_timeout_closes_idle_clients_but_not_monitors() {
    let (ports, _servers) =
        mayfly_and_redis(&["--threads", "2", "--timeout", "1"], &["--timeout", "1"]);
    for (name, port) in ports {
        let mut idle = Client::connect(port);
        assert_cmd!(idle, ["PING"], b"+PONG\r\n");
        let mut m = Client::connect(port);
        assert_cmd!(m, ["CLIENT", "SETNAME", "watcher"], b"+OK\r\n");
        assert_cmd!(m, ["MONITOR"], b"+OK\r\n");
        // Nobody sends anything for 3.5 s.
        std::thread::sleep(Duration::from_millis(3500));
        // Idle for more than 1 whole second: closed by a check (each second).
        idle.expect_closed();
        // The monitor, as idle, is not: it is shown what runs next.
        let mut c = Client::connect(port);
        assert_cmd!(c, ["SET", "k", "v"], b"+OK\r\n");
        let line = m.read_reply();
        let shown = line.ends_with(b" \"SET\" \"k\" \"v\"\r\n");
        assert!(shown, "{name}: {}", show(&line));
        // It has just been written to: not idle.
        let list = text_of(&c.cmd(&["CLIENT", "LIST"]));
        assert_eq!(listed_field(&list, "watcher", "flags"), "O", "{name}");
        let idle_secs: u64 = listed_field(&list, "watcher", "idle")
            .parse()
            .expect("idle");
        assert!(idle_secs <= 1, "{name}: {list}");
    }
}
