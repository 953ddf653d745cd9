//! Long pipelines across shards: replies come back complete and in request
//! order, and every shard holds part of the data.

#[macro_use]
mod common;

use common::{bulk, encode, int_of, shard_field, shard_stats, show, text_of, Server};

#[test]
fn pipeline_of_1000_sets_and_1000_gets_spans_both_shards() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    let keys: Vec<String> = (0..1000).map(|i| format!("pipeline:key:{i}")).collect();
    let values: Vec<String> = (0..1000)
        .map(|i| format!("value-{i}-{}", "x".repeat(i % 17)))
        .collect();
    let mut request = Vec::new();
    for (k, v) in keys.iter().zip(&values) {
        request.extend(encode(&["SET", k, v]));
    }
    for k in &keys {
        request.extend(encode(&["GET", k]));
    }
    let replies = c.pipeline(request, 2000);
    for (i, reply) in replies[..1000].iter().enumerate() {
        assert_eq!(reply, b"+OK\r\n", "reply to SET #{i}: {}", show(reply));
    }
    for (i, reply) in replies[1000..].iter().enumerate() {
        assert_eq!(
            *reply,
            bulk(&values[i]),
            "reply to GET #{i}: {}",
            show(reply)
        );
    }
    assert_cmd!(c, ["DBSIZE"], b":1000\r\n");

    if s.is_external() {
        return;
    }
    let info = text_of(&c.cmd(&["INFO"]));
    let shards = shard_stats(&info).unwrap_or_else(|| panic!("no # Shards section:\n{info}"));
    assert_eq!(shards.len(), 2, "{info}");
    for (i, (keys, _)) in shards.iter().enumerate() {
        assert!(*keys > 0, "shard{i} holds no keys of 1000:\n{info}");
    }
    let total: u64 = shards.iter().map(|(k, _)| k).sum();
    assert_eq!(
        total as i64,
        int_of(&c.cmd(&["DBSIZE"])),
        "shard key counts must add up to DBSIZE:\n{info}"
    );
}

/// Pipeline squashing: a pipeline's commands for another shard travel as one
/// mesh message per read, not one per command.
#[test]
fn a_pipeline_crosses_to_the_other_shard_in_few_messages() {
    let s = Server::start(&["--threads", "2"]);
    if s.is_external() {
        return;
    }
    let mut c = s.client();
    let peer = |c: &mut common::Client| {
        let info = text_of(&c.cmd(&["INFO", "SHARDS"]));
        let batches = shard_field(&info, "peer_batches").expect("peer_batches");
        let jobs = shard_field(&info, "peer_jobs").expect("peer_jobs");
        (batches.iter().sum::<u64>(), jobs.iter().sum::<u64>())
    };
    let (batches_before, jobs_before) = peer(&mut c);
    let mut request = Vec::new();
    for i in 0..1000 {
        request.extend(encode(&["GET", &format!("squash:{i}")]));
    }
    let replies = c.pipeline(request, 1000);
    assert!(replies.iter().all(|r| r == b"$-1\r\n"));
    let (batches, jobs) = peer(&mut c);
    // INFO itself sends one batch to the other shard each time it runs.
    let (batches, jobs) = (batches - batches_before - 1, jobs - jobs_before - 1);
    // About half the keys live on the other shard; the 1000 GETs arrive in
    // a few reads (the client writes them at once).
    assert!(
        (300..700).contains(&jobs),
        "{jobs} GETs went to the other shard"
    );
    assert!(batches <= 8, "{jobs} GETs took {batches} mesh messages");
}

#[test]
fn pipelined_mixed_commands_keep_request_order() {
    let s = Server::start(&["--threads", "2"]);
    let mut c = s.client();
    assert_cmd!(c, ["SET", "anchor", "a"], b"+OK\r\n");
    let mut request = Vec::new();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for i in 0..300 {
        let k = format!("k{i}");
        request.extend(encode(&["SET", &k, &i.to_string(), "NX"]));
        expected.push(b"+OK\r\n".to_vec());
        request.extend(encode(&["SET", &k, "again", "NX"]));
        expected.push(b"$-1\r\n".to_vec());
        request.extend(encode(&["EXISTS", &k, "anchor", "missing", &k]));
        expected.push(b":3\r\n".to_vec());
        request.extend(encode(&["GET", &k]));
        expected.push(bulk(i.to_string()));
        if i % 3 == 0 {
            request.extend(encode(&["DEL", &k, "missing"]));
            expected.push(b":1\r\n".to_vec());
            request.extend(encode(&["GET", &k]));
            expected.push(b"$-1\r\n".to_vec());
        }
        if i % 50 == 0 {
            // anchor, plus k0..=ki less the ones deleted (every third).
            request.extend(encode(&["DBSIZE"]));
            expected.push(format!(":{}\r\n", 1 + i - i / 3).into_bytes());
        }
    }
    let replies = c.pipeline(request, expected.len());
    for (i, (got, want)) in replies.iter().zip(&expected).enumerate() {
        assert_eq!(
            got,
            want,
            "reply #{i}: got {}, want {}",
            show(got),
            show(want)
        );
    }
}

#[test]
fn many_clients_at_once() {
    let s = Server::start(&["--threads", "2"]);
    let port = s.port();
    let workers: Vec<_> = (0..16)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = common::Client::connect(port);
                for i in 0..100 {
                    let key = format!("w{w}:k{i}");
                    assert_cmd!(c, ["SET", &key, &key], b"+OK\r\n");
                    assert_cmd!(c, ["GET", &key], common::bulk(&key));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = s.client();
    assert_cmd!(c, ["DBSIZE"], b":1600\r\n");
}
