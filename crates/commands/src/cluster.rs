//! CLUSTER, READONLY and READWRITE: an emulated one-node cluster.
//!
//! Cluster-aware clients (memtier_benchmark `--cluster-mode`, redis-py's
//! `RedisCluster`, ...) first ask CLUSTER SLOTS (or SHARDS, NODES) where
//! each of the 16384 hash slots lives, then route every key by its slot.
//! Mayfly's shards are its own business: with `--cluster-mode emulated` it
//! answers as a single node that owns every slot, so such clients send every
//! key to it and never meet a `-MOVED`. The replies have redis-server 7.0's
//! shapes for a one-node cluster. Without the option, every CLUSTER
//! subcommand Redis knows gets Redis's "cluster support disabled" error, as
//! from a redis-server without `cluster-enabled`.
//!
//! Implemented in emulated mode: INFO, MYID, KEYSLOT, NODES, SLOTS, SHARDS,
//! and READONLY/READWRITE (`+OK`). Other subcommands (they change or inspect
//! a real cluster's topology) are unknown subcommands.

use crate::client::subcommand;
use crate::config::ClusterMode;
use crate::error::reply_error;
use crate::table::{sub, SubcommandSpec};
use crate::{Client, CommandError, ServerFacts};
use resp::{Args, ReplyEncoder};
use store::{key_slot, CLUSTER_SLOTS};

/// Every CLUSTER subcommand of Redis 7.0, its arity counted from CLUSTER,
/// and its flags, so that a disabled cluster answers exactly as Redis does.
pub(crate) const REDIS_SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("addslots", -3).admin(),
    sub("addslotsrange", -4).admin(),
    sub("bumpepoch", 2).admin(),
    sub("count-failure-reports", 3).admin(),
    sub("countkeysinslot", 3),
    sub("delslots", -3).admin(),
    sub("delslotsrange", -4).admin(),
    sub("failover", -2).admin(),
    sub("flushslots", 2).admin(),
    sub("forget", 3).admin(),
    sub("getkeysinslot", 4),
    sub("help", 2),
    sub("info", 2),
    sub("keyslot", 3),
    sub("links", 2),
    sub("meet", -4).admin(),
    sub("myid", 2),
    sub("nodes", 2),
    sub("replicas", 3).admin(),
    sub("replicate", 3).admin(),
    sub("reset", -2).admin(),
    sub("saveconfig", 2).admin(),
    sub("set-config-epoch", 3).admin(),
    sub("setslot", -4).admin(),
    sub("shards", 2),
    sub("slaves", 3).admin(),
    sub("slots", 2),
];

