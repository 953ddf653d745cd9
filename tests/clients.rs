//! CLIENT LIST, CLIENT KILL and CLIENT REPLY over the wire, with clients
//! spread over two shards (the kernel spreads connections between the shards'
//! listeners, so with nine connections both shards hold some). Replies were
//! checked against redis-server 7.0; CLIENT LIST's `cmd=` is compared with
//! a running one.

#[macro_use]
mod common;

use common::{int_of, mayfly_and_redis, split_args, text_of, wait_for, Client, Server};
use std::time::Duration;

fn server() -> Server {
    Server::start(&["--threads", "2"])
}

/// `(id, name)` of every line of a CLIENT LIST reply.
fn listed(reply: &[u8]) -> Vec<(i64, String)> {
    text_of(reply)
        .lines()
        .map(|line| {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or_else(|| panic!("no {name} in {line}"))
                    .to_string()
            };
            (field("id").parse().expect("id"), field("name"))
        })
        .collect()
}

fn named_clients(s: &Server, n: usize) -> Vec<(Client, i64)> {
    (0..n)
        .map(|i| {
            let mut c = s.client();
            assert_cmd!(c, ["CLIENT", "SETNAME", format!("c{i}")], b"+OK\r\n");
            let id = int_of(&c.cmd(&["CLIENT", "ID"]));
            (c, id)
        })
        .collect()
}

#[test]
fn list_shows_every_shards_clients_in_id_order() {
    let s = server();
    let others = named_clients(&s, 8);
    let mut me = s.client();
    let all = listed(&me.cmd(&["CLIENT", "LIST"]));
    let mut ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
    let sorted = {
        let mut v = ids.clone();
        v.sort();
        v
    };
    assert_eq!(ids, sorted, "CLIENT LIST is in id order");
    for (i, (_, id)) in others.iter().enumerate() {
        assert!(all.contains(&(*id, format!("c{i}"))), "{all:?} lacks c{i}");
    }
    assert_eq!(all.len(), 9);
    // ID keeps the order asked, repeats included, unknown ids skipped.
    let (a, b) = (others[3].1, others[6].1);
    let reply = me.cmd(&[
        "CLIENT".to_string(),
        "LIST".into(),
        "ID".into(),
        b.to_string(),
        "999999".into(),
        a.to_string(),
        b.to_string(),
    ]);
    ids = listed(&reply).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [b, a, b]);
    assert_cmd!(me, ["CLIENT", "LIST", "TYPE", "pubsub"], b"$0\r\n\r\n");
    assert_cmd!(
        me,
        ["CLIENT", "LIST", "TYPE", "foo"],
        b"-ERR Unknown client type 'foo'\r\n"
    );
}

#[test]
fn kill_closes_clients_on_any_shard() {
    let s = server();
    let mut others = named_clients(&s, 8);
    let mut me = s.client();
    // By id, each in turn: some of them live on the other shard.
    for (c, id) in others.iter_mut().take(6) {
        assert_cmd!(me, ["CLIENT", "KILL", "ID", id.to_string()], b":1\r\n");
        c.expect_closed();
    }
    assert_cmd!(me, ["CLIENT", "KILL", "ID", "999999"], b":0\r\n");
    // The old form, by address.
    let line = text_of(&others[6].0.cmd(&["CLIENT", "INFO"]));
    let addr = line
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr")
        .to_string();
    assert_cmd!(me, ["CLIENT", "KILL", &addr], b"+OK\r\n");
    others[6].0.expect_closed();
    assert_cmd!(me, ["CLIENT", "KILL", &addr], b"-ERR No such client\r\n");
    // Killed clients leave CLIENT LIST.
    let left = |me: &mut Client| listed(&me.cmd(&["CLIENT", "LIST"])).len();
    assert!(wait_for(Duration::from_secs(2), || left(&mut me) == 2));
    // TYPE normal skips the caller by default and kills everyone else.
    assert_cmd!(me, ["CLIENT", "KILL", "TYPE", "normal"], b":1\r\n");
    others[7].0.expect_closed();
    // SKIPME no: the caller gets its reply, then the connection closes.
    assert_cmd!(me, ["CLIENT", "KILL", "SKIPME", "no"], b":1\r\n");
    me.expect_closed();
}

#[test]
fn reply_off_and_skip() {
    let s = server();
    let mut c = s.client();
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["SET", "k", "1"]);
    assert_cmd!(c, ["GET", "k"], b"$1\r\n1\r\n");
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "k", "2"]);
    c.send(&["NOSUCH"]);
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    assert_cmd!(c, ["CLIENT", "REPLY", "ON"], b"+OK\r\n");
    assert_cmd!(c, ["GET", "k"], b"$1\r\n2\r\n");
}

#[test]
fn config_resetstat_clears_every_shards_counters() {
    let s = server();
    let mut c = s.client();
    for i in 0..20 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    assert_cmd!(c, ["CONFIG", "RESETSTAT"], b"+OK\r\n");
    let info = text_of(&c.cmd(&["INFO", "stats"]));
    assert_eq!(common::info_field(&info, "keyspace_misses"), Some("0"));
}

/// After each of `commands` sent by one client, its `cmd=` in another's
/// CLIENT LIST.
fn last_commands(port: u16, commands: &[&str]) -> Vec<String> {
    let mut probe = Client::connect(port);
    let mut c = Client::connect(port);
    assert_cmd!(c, ["CLIENT", "SETNAME", "watched"], b"+OK\r\n");
    commands
        .iter()
        .map(|line| {
            c.cmd(&split_args(line));
            let list = text_of(&probe.cmd(&["CLIENT", "LIST"]));
            let watched = list.lines().find(|l| l.contains(" name=watched "));
            let watched = watched.unwrap_or_else(|| panic!("not listed: {list}"));
            let cmd = watched.split(' ').find(|f| f.starts_with("cmd="));
            format!("{line} -> {}", cmd.expect("cmd="))
        })
        .collect()
}

#[test]
fn list_shows_the_last_command_as_redis_names_it() {
    // Containers' subcommands (SLOWLOG, LATENCY and CLUSTER's too), DEBUG
    // (no subcommands in Redis 7.0), refused commands (still named, but
    // NULL when the command or subcommand is unknown).
    let commands = [
        "LATENCY LATEST",
        "latency History command",
        "LATENCY FOO",
        "SLOWLOG GET",
        "SLOWLOG LEN x",
        "CLUSTER INFO",
        "CLUSTER MEET a b",
        "DEBUG SLEEP 0",
        "CONFIG GeT port",
        "CONFIG",
        "CLIENT",
        "CLIENT FOO",
        "CLIENT ID",
        "COMMAND",
        "COMMAND INFO get",
        "OBJECT HELP",
        "MEMORY USAGE k",
        "FOO",
        "GET",
        "SET k v",
    ];
    let (ports, _servers) =
        mayfly_and_redis(&["--threads", "2"], &["--enable-debug-command", "yes"]);
    let transcripts: Vec<Vec<String>> = ports
        .iter()
        .map(|&(_, port)| last_commands(port, &commands))
        .collect();
    let ours = &transcripts[0];
    for seen in [
        "LATENCY LATEST -> cmd=latency|latest",
        "CLUSTER INFO -> cmd=cluster|info",
        "DEBUG SLEEP 0 -> cmd=debug",
        "CLIENT FOO -> cmd=NULL",
        "GET -> cmd=get",
    ] {
        assert!(ours.contains(&seen.to_string()), "{seen}: {ours:#?}");
    }
    if let Some(theirs) = transcripts.get(1) {
        assert_eq!(ours, theirs);
    }
}
