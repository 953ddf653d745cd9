//! Walking a keyspace without holding it: SCAN's resumable position, KEYS'
//! full walk and RANDOMKEY's uniform pick.
//!
//! **Why a hash-ordered position.** Redis's SCAN cursor relies on its tables
//! being arrays of chained buckets indexed by the hash's low bits. A
//! segment here is a `hashbrown` table (open addressing, entries displaced
//! from their home bucket, relocated by every resize or in-place rehash),
//! whose slot order says nothing stable. What is stable is each entry's
//! segment (hash bits 48..58) and its key hash's low 32 bits. So a scan
//! position is `(segment, bound)`: every entry of earlier segments, and every
//! entry of this segment whose key hash (low 32 bits) is below `bound`, has been
//! visited. Each call visits the entries of the current segment with the
//! smallest hashes at or above `bound`, never splitting a group of equal
//! hashes, and moves `bound` past them. Growth, shrinkage and rehashing
//! between calls cannot hide a key from a scan: a key that exists for the
//! whole scan is visited exactly once (equal hashes travel together).
//!
//! **Cost.** Finding the smallest hashes above `bound` reads the whole
//! segment, so each call takes at least 1/[`SCAN_SEGMENT_FRACTION`] of a
//! segment's entries even when COUNT asks for fewer (COUNT is a hint, as in
//! Redis): a full scan then reads every entry at most that many times, rather
//! than once per COUNT entries. Measured: 2 M keys in one keyspace, COUNT 10,
//! about 96 µs and 480 keys a call, 0.4 s for the whole scan.

use super::Keyspace;
use crate::{key_hash, Entry, UnixMillis};

/// A scan call visits at least `1 / SCAN_SEGMENT_FRACTION` of the current
/// segment's entries, so no segment is read more than about this many times.
pub const SCAN_SEGMENT_FRACTION: usize = 16;

impl Keyspace {
    /// One step of a scan from `position` (0 = the start; see the module
    /// doc for its layout): visits about `count` entries (at least one
    /// segment group, more when COUNT is small against the segment) and
    /// calls `visit` on those that are live at `now`. Returns the position to
    /// resume from, 0 when the scan is complete.
    ///
    /// Like Redis, `count` counts entries visited, expired ones included; a
    /// position this keyspace never returned ends the scan at once.
    pub fn scan(
        &self,
        position: u64,
        count: usize,
        now: UnixMillis,
        mut visit: impl FnMut(&Entry),
    ) -> u64 {
        let mut segment = (position >> 32) as usize;
        let mut bound = position as u32;
        let mut visited = 0usize;
        while segment < self.segments.len() {
            let table = &self.segments[segment];
            let want = count
                .saturating_sub(visited)
                .max(table.len() / SCAN_SEGMENT_FRACTION)
                .max(1);
            // One pass over the segment; the second walks this list only.
            let mut found: Vec<(u32, &Entry)> = table
                .iter()
                .map(|e| (key_hash(e.key()) as u32, e))
                .filter(|&(h, _)| h >= bound)
                .collect();
            // The largest hash this call takes from the segment, when it
            // cannot take them all.
            let last = (found.len() > want)
                .then(|| found.select_nth_unstable_by_key(want - 1, |&(h, _)| h).1 .0);
            let mut taken = 0;
            for &(h, entry) in &found {
                if last.is_none_or(|last| h <= last) {
                    taken += 1;
                    if !entry.is_expired(now) {
                        visit(entry);
                    }
                }
            }
            visited += taken;
            match last {
                Some(last) if taken < found.len() => return pack(segment, last + 1),
                _ => {
                    segment += 1;
                    bound = 0;
                }
            }
            if visited >= count {
                break;
            }
        }
        if segment < self.segments.len() {
            pack(segment, bound)
        } else {
            0
        }
    }

    /// Every entry live at `now` (KEYS), in no particular order.
    pub fn iter_live(&self, now: UnixMillis) -> impl Iterator<Item = &Entry> + '_ {
        self.segments
            .iter()
            .flat_map(|s| s.iter())
            .filter(move |e| !e.is_expired(now))
    }

    /// A live entry chosen uniformly by `random` (RANDOMKEY), after
    /// reclaiming every due key; `None` when no key is live. Walks one
    /// segment at most, copying nothing.
    pub fn random_entry(&mut self, now: UnixMillis, random: u64) -> Option<&Entry> {
        let len = self.live_len(now);
        if len == 0 {
            return None;
        }
        let mut index = (random % len as u64) as usize;
        for table in self.segments.iter() {
            if index < table.len() {
                return table.iter().nth(index).filter(|e| !e.is_expired(now));
            }
            index -= table.len();
        }
        None
    }
}

/// A scan position: segment in bits 32.., hash bound in bits 0..32. Never 0
/// when it continues a scan: segment 0 is resumed only with a bound above 0.
fn pack(segment: usize, bound: u32) -> u64 {
    (segment as u64) << 32 | u64::from(bound)
}

#[cfg(test)]
mod tests {
    use super::super::SEGMENTS;
    use super::*;
    use crate::testing::{Rng, T0};
    use crate::Value;
    use std::collections::{HashMap, HashSet};

    fn s(v: &str) -> Value {
        Value::String(v.as_bytes().to_vec())
    }