/// The subcommands the emulated node answers.
const EMULATED_SUBCOMMANDS: &[SubcommandSpec] = &[
    sub("info", 2),
    sub("keyslot", 3),
    sub("myid", 2),
    sub("nodes", 2),
    sub("shards", 2),
    sub("slots", 2),
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// CLUSTER <subcommand> [argument ...]
pub(crate) fn cluster(args: &Args, _: &mut Client, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    if let Err(e) = run(args, facts, enc) {
        reply_error(enc, &e);
    }
}

fn run(args: &Args, facts: &ServerFacts, enc: &mut ReplyEncoder) -> Result<(), CommandError> {
    if facts.options.cluster_mode != ClusterMode::Emulated {
        subcommand(args, "CLUSTER", REDIS_SUBCOMMANDS)?;
        return Err(CommandError::Other(DISABLED.into()));
    }
    let port = facts.options.port;
    let ip = announced_ip(facts);
    let id = &facts.node_id;
    let last = i64::from(CLUSTER_SLOTS - 1);
    match subcommand(args, "CLUSTER", EMULATED_SUBCOMMANDS)? {
        "info" => enc.verbatim("txt", cluster_info().as_bytes()),
        "myid" => enc.bulk(id.as_bytes()),
        "keyslot" => enc.integer(i64::from(key_slot(args.get(2)))),
        "nodes" => {
            let line = format!(
                "{id} {ip}:{port}@{} myself,master - 0 0 0 connected 0-{last}\n",
                u32::from(port) + 10000
            );
            enc.verbatim("txt", line.as_bytes());
        }
        "slots" => {
            // One range, served by one master: [start, end, [ip, port, id, {}]].
            enc.array_len(1);
            enc.array_len(3);
            enc.integer(0);
            enc.integer(last);
            enc.array_len(4);
            enc.bulk(ip.as_bytes());
            enc.integer(i64::from(port));
            enc.bulk(id.as_bytes());
            enc.map_len(0);
        }
        _ => {
            // "shards": one shard owning 0..16383 with this node alone.
            enc.array_len(1);
            enc.map_len(2);
            enc.bulk(b"slots");
            enc.array_len(2);
            enc.integer(0);
            enc.integer(last);
            enc.bulk(b"nodes");
            enc.array_len(1);
            enc.map_len(7);
            enc.bulk(b"id");
            enc.bulk(id.as_bytes());
            enc.bulk(b"port");
            enc.integer(i64::from(port));
            enc.bulk(b"ip");
            enc.bulk(ip.as_bytes());
            enc.bulk(b"endpoint");
            enc.bulk(ip.as_bytes());
            enc.bulk(b"role");
            enc.bulk(b"master");
            enc.bulk(b"replication-offset");
            enc.integer(0);
            enc.bulk(b"health");
            enc.bulk(b"online");
        }
    }
    Ok(())
}

/// READONLY and READWRITE: `+OK` in an emulated cluster (every slot is
/// served here, reads and writes alike).
pub(crate) fn readonly(_: &Args, _: &mut Client, facts: &ServerFacts, enc: &mut ReplyEncoder) {
    if facts.options.cluster_mode == ClusterMode::Emulated {
        enc.ok();
    } else {
        enc.error(DISABLED);
    }
}

/// The address clients are told to use: the first bound address, or (bound
/// to every interface) an empty string, which cluster clients read as "the
/// address you reached me on", as a lone redis-server announces itself.
fn announced_ip(facts: &ServerFacts) -> &str {
    let first = facts.options.bind.first().map_or("", String::as_str);
    match first.strip_prefix('-').unwrap_or(first) {
        "*" | "::*" | "0.0.0.0" | "::" => "",
        bind => bind,
    }
}

/// CLUSTER INFO of a healthy one-node cluster that owns every slot.
fn cluster_info() -> String {
    let slots = CLUSTER_SLOTS;
    format!(
        "cluster_state:ok\r\n\
         cluster_slots_assigned:{slots}\r\n\
         cluster_slots_ok:{slots}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:1\r\n\
         cluster_size:1\r\n\
         cluster_current_epoch:0\r\n\
         cluster_my_epoch:0\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n"
    )
}

#[cfg(test)]
mod tests {
    use crate::testkit::{facts, run_connection_with};

    const ID: &str = "6e8757ca888f25ba349ffdc496027ab178ce775b";

    fn emulated() -> crate::ServerFacts {
        let options = crate::config::Startup {
            cluster_mode: crate::config::ClusterMode::Emulated,
            port: 7601,
            ..Default::default()
        };
        crate::ServerFacts {
            node_id: ID.into(),
            options,
            ..facts()
        }
    }

    fn run(facts: crate::ServerFacts, parts: &[&str]) -> String {
        String::from_utf8(run_connection_with(facts, &[parts]).0).unwrap()
    }

    #[test]
    fn a_one_node_cluster_as_redis_describes_itself() {
        // Expected bytes: redis-server 7.0.15 --cluster-enabled yes after
        // CLUSTER ADDSLOTSRANGE 0 16383, with this node's id and port, and
        // the bound address where Redis (not yet met by another node)
        // leaves the ip empty.
        let f = emulated;
        assert_eq!(run(f(), &["CLUSTER", "KEYSLOT", "foo"]), ":12182\r\n");
        assert_eq!(run(f(), &["cluster", "keyslot", "{user}.a"]), ":5474\r\n");
        assert_eq!(run(f(), &["CLUSTER", "MYID"]), format!("$40\r\n{ID}\r\n"));
        assert_eq!(
            run(f(), &["CLUSTER", "SLOTS"]),
            format!("*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7601\r\n$40\r\n{ID}\r\n*0\r\n")
        );
        let nodes = format!("{ID} 127.0.0.1:7601@17601 myself,master - 0 0 0 connected 0-16383\n");
        assert_eq!(
            run(f(), &["CLUSTER", "NODES"]),
            format!("${}\r\n{nodes}\r\n", nodes.len())
        );
        assert_eq!(
            run(f(), &["CLUSTER", "SHARDS"]),
            format!(
                "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n\
                 $2\r\nid\r\n$40\r\n{ID}\r\n$4\r\nport\r\n:7601\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
                 $8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
                 $18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
            )
        );
        let info = run(f(), &["CLUSTER", "INFO"]);
        assert!(info.starts_with("$312\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\n"));
        assert!(info.ends_with("total_cluster_links_buffer_limit_exceeded:0\r\n\r\n"));
        assert_eq!(run(f(), &["READONLY"]), "+OK\r\n");
        assert_eq!(run(f(), &["READWRITE"]), "+OK\r\n");
        assert_eq!(
            run(f(), &["CLUSTER", "MYID", "x"]),
            "-ERR wrong number of arguments for 'cluster|myid' command\r\n"
        );
        assert_eq!(
            run(f(), &["CLUSTER", "COUNTKEYSINSLOT", "1"]),
            "-ERR unknown subcommand 'COUNTKEYSINSLOT'. Try CLUSTER HELP.\r\n"
        );
    }

    #[test]
    fn resp3_uses_maps_and_verbatim_strings() {
        let f = emulated;
        let slots = String::from_utf8(
            run_connection_with(f(), &[&["HELLO", "3"], &["CLUSTER", "SLOTS"]]).0,
        )
        .unwrap();
        assert!(
            slots.ends_with(&format!("$40\r\n{ID}\r\n%0\r\n")),
            "{slots}"
        );
        let nodes = String::from_utf8(
            run_connection_with(f(), &[&["HELLO", "3"], &["CLUSTER", "NODES"]]).0,
        )
        .unwrap();
        let line = format!("{ID} 127.0.0.1:7601@17601 myself,master - 0 0 0 connected 0-16383\n");
        assert!(
            nodes.ends_with(&format!("={}\r\ntxt:{line}\r\n", line.len() + 4)),
            "{nodes}"
        );
        let shards = String::from_utf8(
            run_connection_with(f(), &[&["HELLO", "3"], &["CLUSTER", "SHARDS"]]).0,
        )
        .unwrap();
        assert!(shards.contains("*1\r\n%2\r\n$5\r\nslots\r\n"), "{shards}");
        assert!(shards.contains("*1\r\n%7\r\n$2\r\nid\r\n"), "{shards}");
    }

    #[test]
    fn without_the_option_cluster_support_is_disabled_as_in_redis() {
        let disabled = "-ERR This instance has cluster support disabled\r\n";
        for parts in [
            &["CLUSTER", "INFO"][..],
            &["CLUSTER", "KEYSLOT", "foo"],
            &["CLUSTER", "SLOTS"],
            &["CLUSTER", "COUNTKEYSINSLOT", "1"],
            &["CLUSTER", "HELP"],
            &["READONLY"],
            &["READWRITE"],
        ] {
            assert_eq!(run(facts(), parts), disabled, "{parts:?}");
        }
        assert_eq!(
            run(facts(), &["CLUSTER", "FOO"]),
            "-ERR unknown subcommand 'FOO'. Try CLUSTER HELP.\r\n"
        );
        assert_eq!(
            run(facts(), &["CLUSTER", "KEYSLOT"]),
            "-ERR wrong number of arguments for 'cluster|keyslot' command\r\n"
        );
    }
}
