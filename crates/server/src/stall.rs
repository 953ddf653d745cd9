//! Noticing a shard that stopped ticking, and waking one that sleeps.
//!
//! A shard's 10 ms tick bumps its heartbeat. Once, under load, every client
//! of a 2-shard server waited for 12 minutes with the process nearly idle,
//! until another client's INFO sent each shard a mesh message; it has not
//! been reproduced since. A mesh message writes the receiving executor's
//! eventfd, so that episode looks like an executor asleep with neither its
//! timer nor a peer's wake-up delivered. Two defences follow from it:
//! each shard sends a no-op message to a peer whose heartbeat has not moved
//! for [`POKE_AFTER_TICKS`] of its own ticks (a sleeping executor wakes, a
//! busy one just finds it later), and the main thread logs a shard that has
//! not ticked for a second, with its thread's state and wait channel, so
//! that the next episode says whether the shard was busy or asleep.

use crate::notify::Heartbeats;
use std::time::{Duration, Instant};

/// Own ticks (10 ms each) without a peer's heartbeat before it is poked.
pub(crate) const POKE_AFTER_TICKS: u32 = 20;

/// How long a shard may go without ticking before the main thread says so.
const REPORT_AFTER: Duration = Duration::from_secs(1);

/// A shard's view of its peers' heartbeats.
pub(crate) struct PeerWatch {
    /// Per peer: the count last seen, and for how many of our ticks it has not moved.
    seen: Vec<(u64, u32)>,
}

impl PeerWatch {
    pub fn new(shards: usize) -> Self {
        Self {
            seen: vec![(0, 0); shards],
        }
    }

    /// Called on each of shard `me`'s ticks: the peers to poke now (each at
    /// most once per [`POKE_AFTER_TICKS`] ticks while it stays still).
    pub fn due(&mut self, me: usize, heartbeats: &Heartbeats) -> Vec<usize> {
        let mut due = Vec::new();
        for (peer, (last, still)) in self.seen.iter_mut().enumerate() {
            if peer == me {
                continue;
            }
            let now = heartbeats.count(peer);
            if now != *last {
                *last = now;
                *still = 0;
                continue;
            }
            *still += 1;
            if *still % POKE_AFTER_TICKS == 0 {
                due.push(peer);
            }
        }
        due
    }
}

/// The main thread's record of each shard's heartbeat.
pub(crate) struct StallReport {
    /// Per shard: the count last seen, when it last moved, and whether the
    /// stall has been reported.
    shards: Vec<(u64, Instant, bool)>,
}

impl StallReport {
    pub fn new(shards: usize) -> Self {
        Self {
            shards: vec![(0, Instant::now(), false); shards],
        }
    }

    /// Logs each shard that stopped ticking (once per episode) and each that
    /// ticks again.
    pub fn check(&mut self, heartbeats: &Heartbeats) {
        for (id, (last, moved, reported)) in self.shards.iter_mut().enumerate() {
            let now = heartbeats.count(id);
            if now != *last {
                if *reported {
                    log::warn!(
                        "shard {id} ticks again after {:.1} s",
                        moved.elapsed().as_secs_f64()
                    );
                }
                *last = now;
                *moved = Instant::now();
                *reported = false;
            } else if !*reported && moved.elapsed() >= REPORT_AFTER {
                *reported = true;
                log::warn!(
                    "shard {id} has not ticked for {:.1} s; its threads: {}",
                    moved.elapsed().as_secs_f64(),
                    thread_state(&format!("shard-{id}-"))
                );
            }
        }
    }
}

/// The state and wait channel of this process's threads whose name starts
/// with `prefix` (glommio names an executor's threads `<name>-<executor id>`:
/// the executor's own and its blocking-work helper), from /proc.
fn thread_state(prefix: &str) -> String {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return "unknown".into();
    };
    let mut found: Vec<(u64, String)> = Vec::new();
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // The state follows the parenthesised name.
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').next())
            .unwrap_or("?")
            .to_string();
        let wchan = std::fs::read_to_string(path.join("wchan")).unwrap_or_default();
        let tid = task.file_name().to_string_lossy().parse().unwrap_or(0);
        found.push((
            tid,
            format!(
                "tid {tid} state {state} wchan {}",
                if wchan.is_empty() { "?" } else { &wchan }
            ),
        ));
    }
    if found.is_empty() {
        return "not found".into();
    }
    found.sort();
    found
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_still_peer_is_poked_every_poke_after_ticks() {
        let heartbeats = Heartbeats::new(3);
        let mut watch = PeerWatch::new(3);
        let mut pokes = Vec::new();
        for tick in 1..=(2 * POKE_AFTER_TICKS) {
            // Shard 2 ticks along; shard 1 is still.
            heartbeats.beat(2);
            for peer in watch.due(0, &heartbeats) {
                pokes.push((tick, peer));
            }
        }
        assert_eq!(pokes, [(POKE_AFTER_TICKS, 1), (2 * POKE_AFTER_TICKS, 1)]);
        heartbeats.beat(1);
        assert!(watch.due(0, &heartbeats).is_empty());
    }

    #[test]
    fn this_threads_state_is_found_by_name() {
        let handle = std::thread::Builder::new()
            .name("stall-test-1".into())
            .spawn(|| thread_state("stall-test-"))
            .expect("spawn");
        let state = handle.join().expect("join");
        assert!(state.starts_with("tid "), "{state}");
        assert_eq!(thread_state("no-such-thread"), "not found");
    }
}