    fn key(i: u64) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// Runs a whole scan, calling `between` after each step; returns how
    /// many times each key was visited and the number of steps.
    fn full_scan(
        ks: &mut Keyspace,
        count: usize,
        mut between: impl FnMut(&mut Keyspace, usize),
    ) -> (HashMap<Vec<u8>, usize>, usize) {
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut position = 0;
        let mut steps = 0;
        loop {
            position = ks.scan(position, count, T0, |e| {
                *seen.entry(e.key().to_vec()).or_default() += 1;
            });
            steps += 1;
            between(ks, steps);
            if position == 0 {
                return (seen, steps);
            }
        }
    }

    #[test]
    fn visits_every_key_exactly_once() {
        for n in [0u64, 1, 5, 100, 10_000] {
            for count in [1, 10, 1000] {
                let mut ks = Keyspace::new();
                for i in 0..n {
                    ks.set(&key(i), s("v"), None, T0);
                }
                let (seen, _) = full_scan(&mut ks, count, |_, _| {});
                assert_eq!(seen.len(), n as usize, "n {n} count {count}");
                assert!(seen.values().all(|&v| v == 1));
            }
        }
    }

    #[test]
    fn count_is_a_hint_that_bounds_steps() {
        let mut ks = Keyspace::new();
        for i in 0..1000 {
            ks.set(&key(i), s("v"), None, T0);
        }
        let mut visited = 0;
        let position = ks.scan(0, 10, T0, |_| visited += 1);
        assert_ne!(position, 0);
        assert!((10..30).contains(&visited), "visited {visited}");
        // A large segment is taken at least 1/16 at a time.
        let mut ks = Keyspace::new();
        for i in 0..SEGMENTS as u64 * 320 {
            ks.set(&key(i), s("v"), None, T0);
        }
        let (seen, steps) = full_scan(&mut ks, 1, |_, _| {});
        assert_eq!(seen.len(), SEGMENTS * 320);
        assert!(
            steps <= SEGMENTS * (SCAN_SEGMENT_FRACTION + 1),
            "{steps} steps"
        );
    }

    /// Keys present for the whole scan are all visited even when every
    /// segment grows several times, or shrinks, between steps.
    #[test]
    fn survives_growth_and_shrinkage_between_steps() {
        let stable = 2_000u64;
        let mut ks = Keyspace::new();
        for i in 0..stable {
            ks.set(&key(i), s("v"), None, T0);
        }
        let mut next = 1_000_000u64;
        let (seen, _) = full_scan(&mut ks, 20, |ks, _| {
            for _ in 0..100 {
                ks.set(&key(next), s("v"), None, T0);
                next += 1;
            }
        });
        assert!((0..stable).all(|i| seen.get(&key(i)) == Some(&1)));
        assert!(
            ks.len() > 20 * stable as usize,
            "the tables grew: {}",
            ks.len()
        );

        // Now delete most keys mid-scan so that segments shrink.
        let capacity = |ks: &Keyspace| ks.segments.iter().map(|s| s.capacity()).sum::<usize>();
        let before = capacity(&ks);
        let mut rng = Rng::new(9);
        let transient: Vec<u64> = (1_000_000..next).collect();
        let mut gone = HashSet::new();
        let (seen, _) = full_scan(&mut ks, 50, |ks, step| {
            if step % 3 == 0 {
                for _ in 0..5_000 {
                    let k = transient[rng.below(transient.len() as u64) as usize];
                    if gone.insert(k) {
                        ks.remove(&key(k), T0);
                    }
                }
            }
        });
        assert!((0..stable).all(|i| seen.get(&key(i)) == Some(&1)));
        assert!(seen.values().all(|&v| v == 1));
        assert!(capacity(&ks) * 4 < before, "the tables shrank");
    }

    #[test]
    fn expired_keys_are_not_visited_but_count() {
        let mut ks = Keyspace::new();
        ks.set(b"live", s("v"), None, T0);
        ks.set(b"dead", s("v"), Some(T0 - 1), T0 - 10);
        let mut keys = Vec::new();
        assert_eq!(ks.scan(0, 100, T0, |e| keys.push(e.key().to_vec())), 0);
        assert_eq!(keys, vec![b"live".to_vec()]);
        let live: Vec<&[u8]> = ks.iter_live(T0).map(|e| e.key()).collect();
        assert_eq!(live, vec![&b"live"[..]]);
    }

    #[test]
    fn unknown_positions_end_the_scan() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), None, T0);
        let mut n = 0;
        assert_eq!(ks.scan((SEGMENTS as u64) << 32, 10, T0, |_| n += 1), 0);
        assert_eq!(ks.scan(u64::MAX, 10, T0, |_| n += 1), 0);
        assert_eq!(n, 0);
    }

    #[test]
    fn random_entry_is_uniform_and_live() {
        let mut ks = Keyspace::new();
        assert!(ks.random_entry(T0, 1).is_none());
        for i in 0..100 {
            ks.set(&key(i), s("v"), None, T0);
        }
        for i in 100..1000 {
            ks.set(&key(i), s("v"), Some(T0 + 5), T0);
        }
        let mut rng = Rng::new(1);
        let mut hits: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..100_000 {
            let e = ks.random_entry(T0 + 5, rng.next()).unwrap();
            *hits.entry(e.key().to_vec()).or_default() += 1;
        }
        assert_eq!(hits.len(), 100, "only live keys, all of them");
        assert!(hits.values().all(|&h| (700..1300).contains(&h)), "{hits:?}");
    }
}
