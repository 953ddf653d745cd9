//! Commands over keys on different shards are atomic, as in Redis: a reader
//! never sees half of an MSET or a DEL, MSETNX is all or nothing with exactly
//! one winner per race, and RENAME never shows both keys or neither.
//! Every test runs `--threads 2` and checks that its keys span both shards.

#[macro_use]
mod common;

use common::{encode, int_of, parse_value, shard_stats, show, text_of, Client, Server, Value};
use std::thread;

const SHARDS: &[&str] = &["--threads", "2"];

/// Keys `prefix:0..n`, checked to land on more than one shard.
fn spread_keys(c: &mut Client, prefix: &str, n: usize) -> Vec<String> {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}:{i}")).collect();
    let mut mset: Vec<&str> = vec!["MSET"];
    for k in &keys {
        mset.extend([k.as_str(), "0"]);
    }
    assert_eq!(c.cmd(&mset), b"+OK\r\n");
    let info = text_of(&c.cmd(&["INFO", "shards"]));
    let stats = shard_stats(&info).expect("INFO shards");
    assert!(
        stats.iter().filter(|&&(keys, _)| keys > 0).count() > 1,
        "keys must span shards: {stats:?}"
    );
    keys
}

fn bulks(reply: &[u8]) -> Vec<Option<Vec<u8>>> {
    match parse_value(reply) {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_bytes().map(<[u8]>::to_vec))
            .collect(),
        _ => panic!("expected an array, got {}", show(reply)),
    }
}

/// Writers MSET all keys to one value (and now and then DEL them all) while
/// readers MGET them: every MGET must show one value (or nothing) everywhere.
#[test]
fn mget_never_sees_half_of_an_mset_or_a_del() {
    const WRITERS: usize = 3;
    const READERS: usize = 3;
    const ROUNDS: usize = 600;
    const PIPELINE: usize = 16;
    let s = Server::start(SHARDS);
    let keys = spread_keys(&mut s.client(), "torn", 8);
    let port = s.port();
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let keys = keys.clone();
        threads.push(thread::spawn(move || {
            let mut c = Client::connect(port);
            for round in 0..ROUNDS {
                let mut request = Vec::new();
                for i in 0..PIPELINE {
                    if (round + i) % 13 == 0 {
                        let mut del = vec!["DEL".to_string()];
                        del.extend(keys.iter().cloned());
                        request.extend(encode(&del));
                    } else {
                        let value = format!("w{w}-{round}-{i}");
                        let mut mset = vec!["MSET".to_string()];
                        for k in &keys {
                            mset.extend([k.clone(), value.clone()]);
                        }
                        request.extend(encode(&mset));
                    }
                }
                for reply in c.pipeline(request, PIPELINE) {
                    assert!(
                        reply == b"+OK\r\n" || reply.starts_with(b":"),
                        "{}",
                        show(&reply)
                    );
                }
            }
        }));
    }
    for _ in 0..READERS {
        let keys = keys.clone();
        threads.push(thread::spawn(move || {
            let mut c = Client::connect(port);
            let mut mget = vec!["MGET".to_string()];
            mget.extend(keys.iter().cloned());
            let one = encode(&mget);
            for _ in 0..ROUNDS {
                let request = one.repeat(PIPELINE);
                for reply in c.pipeline(request, PIPELINE) {
                    let values = bulks(&reply);
                    assert!(
                        values.iter().all(|v| *v == values[0]),
                        "torn MGET: {}",
                        show(&reply)
                    );
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("no thread panicked");
    }
}

/// One writer MSETs a counter into keys on two shards; readers GET one key,
/// then (after its reply) the other: the second is never older than the
/// first. Single-key commands are not transactions, so this holds only
/// because they wait for the intent locks of a scheduled MSET. It takes a
/// third shard to see it: with two, the mesh's FIFO channels alone happen
/// to keep this order.
#[test]
fn single_key_reads_wait_for_a_scheduled_mset() {
    const WRITES: usize = 10_000;
    const PIPELINE: usize = 50;
    const READERS: usize = 3;
    let s = Server::start(&["--threads", "4"]);
    let keys = spread_keys(&mut s.client(), "order", 2);
    let port = s.port();
    let writer_keys = keys.clone();
    let writer = thread::spawn(move || {
        let mut c = Client::connect(port);
        for start in (1..=WRITES).step_by(PIPELINE) {
            let mut request = Vec::new();
            for n in start..start + PIPELINE {
                let n = n.to_string();
                request.extend(encode(&["MSET", &writer_keys[0], &n, &writer_keys[1], &n]));
            }
            c.pipeline(request, PIPELINE);
        }
    });
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let keys = keys.clone();
            thread::spawn(move || {
                let mut c = Client::connect(port);
                let mut number = |key: &str| -> u64 {
                    let reply = c.cmd(&["GET", key]);
                    let value = parse_value(&reply).as_bytes().map(<[u8]>::to_vec);
                    String::from_utf8(value.expect("a value"))
                        .expect("utf-8")
                        .parse()
                        .expect("a number")
                };
                let mut checks = 0;
                while checks < 2 * WRITES / READERS {
                    for (first, second) in [(&keys[0], &keys[1]), (&keys[1], &keys[0])] {
                        let a = number(first);
                        let b = number(second);
                        assert!(b >= a, "read {first}={a}, then {second}={b}");
                        checks += 1;
                    }
                }
            })
        })
        .collect();
    writer.join().expect("writer finished");
    for reader in readers {
        reader.join().expect("reader finished");
    }
}

/// Connections race MSETNX over the same three keys, round after round:
/// exactly one wins each round, and the keys then all hold its value.
#[test]
fn msetnx_races_have_exactly_one_winner() {
    const RACERS: usize = 4;
    const ROUNDS: usize = 8000;
    const PIPELINE: usize = 100;
    let s = Server::start(SHARDS);
    spread_keys(&mut s.client(), "race:spread", 8);
    let port = s.port();
    let keys = |round: usize| ["a", "b", "c"].map(|k| format!("race:{round}:{k}"));
    let racers: Vec<_> = (0..RACERS)
        .map(|r| {
            thread::spawn(move || {
                let mut c = Client::connect(port);
                let mut won = Vec::with_capacity(ROUNDS);
                for start in (0..ROUNDS).step_by(PIPELINE) {
                    let mut request = Vec::new();
                    for round in start..start + PIPELINE {
                        let mut msetnx = vec!["MSETNX".to_string()];
                        for k in keys(round) {
                            msetnx.extend([k, format!("racer{r}")]);
                        }
                        request.extend(encode(&msetnx));
                    }
                    for reply in c.pipeline(request, PIPELINE) {
                        won.push(int_of(&reply) == 1);
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<Vec<bool>> = racers
        .into_iter()
        .map(|t| t.join().expect("racer finished"))
        .collect();
    let mut c = s.client();
    for round in 0..ROUNDS {
        let winners: Vec<usize> = (won.iter().enumerate())
            .filter(|(_, racer)| racer[round])
            .map(|(r, _)| r)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let [a, b, cc] = keys(round);
        let expected = format!("racer{}", winners[0]).into_bytes();
        let values = bulks(&c.cmd(&["MGET", &a, &b, &cc]));
        assert!(
            values.iter().all(|v| v.as_deref() == Some(&expected[..])),
            "round {round}: {values:?}"
        );
    }
}

/// A key renamed back and forth between two shards: readers checking both
/// names in one MGET (or one EXISTS) always find exactly one.
#[test]
fn rename_never_shows_both_or_neither() {
    const MOVES: usize = 3000;
    let s = Server::start(SHARDS);
    let mut c = s.client();
    // Two names on different shards.
    let names: Vec<String> = (0..64).map(|i| format!("hop:{i}")).collect();
    let mut pair = None;
    'find: for a in &names {
        for b in &names {
            c.cmd(&["FLUSHALL"]);
            c.cmd(&["SET", a, "v"]);
            c.cmd(&["SET", b, "v"]);
            let info = text_of(&c.cmd(&["INFO", "shards"]));
            if shard_stats(&info).expect("INFO shards") == vec![(1, 0), (1, 0)] {
                pair = Some((a.clone(), b.clone()));
                break 'find;
            }
        }
    }
    let (a, b) = pair.expect("two names on different shards");
    assert_cmd!(c, ["DEL", &b], b":1\r\n");
    let port = s.port();
    let (ra, rb) = (a.clone(), b.clone());
    let reader = thread::spawn(move || {
        let mut c = Client::connect(port);
        let mut seen = 0;
        while seen < MOVES * 4 {
            let request = [encode(&["EXISTS", &ra, &rb]), encode(&["MGET", &ra, &rb])].concat();
            let replies = c.pipeline(request.repeat(8), 16);
            for pair in replies.chunks(2) {
                assert_eq!(pair[0], b":1\r\n", "EXISTS saw both or neither");
                let values = bulks(&pair[1]);
                assert_eq!(values.iter().flatten().count(), 1, "{}", show(&pair[1]));
            }
            seen += 16;
        }
    });
    for i in 0..MOVES {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_cmd!(c, ["RENAME", from, to], b"+OK\r\n");
    }
    reader.join().expect("reader finished");
}
