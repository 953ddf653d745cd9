//! `Keyspace`: one database of one shard, a segmented hash table of entries
//! plus the timer wheel that reclaims expired keys.
//!
//! **Segments.** The keys live in 1024 small tables chosen by bits 48..58 of
//! the key hash, so a table that grows rehashes 1/1024 of the keys: a
//! database of 10 M keys never stalls an insert on a 10 M-entry rehash
//! (`cargo bench -p store --bench growth` measures the stalls against one
//! table: with 5 M keys, 256 segments still stalled up to 2 ms at p99.99).
//! Each segment is an index of slot numbers over a slab of 64-byte entries
//! that hold small keys and values inline (see `segment.rs` and `entry.rs`).
//!
//! **Expiry.** A deadline is checked on every access (lazy expiry: a key is
//! gone from the millisecond its deadline is `<= now`), and every key with a
//! deadline has a *guard* in the [`TimerWheel`]: an entry (hash, g) with
//! `g <= deadline`. When a guard fires, due keys with that hash are deleted;
//! a key whose deadline has since moved later is re-armed at its new
//! deadline; anything else (overwritten, persisted, deleted) ignores it. So
//! nothing keeps a handle into the wheel, and extending a TTL (the
//! sliding-expiration pattern, `EXPIRE` on every access) schedules nothing:
//! the existing guard is reused, and the wheel keeps one entry per key rather
//! than one per `EXPIRE` call.
//!
//! To tell its own guard from stale wheel entries (left by a deadline that
//! was cleared or shortened), a key remembers the low 8 bits of its guard's
//! deadline (the *guard tag*). A stale entry with a colliding tag is taken
//! for the guard and merely re-arms the key early; it never creates an extra
//! entry, so the wheel never holds more entries than schedules made.

use crate::entry::{is_due, secs, Incoming, Meta};
use crate::wheel::TimerWheel;
use crate::{key_hash, Encoding, Entry, EntryMut, UnixMillis, Value};

mod scan;
mod segment;
pub use scan::SCAN_SEGMENT_FRACTION;
use segment::Segment;

/// Number of segments: bits 48..58 of the key hash choose one.
pub const SEGMENTS: usize = 1024;
const SEGMENT_SHIFT: u32 = 48;

/// The latest deadline: Redis's deadlines are signed 64-bit milliseconds.
/// Later deadlines are stored as this.
pub const MAX_DEADLINE: UnixMillis = i64::MAX as UnixMillis;

/// The segment of `hash` among `segments` (a power of two, at most 65536).
#[inline]
fn segment_of(hash: u64, segments: usize) -> usize {
    (hash >> SEGMENT_SHIFT) as usize & (segments - 1)
}

/// The guard tag of a wheel entry at `deadline`.
#[inline]
fn tag_of(deadline: UnixMillis) -> u8 {
    deadline as u8
}

/// The raw deadline for an optional one: `Some(0)` is a deadline long past.
#[inline]
fn encode_deadline(deadline: Option<UnixMillis>) -> UnixMillis {
    deadline.map_or(0, |d| d.clamp(1, MAX_DEADLINE))
}

/// The guard tag of a key whose raw deadline changes from `old` (guarded by
/// `old_tag`) to `new`, and whether a new guard must be scheduled at `new`.
/// The old guard (at or before the old deadline) still covers any later
/// deadline.
#[inline]
fn rearm(old: UnixMillis, old_tag: u8, new: UnixMillis) -> (u8, bool) {
    if new == 0 {
        (0, false)
    } else if old != 0 && old <= new {
        (old_tag, false)
    } else {
        (tag_of(new), true)
    }
}

/// What one active-expiry pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpireOutcome {
    /// Keys deleted because their deadline passed.
    pub expired: usize,
    /// True when the budget ran out with due entries left.
    pub more: bool,
}

/// The counters a keyspace keeps exact across every operation.
#[derive(Debug, Default)]
struct Counts {
    /// Entries stored.
    len: usize,
    /// Entries with a deadline.
    expires: usize,
    /// Entries deleted by expiry since creation.
    expired_total: u64,
    /// The sum of the deadlines of the entries that have one, for INFO's
    /// `avg_ttl`: kept with `expires`, so the average costs one division.
    deadline_sum: u128,
    /// The heap bytes of the entries stored (see [`Entry::heap_bytes`]):
    /// kept wherever an entry comes, goes or changes its value, so the
    /// keyspace's memory costs no walk over its entries.
    heap_bytes: usize,
}

impl Counts {
    /// Accounts for an entry taken out of the table; true if it had expired.
    #[inline]
    fn removed(&mut self, entry: &Entry, now: UnixMillis) -> bool {
        self.len -= 1;
        self.heap_bytes -= entry.heap_bytes();
        let deadline = entry.raw_deadline();
        if deadline != 0 {
            self.expires -= 1;
            self.deadline_sum -= u128::from(deadline);
        }
        let expired = entry.is_expired(now);
        if expired {
            self.expired_total += 1;
        }
        expired
    }

    /// Accounts for a deadline changing from `old` to `new` (raw).
    #[inline]
    fn deadline_changed(&mut self, old: UnixMillis, new: UnixMillis) {
        if old != new {
            // A raw deadline of 0 is none and adds nothing.
            self.deadline_sum = self.deadline_sum + u128::from(new) - u128::from(old);
        }
        match (old != 0, new != 0) {
            (true, false) => self.expires -= 1,
            (false, true) => self.expires += 1,
            _ => {}
        }
    }
}

/// One database of one shard.
pub struct Keyspace {
    segments: Box<[Segment]>,
    counts: Counts,
    wheel: TimerWheel,
}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Self {
        Self::with_segments(SEGMENTS)
    }

    /// An empty keyspace of `count` segments, rounded to a power of two in
    /// 1..=[`SEGMENTS`]. Fewer segments only serve benchmarks: one is the
    /// single table a non-segmented design would have, whose growth stalls
    /// `scripts/bench` and `cargo bench -p store --bench growth` report.
    pub fn with_segments(count: usize) -> Self {
        let count = count.clamp(1, SEGMENTS).next_power_of_two();
        Self {
            segments: empty_segments(count),
            counts: Counts::default(),
            wheel: TimerWheel::new(),
        }
    }

    /// Entries stored, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.counts.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live keys at `now`: reclaims every due key first, so the count is exact.
    pub fn live_len(&mut self, now: UnixMillis) -> usize {
        while self.expire_due(now, usize::MAX).more {}
        self.counts.len
    }

    /// Keys with a deadline (INFO keyspace `expires=`).
    pub fn expires_len(&self) -> usize {
        self.counts.expires
    }

    /// The sum of the deadlines (unix ms) of the keys that have one:
    /// divided by [`Keyspace::expires_len`], their mean deadline.
    pub fn deadline_sum(&self) -> u128 {
        self.counts.deadline_sum
    }

    /// Keys deleted by expiry (lazy or active) since creation.
    pub fn expired_total(&self) -> u64 {
        self.counts.expired_total
    }

    /// Entries waiting in the TTL wheel (at least one per key with a
    /// deadline, plus stale ones until their time comes).
    pub fn wheel_len(&self) -> usize {
        self.wheel.len()
    }

    /// The live entry for `key`, its access time set to `now` (every read
    /// and write of a key goes through here or [`Keyspace::get_mut`]); an
    /// expired entry is deleted and `None` returned.
    #[inline]
    pub fn get(&mut self, key: &[u8], now: UnixMillis) -> Option<&Entry> {
        let entry = live_entry(&mut self.segments, &mut self.counts, key, now)?;
        entry.touch(now);
        Some(entry)
    }

    /// [`Keyspace::get`] for a command that changes the value in place
    /// (APPEND, SETRANGE, INCR ...): the [`EntryMut`] keeps the keyspace's
    /// memory count true through the change.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], now: UnixMillis) -> Option<EntryMut<'_>> {
        let Self {
            segments, counts, ..
        } = self;
        let entry = live_entry(segments, counts, key, now)?;
        entry.touch(now);
        Some(EntryMut::new(entry, &mut counts.heap_bytes))
    }

    /// The live entry for `key` without recording an access (OBJECT, TYPE,
    /// EXISTS and TTL look without touching, as in Redis); an expired entry
    /// is deleted and `None` returned.
    #[inline]
    pub fn peek(&mut self, key: &[u8], now: UnixMillis) -> Option<&Entry> {
        live_entry(&mut self.segments, &mut self.counts, key, now).map(|entry| &*entry)
    }

    /// Stores `value` under `key` with `deadline` (None: no TTL), replacing any
    /// entry; returns the previous live entry. The value gets the encoding
    /// Redis gives a value a client stores ([`Value::stored_encoding`]) and
    /// the access time `now`.
    ///
    /// The returned previous entry carries its value, deadline, encoding and
    /// access time; its `key()` may be empty (the caller holds the key).
    #[inline]
    pub fn set(
        &mut self,
        key: &[u8],
        value: Value,
        deadline: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<Entry> {
        let encoding = value.stored_encoding();
        self.set_encoded(key, value, encoding, deadline, now)
    }

    /// [`Keyspace::set`] of a string given as bytes: a value that fits in the
    /// entry with its key is copied there and nothing is allocated.
    #[inline]
    pub fn set_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        deadline: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<Entry> {
        let encoding = Encoding::of_stored_string(value);
        self.store(
            key,
            Incoming::Bytes(value),
            deadline,
            encoding,
            secs(now),
            now,
        )
    }

    /// [`Keyspace::set`] with the encoding given (for values a command
    /// builds, e.g. INCRBYFLOAT's `embstr` result that looks like an integer).
    #[inline]
    pub fn set_encoded(
        &mut self,
        key: &[u8],
        value: Value,
        encoding: Encoding,
        deadline: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<Entry> {
        self.store(
            key,
            Incoming::Owned(value),
            deadline,
            encoding,
            secs(now),
            now,
        )
    }

    /// Stores an entry taken from another keyspace (see [`crate::EntryParts`])
    /// under `key`, keeping its deadline, encoding and access time, and
    /// replacing any entry; returns the previous live entry as
    /// [`Keyspace::set`] does. A deadline `<= now` stores a key that is
    /// already expired (gone for every read); callers that move keys usually
    /// check first.
    pub fn insert_parts(
        &mut self,
        key: &[u8],
        parts: crate::EntryParts,
        now: UnixMillis,
    ) -> Option<Entry> {
        self.store(
            key,
            Incoming::Owned(parts.value),
            parts.deadline,
            parts.encoding,
            parts.access_secs,
            now,
        )
    }

    #[inline]
    fn store(
        &mut self,
        key: &[u8],
        value: Incoming<'_>,
        deadline: Option<UnixMillis>,
        encoding: Encoding,
        access_secs: u32,
        now: UnixMillis,
    ) -> Option<Entry> {
        let hash = key_hash(key);
        let new = encode_deadline(deadline);
        let segment = &mut self.segments[segment_of(hash, self.segments.len())];
        match segment.find(hash, key) {
            Some(slot) => {
                let entry = segment.get_mut(slot);
                let old = entry.raw_deadline();
                let (tag, schedule) = rearm(old, entry.guard_tag(), new);
                let meta = Meta {
                    deadline: new,
                    tag,
                    encoding,
                    access_secs,
                };
                let previous = entry.replace_counted(key, value, meta, &mut self.counts.heap_bytes);
                if schedule {
                    self.wheel.schedule(new, hash, now);
                }
                self.counts.deadline_changed(old, new);
                if is_due(old, now) {
                    self.counts.expired_total += 1;
                    None
                } else {
                    Some(previous)
                }
            }
            None => {
                let (tag, schedule) = rearm(0, 0, new);
                let meta = Meta {
                    deadline: new,
                    tag,
                    encoding,
                    access_secs,
                };
                let entry = Entry::new(key, value, meta);
                self.counts.heap_bytes += entry.heap_bytes();
                segment.insert(hash, entry);
                if schedule {
                    self.wheel.schedule(new, hash, now);
                }
                self.counts.len += 1;
                self.counts.deadline_changed(0, new);
                None
            }
        }
    }

    /// Deletes `key`; returns the removed live entry.
    #[inline]
    pub fn remove(&mut self, key: &[u8], now: UnixMillis) -> Option<Entry> {
        let hash = key_hash(key);
        let segment = &mut self.segments[segment_of(hash, self.segments.len())];
        let slot = segment.find(hash, key)?;
        let entry = segment.remove(hash, slot);
        let expired = self.counts.removed(&entry, now);
        (!expired).then_some(entry)
    }

    /// Sets or clears the deadline of a live key (an access: its access time
    /// becomes `now`); false when the key does not exist.
    #[inline]
    pub fn set_deadline(
        &mut self,
        key: &[u8],
        deadline: Option<UnixMillis>,
        now: UnixMillis,
    ) -> bool {
        let hash = key_hash(key);
        let new = encode_deadline(deadline);
        let segment = &mut self.segments[segment_of(hash, self.segments.len())];
        let Some(slot) = segment.find(hash, key) else {
            return false;
        };
        if segment.get(slot).is_expired(now) {
            let entry = segment.remove(hash, slot);
            self.counts.removed(&entry, now);
            return false;
        }
        let entry = segment.get_mut(slot);
        let old = entry.raw_deadline();
        let (tag, schedule) = rearm(old, entry.guard_tag(), new);
        entry.set_raw_deadline(new);
        entry.set_guard_tag(tag);
        entry.touch(now);
        if schedule {
            self.wheel.schedule(new, hash, now);
        }
        self.counts.deadline_changed(old, new);
        true
    }

    /// Deletes up to `budget` keys whose deadline is `<= now` (active expiry).
    ///
    /// The budget bounds wheel entries processed (each deletes at most one
    /// key, barring 64-bit hash collisions); `more` says that due work is
    /// left for another call.
    pub fn expire_due(&mut self, now: UnixMillis, budget: usize) -> ExpireOutcome {
        let Self {
            segments,
            counts,
            wheel,
        } = self;
        let before = counts.expired_total;
        let advance = wheel.advance(now, budget, |hash, deadline| {
            let segment = segment_of(hash, segments.len());
            on_guard_fired(&mut segments[segment], counts, hash, deadline, now)
        });
        ExpireOutcome {
            expired: (counts.expired_total - before) as usize,
            more: advance.more,
        }
    }

    /// Deletes everything (and frees the tables' memory).
    pub fn clear(&mut self) {
        self.segments = empty_segments(self.segments.len());
        self.wheel.clear();
        self.counts.len = 0;
        self.counts.expires = 0;
        self.counts.deadline_sum = 0;
        self.counts.heap_bytes = 0;
    }

    /// Bytes this keyspace holds on the heap, as requested from the
    /// allocator (its overhead not included): its tables (each segment's
    /// slab chunks, free-slot list and index), its timer wheel, and the
    /// heap blocks of the keys and values that do not fit inline in their
    /// entry. The tables are summed here (a few thousand segments and wheel
    /// slots: microseconds); the keys and values are a running count. What
    /// the keyspace holds, whichever thread allocated or will free it.
    pub fn memory_bytes(&self) -> usize {
        let tables: usize = self.segments.iter().map(Segment::memory_bytes).sum();
        self.segments.len() * std::mem::size_of::<Segment>()
            + tables
            + self.wheel.memory_bytes()
            + self.counts.heap_bytes
    }

    /// The part of [`Keyspace::memory_bytes`] that is the heap blocks of
    /// keys and values.
    pub fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes
    }
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new()
    }
}

/// The live entry for `key` in `segments`, whose counts are `counts`; an
/// expired one is deleted and `None` returned.
#[inline]
fn live_entry<'s>(
    segments: &'s mut [Segment],
    counts: &mut Counts,
    key: &[u8],
    now: UnixMillis,
) -> Option<&'s mut Entry> {
    let hash = key_hash(key);
    let segment = &mut segments[segment_of(hash, segments.len())];
    let slot = segment.find(hash, key)?;
    if segment.get(slot).is_expired(now) {
        let entry = segment.remove(hash, slot);
        counts.removed(&entry, now);
        return None;
    }
    Some(segment.get_mut(slot))
}

fn empty_segments(count: usize) -> Box<[Segment]> {
    (0..count).map(|_| Segment::default()).collect()
}

/// A guard (hash, `fired`) came due: deletes the due keys with that hash and
/// re-arms the keys it guarded whose deadline has moved later. Returns when
/// to fire again, if any key still needs it.
///
/// Keys are matched on their full 64-bit hash (recomputed from the key; a
/// 64-bit collision is handled too: each matching key is judged on its own
/// deadline).
fn on_guard_fired(
    segment: &mut Segment,
    counts: &mut Counts,
    hash: u64,
    fired: UnixMillis,
    now: UnixMillis,
) -> Option<UnixMillis> {
    let tag = tag_of(fired);
    let mut rearm_at: Option<UnixMillis> = None;
    loop {
        // Deleting may compact the segment and move slots: find afresh.
        let due = segment.slots_for(hash).find(|&slot| {
            let e = segment.get(slot);
            is_due(e.raw_deadline(), now) && key_hash(e.key()) == hash
        });
        let Some(slot) = due else { break };
        let entry = segment.remove(hash, slot);
        counts.removed(&entry, now);
    }
    let guarded: Vec<u32> = segment
        .slots_for(hash)
        .filter(|&slot| {
            let e = segment.get(slot);
            e.raw_deadline() > now && e.guard_tag() == tag && key_hash(e.key()) == hash
        })
        .collect();
    for &slot in &guarded {
        let deadline = segment.get(slot).raw_deadline();
        rearm_at = Some(rearm_at.map_or(deadline, |at| at.min(deadline)));
    }
    let at = rearm_at?;
    // Every key this guard covered now relies on the new one (one key, but
    // for hash collisions).
    for slot in guarded {
        segment.get_mut(slot).set_guard_tag(tag_of(at));
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, T0};
    use crate::{EntryParts, ValueRef};
    use std::collections::HashMap;

    fn s(v: &str) -> Value {
        Value::String(v.as_bytes().to_vec())
    }

    fn value_of(ks: &mut Keyspace, key: &str, now: u64) -> Option<String> {
        ks.get(key.as_bytes(), now).map(|e| match e.value() {
            ValueRef::String(v) => String::from_utf8(v.to_vec()).unwrap(),
        })
    }

    /// Drives active expiry to completion and returns the keys it deleted.
    fn expire_all(ks: &mut Keyspace, now: u64) -> usize {
        let mut n = 0;
        loop {
            let out = ks.expire_due(now, 1000);
            n += out.expired;
            if !out.more {
                return n;
            }
        }
    }

    /// True when `key` is physically stored (expired or not).
    fn stored(ks: &Keyspace, key: &[u8]) -> bool {
        let hash = key_hash(key);
        ks.segments[segment_of(hash, SEGMENTS)]
            .find(hash, key)
            .is_some()
    }

    /// Recounts what the counters claim, by walking every segment.
    fn check_counts(ks: &Keyspace) {
        let len: usize = ks.segments.iter().map(|s| s.len()).sum();
        let expires: usize = ks
            .segments
            .iter()
            .flat_map(|s| s.iter())
            .filter(|e| e.deadline().is_some())
            .count();
        assert_eq!(ks.len(), len);
        assert_eq!(ks.expires_len(), expires);
        assert_eq!(ks.heap_bytes(), heap_recount(ks));
    }

    /// The heap bytes of every entry stored, counted one by one.
    fn heap_recount(ks: &Keyspace) -> usize {
        ks.segments
            .iter()
            .flat_map(|s| s.iter())
            .map(Entry::heap_bytes)
            .sum()
    }

    #[test]
    fn encoding_follows_how_the_value_was_stored() {
        let mut ks = Keyspace::new();
        ks.set(b"i", s("123"), None, T0);
        ks.set(b"e", s("hello"), None, T0);
        ks.set(b"r", s(&"x".repeat(45)), None, T0);
        ks.set_encoded(b"f", s("6"), Encoding::Embstr, None, T0);
        let enc = |ks: &mut Keyspace, k: &[u8]| ks.peek(k, T0).unwrap().encoding();
        assert_eq!(enc(&mut ks, b"i"), Encoding::Int);
        assert_eq!(enc(&mut ks, b"e"), Encoding::Embstr);
        assert_eq!(enc(&mut ks, b"r"), Encoding::Raw);
        assert_eq!(enc(&mut ks, b"f"), Encoding::Embstr);
        let mut e = ks.get_mut(b"i", T0).unwrap();
        e.set_encoding(Encoding::Raw);
        assert_eq!(e.encoding(), Encoding::Raw);
        // Changing the encoding keeps the deadline's guard and access time.
        ks.set(b"t", s("1"), Some(T0 + 10), T0);
        ks.get_mut(b"t", T0).unwrap().set_encoding(Encoding::Raw);
        assert_eq!(expire_all(&mut ks, T0 + 10), 1);
        // Overwriting returns the old encoding and takes the new one.
        let old = ks.set(b"i", s("abc"), None, T0).unwrap();
        assert_eq!(old.encoding(), Encoding::Raw);
        assert_eq!(enc(&mut ks, b"i"), Encoding::Embstr);
    }

    #[test]
    fn reads_and_writes_touch_peek_does_not() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), None, T0);
        assert_eq!(ks.peek(b"k", T0 + 5_000).unwrap().idle_secs(T0 + 5_000), 5);
        assert_eq!(ks.peek(b"k", T0 + 9_999).unwrap().idle_secs(T0 + 9_999), 9);
        assert!(ks.get(b"k", T0 + 10_000).is_some());
        assert_eq!(
            ks.peek(b"k", T0 + 12_000).unwrap().idle_secs(T0 + 12_000),
            2
        );
        assert!(ks.set_deadline(b"k", Some(T0 + 100_000), T0 + 20_000));
        assert_eq!(
            ks.peek(b"k", T0 + 20_000).unwrap().idle_secs(T0 + 20_000),
            0
        );
        ks.set(b"k", s("w"), None, T0 + 30_000);
        let e = ks.peek(b"k", T0 + 31_000).unwrap();
        assert_eq!(e.access_secs(), ((T0 + 30_000) / 1000) as u32);
        assert_eq!(e.idle_secs(T0), 0);
        // A peek still reclaims an expired key.
        ks.set(b"x", s("v"), Some(T0 + 1), T0);
        assert!(ks.peek(b"x", T0 + 1).is_none());
        assert_eq!(ks.expired_total(), 1);
    }

    #[test]
    fn entries_move_between_keyspaces_whole() {
        let mut from = Keyspace::new();
        let mut to = Keyspace::new();
        from.set(b"k", s("12"), Some(T0 + 5_000), T0);
        from.get_mut(b"k", T0).unwrap().set_encoding(Encoding::Raw);
        let parts = from.remove(b"k", T0 + 2_000).unwrap().into_parts();
        assert_eq!(
            parts,
            EntryParts {
                value: s("12"),
                deadline: Some(T0 + 5_000),
                encoding: Encoding::Raw,
                access_secs: (T0 / 1000) as u32,
            }
        );
        assert!(from.is_empty());
        assert!(to.insert_parts(b"dst", parts, T0 + 2_000).is_none());
        let e = to.peek(b"dst", T0 + 3_000).unwrap();
        assert_eq!(e.value(), s("12").as_ref());
        assert_eq!(e.deadline(), Some(T0 + 5_000));
        assert_eq!(e.encoding(), Encoding::Raw);
        assert_eq!(e.idle_secs(T0 + 3_000), 3);
        assert_eq!(to.expires_len(), 1);
        assert_eq!(expire_all(&mut to, T0 + 5_000), 1);
    }

    #[test]
    fn deadlines_keep_all_64_bits() {
        let mut ks = Keyspace::new();
        let far = 9_000_000_000_000_000_000;
        ks.set(b"k", s("v"), Some(far), T0);
        assert_eq!(ks.get(b"k", T0).unwrap().deadline(), Some(far));
        assert!(ks.set_deadline(b"k", Some(i64::MAX as u64), T0));
        assert_eq!(ks.get(b"k", T0).unwrap().deadline(), Some(MAX_DEADLINE));
        assert_eq!(expire_all(&mut ks, T0 + 1_000_000), 0);
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn memory_usage_counts_entry_key_and_value() {
        let mut ks = Keyspace::new();
        let mut v = Vec::with_capacity(100);
        v.extend_from_slice(b"abc");
        ks.set(b"key", Value::String(v), None, T0);
        // Small enough to be stored inline: the slot only.
        assert_eq!(ks.peek(b"key", T0).unwrap().memory_usage(), 64);
        ks.set_string(b"key", &[b'x'; 100], None, T0);
        assert_eq!(
            ks.peek(b"key", T0).unwrap().memory_usage(),
            std::mem::size_of::<Entry>() + 3 + 100
        );
    }

    #[test]
    fn set_get_overwrite_remove() {
        let mut ks = Keyspace::new();
        assert!(ks.is_empty());
        assert!(ks.get(b"a", T0).is_none());
        assert!(ks.set(b"a", s("1"), None, T0).is_none());
        assert_eq!(value_of(&mut ks, "a", T0).as_deref(), Some("1"));
        assert_eq!(ks.get(b"a", T0).unwrap().key(), b"a");
        assert_eq!(ks.len(), 1);

        let old = ks.set(b"a", s("2"), Some(T0 + 100), T0).unwrap();
        assert_eq!(old.value(), s("1").as_ref());
        assert_eq!(old.deadline(), None);
        assert_eq!(value_of(&mut ks, "a", T0).as_deref(), Some("2"));
        assert_eq!(ks.get(b"a", T0).unwrap().deadline(), Some(T0 + 100));
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.expires_len(), 1);

        let old = ks.set(b"a", s("3"), None, T0).unwrap();
        assert_eq!(old.deadline(), Some(T0 + 100));
        assert_eq!(old.into_value(), s("2"));
        assert_eq!(ks.expires_len(), 0);

        if let Some(mut e) = ks.get_mut(b"a", T0) {
            let Value::String(v) = &mut *e.value_mut();
            v.push(b'!');
        }
        assert_eq!(value_of(&mut ks, "a", T0).as_deref(), Some("3!"));

        ks.set(b"b", s("x"), None, T0);
        assert_eq!(ks.len(), 2);
        let removed = ks.remove(b"a", T0).unwrap();
        assert_eq!(removed.key(), b"a");
        assert_eq!(removed.value(), s("3!").as_ref());
        assert!(ks.remove(b"a", T0).is_none());
        assert!(ks.get(b"a", T0).is_none());
        assert_eq!(ks.len(), 1);
        assert_eq!(value_of(&mut ks, "b", T0).as_deref(), Some("x"));
        assert_eq!(ks.expired_total(), 0);
        check_counts(&ks);
    }

    #[test]
    fn binary_and_empty_keys() {
        let mut ks = Keyspace::new();
        ks.set(b"", s("empty"), None, T0);
        ks.set(b"\x00\xff\r\n", s("bin"), None, T0);
        assert_eq!(value_of(&mut ks, "", T0).as_deref(), Some("empty"));
        assert_eq!(
            ks.get(b"\x00\xff\r\n", T0).unwrap().value(),
            s("bin").as_ref()
        );
        assert!(ks.get(b"\x00\xff\r", T0).is_none());
    }

    #[test]
    fn lazy_expiry_at_exactly_the_deadline() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), Some(T0 + 10), T0);
        assert!(ks.get(b"k", T0 + 9).is_some());
        assert_eq!(ks.expired_total(), 0);
        assert!(ks.get(b"k", T0 + 10).is_none());
        assert_eq!(ks.expired_total(), 1);
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.expires_len(), 0);
        // The wheel's entry later finds nothing to delete.
        assert_eq!(expire_all(&mut ks, T0 + 20), 0);
        assert_eq!(ks.expired_total(), 1);
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn deadline_now_plus_one_is_alive_now_is_not() {
        let mut ks = Keyspace::new();
        ks.set(b"alive", s("v"), Some(T0 + 1), T0);
        ks.set(b"dead", s("v"), Some(T0), T0);
        ks.set(b"ancient", s("v"), Some(0), T0);
        assert_eq!(ks.len(), 3);
        assert!(ks.get(b"alive", T0).is_some());
        assert!(ks.get(b"dead", T0).is_none());
        assert!(ks.get(b"ancient", T0).is_none());
        assert_eq!(ks.live_len(T0), 1);
        assert!(ks.get(b"alive", T0 + 1).is_none());
        assert_eq!(ks.expired_total(), 3);
    }

    #[test]
    fn remove_and_set_deadline_treat_expired_as_absent() {
        let mut ks = Keyspace::new();
        ks.set(b"a", s("v"), Some(T0 + 5), T0);
        ks.set(b"b", s("v"), Some(T0 + 5), T0);
        ks.set(b"c", s("v"), Some(T0 + 5), T0);
        assert!(ks.remove(b"a", T0 + 5).is_none());
        assert!(!ks.set_deadline(b"b", None, T0 + 5));
        assert!(!ks.set_deadline(b"b", None, T0 + 5));
        assert_eq!(ks.expired_total(), 2);
        // set over an expired key: no previous live entry; the expired one counts.
        assert!(ks.set(b"c", s("new"), None, T0 + 5).is_none());
        assert_eq!(ks.expired_total(), 3);
        assert_eq!(
            value_of(&mut ks, "c", T0 + 1_000_000).as_deref(),
            Some("new")
        );
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.expires_len(), 0);
        check_counts(&ks);
    }

    #[test]
    fn set_deadline_sets_and_clears() {
        let mut ks = Keyspace::new();
        assert!(!ks.set_deadline(b"missing", Some(T0 + 5), T0));
        ks.set(b"k", s("v"), None, T0);
        assert!(ks.set_deadline(b"k", Some(T0 + 50), T0));
        assert_eq!(ks.get(b"k", T0).unwrap().deadline(), Some(T0 + 50));
        assert_eq!(ks.expires_len(), 1);
        assert!(ks.set_deadline(b"k", None, T0));
        assert_eq!(ks.get(b"k", T0).unwrap().deadline(), None);
        assert_eq!(ks.expires_len(), 0);
        assert!(ks.set_deadline(b"k", None, T0));
        assert_eq!(ks.expires_len(), 0);
        assert!(ks.get(b"k", T0 + 1000).is_some());
        // Clamped, not wrapped.
        assert!(ks.set_deadline(b"k", Some(u64::MAX), T0));
        assert_eq!(ks.get(b"k", T0).unwrap().deadline(), Some(MAX_DEADLINE));
    }

    #[test]
    fn wheel_deletes_untouched_keys() {
        let mut ks = Keyspace::new();
        for i in 0..100 {
            ks.set(format!("k{i}").as_bytes(), s("v"), Some(T0 + 1 + i), T0);
        }
        ks.set(b"forever", s("v"), None, T0);
        assert_eq!(expire_all(&mut ks, T0 + 50), 50);
        assert_eq!(ks.len(), 51);
        assert_eq!(ks.expires_len(), 50);
        assert_eq!(ks.expired_total(), 50);
        assert_eq!(expire_all(&mut ks, T0 + 100), 50);
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.expires_len(), 0);
        assert_eq!(ks.wheel_len(), 0);
        assert!(ks.get(b"forever", T0 + 100).is_some());
        check_counts(&ks);
    }

    #[test]
    fn overwrite_without_ttl_cancels_the_wheel_entry() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), Some(T0 + 10), T0);
        ks.set(b"k", s("w"), None, T0 + 1);
        assert_eq!(expire_all(&mut ks, T0 + 10), 0);
        assert_eq!(value_of(&mut ks, "k", T0 + 10).as_deref(), Some("w"));
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn persist_cancels_the_wheel_entry() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), Some(T0 + 10), T0);
        assert!(ks.set_deadline(b"k", None, T0 + 1));
        assert_eq!(expire_all(&mut ks, T0 + 10), 0);
        assert!(ks.get(b"k", T0 + 10_000).is_some());
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn re_expiring_later_survives_the_old_deadline() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), Some(T0 + 10), T0);
        assert!(ks.set_deadline(b"k", Some(T0 + 5000), T0 + 1));
        assert_eq!(expire_all(&mut ks, T0 + 10), 0);
        assert_eq!(expire_all(&mut ks, T0 + 4999), 0);
        assert!(ks.get(b"k", T0 + 4999).is_some());
        assert_eq!(expire_all(&mut ks, T0 + 5000), 1);
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn re_expiring_earlier_fires_early_and_the_old_entry_is_harmless() {
        let mut ks = Keyspace::new();
        ks.set(b"k", s("v"), Some(T0 + 5000), T0);
        assert!(ks.set_deadline(b"k", Some(T0 + 10), T0 + 1));
        assert_eq!(expire_all(&mut ks, T0 + 9), 0);
        assert_eq!(expire_all(&mut ks, T0 + 10), 1);
        // A new key under the same name with a later deadline survives the stale entry.
        ks.set(b"k", s("again"), Some(T0 + 9000), T0 + 11);
        assert_eq!(expire_all(&mut ks, T0 + 5000), 0);
        assert!(ks.get(b"k", T0 + 5000).is_some());
        assert_eq!(expire_all(&mut ks, T0 + 9000), 1);
        assert_eq!(ks.wheel_len(), 0);
        assert_eq!(ks.expired_total(), 2);
    }

    #[test]
    fn sliding_expiration_keeps_one_wheel_entry_per_key() {
        // EXPIRE on every access: the wheel must not grow with each call.
        let mut ks = Keyspace::new();
        ks.set(b"session", s("v"), Some(T0 + 1000), T0);
        let mut now = T0;
        for _ in 0..10_000 {
            now += 100;
            assert!(ks.set_deadline(b"session", Some(now + 1000), now));
            assert_eq!(expire_all(&mut ks, now), 0);
            assert!(ks.wheel_len() <= 1);
        }
        // SETEX-style overwrites with a later TTL likewise.
        for _ in 0..1000 {
            now += 100;
            ks.set(b"session", s("w"), Some(now + 1000), now);
            assert_eq!(expire_all(&mut ks, now), 0);
            assert!(ks.wheel_len() <= 1);
        }
        assert_eq!(expire_all(&mut ks, now + 1000), 1);
        assert_eq!(ks.wheel_len(), 0);
        assert_eq!(ks.expired_total(), 1);
    }

    #[test]
    fn set_then_expire_cycles_do_not_accumulate_wheel_entries() {
        // SET (clears the TTL) then EXPIRE, repeated: stale entries die at
        // their own deadline instead of being re-armed forever.
        let mut ks = Keyspace::new();
        let mut now = T0;
        for _ in 0..10_000 {
            now += 100;
            ks.set(b"k", s("v"), None, now);
            assert!(ks.set_deadline(b"k", Some(now + 1000), now));
            assert_eq!(expire_all(&mut ks, now), 0);
            assert!(ks.wheel_len() <= 11, "wheel holds {}", ks.wheel_len());
        }
        assert_eq!(expire_all(&mut ks, now + 1000), 1);
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn budgeted_expire_due_carries_work_over() {
        let mut ks = Keyspace::new();
        for i in 0..1000u64 {
            ks.set(format!("k{i}").as_bytes(), s("v"), Some(T0 + 1 + i % 7), T0);
        }
        let mut total = 0;
        let mut calls = 0;
        loop {
            let out = ks.expire_due(T0 + 10, 64);
            calls += 1;
            assert!(out.expired <= 64);
            total += out.expired;
            if !out.more {
                break;
            }
            assert_eq!(out.expired, 64);
        }
        assert_eq!(calls, 16);
        assert_eq!(total, 1000);
        assert!(ks.is_empty());
        assert_eq!(ks.expired_total(), 1000);
        assert_eq!(
            ks.expire_due(T0 + 10, 64),
            ExpireOutcome {
                expired: 0,
                more: false
            }
        );
    }

    #[test]
    fn large_time_jumps() {
        let mut ks = Keyspace::new();
        let mut rng = Rng::new(7);
        ks.expire_due(T0, 10);
        for i in 0..20_000u64 {
            let ttl = [10, 5_000, 600_000, 86_400_000, 30 * 86_400_000][(i % 5) as usize];
            ks.set(
                format!("k{i}").as_bytes(),
                s("v"),
                Some(T0 + 1 + rng.below(ttl)),
                T0,
            );
        }
        ks.set(b"far", s("v"), Some(T0 + 5 * 365 * 86_400_000), T0);
        // The first tick an hour later.
        let hour = T0 + 3_600_000;
        let expected = ks
            .segments
            .iter()
            .flat_map(|s| s.iter())
            .filter(|e| e.is_expired(hour))
            .count();
        assert_eq!(expire_all(&mut ks, hour), expected);
        assert!(ks
            .segments
            .iter()
            .flat_map(|s| s.iter())
            .all(|e| !e.is_expired(hour)));
        // Then a year.
        assert_eq!(
            expire_all(&mut ks, T0 + 365 * 86_400_000),
            20_000 - expected
        );
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.live_len(T0 + 5 * 365 * 86_400_000), 0);
        assert_eq!(ks.expired_total(), 20_001);
        check_counts(&ks);
    }

    #[test]
    fn live_len_reclaims_everything_due() {
        let mut ks = Keyspace::new();
        for i in 0..5000u64 {
            ks.set(format!("k{i}").as_bytes(), s("v"), Some(T0 + 1 + i), T0);
        }
        for i in 0..10u64 {
            ks.set(format!("p{i}").as_bytes(), s("v"), None, T0);
        }
        assert_eq!(ks.live_len(T0 + 2500), 2510);
        assert_eq!(ks.len(), 2510);
        assert_eq!(ks.expires_len(), 2500);
        assert_eq!(ks.live_len(T0 + 1_000_000), 10);
        assert_eq!(ks.expires_len(), 0);
    }

    #[test]
    fn clear_empties_tables_and_wheel() {
        let mut ks = Keyspace::new();
        for i in 0..1000u64 {
            ks.set(
                format!("k{i}").as_bytes(),
                s("v"),
                (i % 2 == 0).then_some(T0 + 100),
                T0,
            );
        }
        ks.get(b"k0", T0 + 100);
        ks.clear();
        assert!(ks.is_empty());
        assert_eq!(ks.expires_len(), 0);
        assert_eq!(ks.wheel_len(), 0);
        assert_eq!(ks.expired_total(), 1);
        assert!(ks.get(b"k1", T0).is_none());
        assert_eq!(ks.expire_due(T0 + 1000, 100), ExpireOutcome::default());
        ks.set(b"k1", s("v"), Some(T0 + 2000), T0 + 1000);
        assert_eq!(expire_all(&mut ks, T0 + 2000), 1);
    }

    /// What the keyspace should hold: key id -> deadline, indexed by deadline.
    #[derive(Default)]
    struct Model {
        keys: HashMap<u64, Option<u64>>,
        by_deadline: std::collections::BTreeSet<(u64, u64)>,
    }

    impl Model {
        fn insert(&mut self, id: u64, deadline: Option<u64>) {
            self.remove(id);
            self.keys.insert(id, deadline);
            if let Some(d) = deadline {
                self.by_deadline.insert((d, id));
            }
        }

        fn remove(&mut self, id: u64) -> bool {
            match self.keys.remove(&id) {
                Some(deadline) => {
                    if let Some(d) = deadline {
                        self.by_deadline.remove(&(d, id));
                    }
                    true
                }
                None => false,
            }
        }

        /// The key's deadline if it exists and is live at `now`.
        fn live(&self, id: u64, now: u64) -> Option<Option<u64>> {
            self.keys
                .get(&id)
                .copied()
                .filter(|d| d.is_none_or(|d| d > now))
        }

        fn due(&self, now: u64) -> Vec<u64> {
            self.by_deadline
                .range(..=(now, u64::MAX))
                .map(|&(_, id)| id)
                .collect()
        }
    }

    /// 200k keys with random deadlines, randomly read, overwritten, deleted,
    /// persisted and re-expired, with active expiry on random budgets: every
    /// key is reclaimed exactly once, and the counters match a model at every
    /// step.
    #[test]
    fn random_workload_against_a_model() {
        let mut rng = Rng::new(42);
        let mut ks = Keyspace::new();
        let mut model = Model::default();
        let keys = 200_000u64;
        let mut now = T0;
        let mut expired = 0u64;
        for id in 0..keys {
            let deadline = (rng.below(4) != 0).then(|| now + 1 + rng.below(120_000));
            ks.set(format!("key:{id}").as_bytes(), s("v"), deadline, now);
            model.insert(id, deadline);
        }
        assert_eq!(ks.len(), keys as usize);
        while now < T0 + 200_000 {
            now += 1 + rng.below(300);
            for _ in 0..200 {
                let id = rng.below(keys);
                let key = format!("key:{id}");
                let live = model.live(id, now);
                if live.is_none() && model.remove(id) {
                    // Due: whatever the operation, it reclaims the key.
                    expired += 1;
                }
                match rng.below(5) {
                    0 => assert_eq!(ks.get(key.as_bytes(), now).map(|e| e.deadline()), live),
                    1 => {
                        let deadline = (rng.below(2) == 0).then(|| now + rng.below(60_000));
                        let old = ks.set(key.as_bytes(), s("w"), deadline, now);
                        assert_eq!(old.map(|e| e.deadline()), live);
                        model.insert(id, deadline);
                    }
                    2 => {
                        assert_eq!(ks.remove(key.as_bytes(), now).map(|e| e.deadline()), live);
                        model.remove(id);
                    }
                    _ => {
                        let deadline = (rng.below(4) != 0).then(|| now + rng.below(90_000));
                        assert_eq!(
                            ks.set_deadline(key.as_bytes(), deadline, now),
                            live.is_some()
                        );
                        if live.is_some() {
                            model.insert(id, deadline);
                        }
                    }
                }
            }
            let budget = [1, 10, 1000, usize::MAX][rng.below(4) as usize];
            let out = ks.expire_due(now, budget);
            // Reconcile the model with what active expiry reclaimed.
            let mut left_behind = 0;
            for id in model.due(now) {
                if stored(&ks, format!("key:{id}").as_bytes()) {
                    left_behind += 1;
                } else {
                    model.remove(id);
                    expired += 1;
                }
            }
            if !out.more {
                assert_eq!(left_behind, 0, "active expiry left due keys behind");
            }
            assert_eq!(ks.len(), model.keys.len());
            assert_eq!(ks.expires_len(), model.by_deadline.len());
            let deadlines: u128 = model.by_deadline.iter().map(|&(d, _)| u128::from(d)).sum();
            assert_eq!(ks.deadline_sum(), deadlines);
            assert_eq!(ks.expired_total(), expired);
        }
        // Everything left with a deadline goes, each exactly once.
        let with_deadline = model.by_deadline.len();
        let end = now + 1_000_000;
        assert_eq!(ks.live_len(end), model.keys.len() - with_deadline);
        assert_eq!(ks.expired_total(), expired + with_deadline as u64);
        assert_eq!(ks.expires_len(), 0);
        assert_eq!(ks.deadline_sum(), 0);
        assert_eq!(expire_all(&mut ks, end + 1_000_000), 0);
        assert_eq!(ks.wheel_len(), 0);
        check_counts(&ks);
    }

    #[test]
    fn reclaims_200k_random_deadlines_exactly_once() {
        let mut rng = Rng::new(3);
        let mut ks = Keyspace::new();
        let n = 200_000u64;
        let mut deadlines: Vec<u64> = Vec::with_capacity(n as usize);
        for i in 0..n {
            let d = T0 + 1 + rng.below(600_000);
            ks.set(format!("key:{i}").as_bytes(), s("v"), Some(d), T0);
            deadlines.push(d);
        }
        deadlines.sort_unstable();
        assert_eq!(ks.expires_len(), n as usize);
        let mut now = T0;
        let mut total = 0usize;
        while now < T0 + 600_000 {
            now += 1 + rng.below(2000);
            loop {
                let out = ks.expire_due(now, 500);
                total += out.expired;
                if !out.more {
                    break;
                }
            }
            let due = deadlines.partition_point(|&d| d <= now);
            assert_eq!(total, due, "at +{}", now - T0);
            assert_eq!(ks.len(), n as usize - due);
            assert_eq!(ks.expires_len(), n as usize - due);
        }
        assert_eq!(total, n as usize);
        assert_eq!(ks.expired_total(), n);
        assert!(ks.is_empty());
        assert_eq!(ks.wheel_len(), 0);
    }

    #[test]
    fn segments_grow_and_every_key_is_retrievable() {
        let n: u64 = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        let mut ks = Keyspace::new();
        for i in 0..n {
            ks.set(
                format!("key:{i}").as_bytes(),
                Value::String(i.to_le_bytes().to_vec()),
                None,
                T0,
            );
        }
        assert_eq!(ks.len(), n as usize);
        for i in 0..n {
            let e = ks.get(format!("key:{i}").as_bytes(), T0).unwrap();
            assert_eq!(e.value(), Value::String(i.to_le_bytes().to_vec()).as_ref());
        }
        // Keys spread over all segments, none holding much more than its share.
        let share = n as usize / SEGMENTS;
        assert!(ks
            .segments
            .iter()
            .all(|s| s.len() > share / 2 && s.len() < share * 2));
        let largest = ks.segments.iter().map(|s| s.capacity()).max().unwrap();
        assert!(largest < share * 4, "largest segment capacity {largest}");
        // Deleting most keys gives segment memory back.
        for i in 0..n - n / 100 {
            assert!(ks.remove(format!("key:{i}").as_bytes(), T0).is_some());
        }
        let capacity: usize = ks.segments.iter().map(|s| s.capacity()).sum();
        assert!(
            capacity < n as usize / 10,
            "capacity {capacity} after deletes"
        );
        for i in n - n / 100..n {
            assert!(ks.get(format!("key:{i}").as_bytes(), T0).is_some());
        }
        check_counts(&ks);
    }

    #[test]
    fn a_single_table_keyspace_behaves_the_same() {
        let mut ks = Keyspace::with_segments(1);
        for i in 0..5_000u64 {
            ks.set_string(
                format!("k{i}").as_bytes(),
                b"v",
                (i % 2 == 0).then_some(T0 + 5),
                T0,
            );
        }
        assert_eq!(ks.len(), 5_000);
        assert_eq!(value_of(&mut ks, "k1", T0).as_deref(), Some("v"));
        let mut seen = 0;
        let mut position = 0;
        loop {
            position = ks.scan(position, 100, T0, |_| seen += 1);
            if position == 0 {
                break;
            }
        }
        assert_eq!(seen, 5_000);
        assert_eq!(expire_all(&mut ks, T0 + 5), 2_500);
        check_counts(&ks);
    }

    #[test]
    fn databases_are_independent() {
        let mut dbs = crate::Databases::new(16);
        assert_eq!(dbs.count(), 16);
        dbs.db(0).set(b"k", s("zero"), None, T0);
        dbs.db(3).set(b"k", s("three"), Some(T0 + 5), T0);
        assert_eq!(value_of(dbs.db(0), "k", T0).as_deref(), Some("zero"));
        assert_eq!(value_of(dbs.db(3), "k", T0).as_deref(), Some("three"));
        assert!(dbs.db(1).get(b"k", T0).is_none());
        let expired: usize = dbs
            .iter_mut()
            .map(|db| db.expire_due(T0 + 5, 100).expired)
            .sum();
        assert_eq!(expired, 1);
        assert_eq!(dbs.iter().map(|(_, db)| db.len()).sum::<usize>(), 1);
    }

    /// A string of `len` bytes in a buffer of `len + spare` capacity.
    fn string_with_spare(len: usize, spare: usize) -> Value {
        let mut v = Vec::with_capacity(len + spare);
        v.resize(len, b'v');
        Value::String(v)
    }

    /// Random operations over four databases, as the commands use the
    /// store (SET of small and large values, APPEND, SETRANGE, INCRBYFLOAT,
    /// DEL, EXPIRE with lazy and active expiry, MOVE, SWAPDB, FLUSHDB,
    /// FLUSHALL, RENAME and COPY as take and put): after each, every
    /// keyspace's running count of heap bytes equals a recount over its
    /// entries, and the databases' memory moves with it.
    #[test]
    fn heap_bytes_match_a_recount_after_random_operations() {
        let mut rng = Rng::new(11);
        // Few segments, so that recounting after every step is quick.
        let mut dbs = crate::Databases::with_segments(4, 16);
        let mut now = T0;
        let key = |id: u64| -> Vec<u8> {
            // Short keys (inline with a small value) and long ones (always
            // on the heap).
            if id.is_multiple_of(5) {
                format!("a-long-key-that-does-not-fit-inline-with-much:{id:08}").into_bytes()
            } else {
                format!("k{id}").into_bytes()
            }
        };
        for step in 0..60_000u32 {
            now += rng.below(3);
            let db = rng.below(4) as usize;
            let k = key(rng.below(300));
            match rng.below(100) {
                // SET small (inline) or large, with or without a TTL.
                0..=24 => {
                    let deadline = (rng.below(3) == 0).then(|| now + 1 + rng.below(50));
                    let len = [1, 8, 30, 47, 48, 60, 200, 1000][rng.below(8) as usize];
                    if rng.below(2) == 0 {
                        dbs.db(db).set_string(&k, &vec![b's'; len], deadline, now);
                    } else {
                        let value = string_with_spare(len, rng.below(64) as usize);
                        dbs.db(db).set(&k, value, deadline, now);
                    }
                }
                // APPEND: an inline value moves to the heap and grows.
                25..=34 => {
                    if let Some(mut e) = dbs.db(db).get_mut(&k, now) {
                        {
                            let Value::String(v) = &mut *e.value_mut();
                            v.extend_from_slice(&vec![b'a'; 1 + rng.below(40) as usize]);
                        }
                        e.set_encoding(Encoding::Raw);
                    }
                }
                // SETRANGE past the end, or a shrink to fit.
                35..=41 => {
                    if let Some(mut e) = dbs.db(db).get_mut(&k, now) {
                        let mut value = e.value_mut();
                        let Value::String(v) = &mut *value;
                        if rng.below(3) == 0 {
                            v.truncate(v.len() / 2);
                            v.shrink_to_fit();
                        } else {
                            let end = v.len() + rng.below(100) as usize;
                            v.resize(end, 0);
                        }
                    }
                }
                // INCRBYFLOAT / INCR rewriting the value: inline when it fits.
                42..=49 => {
                    if let Some(mut e) = dbs.db(db).get_mut(&k, now) {
                        let len = [1, 5, 17, 40, 60][rng.below(5) as usize];
                        e.set_string(&vec![b'7'; len]);
                    }
                }
                50..=59 => {
                    dbs.db(db).remove(&k, now);
                }
                // EXPIRE / PERSIST.
                60..=67 => {
                    let deadline = (rng.below(4) != 0).then(|| now + rng.below(30));
                    dbs.db(db).set_deadline(&k, deadline, now);
                }
                // Lazy expiry on a read.
                68..=72 => {
                    dbs.db(db).peek(&k, now);
                }
                // MOVE: out of one database, into another where it is missing.
                73..=78 => {
                    let to = rng.below(4) as usize;
                    if to != db && dbs.db(to).get(&k, now).is_none() {
                        if let Some(entry) = dbs.db(db).remove(&k, now) {
                            dbs.db(to).insert_parts(&k, entry.into_parts(), now);
                        }
                    }
                }
                // RENAME: take the entry, put it under another key
                // (anywhere: across shards it travels as parts).
                79..=86 => {
                    let (to, dst) = (rng.below(4) as usize, key(rng.below(300)));
                    if let Some(entry) = dbs.db(db).remove(&k, now) {
                        dbs.db(to).insert_parts(&dst, entry.into_parts(), now);
                    }
                }
                // COPY: a clone of the parts, put under another key.
                87..=91 => {
                    let dst = key(rng.below(300));
                    let parts = dbs.db(db).get(&k, now).map(|e| EntryParts {
                        value: e.value().to_owned(),
                        deadline: e.deadline(),
                        encoding: e.encoding().of_copy(),
                        access_secs: e.access_secs(),
                    });
                    if let Some(parts) = parts {
                        dbs.db(rng.below(4) as usize).insert_parts(&dst, parts, now);
                    }
                }
                92..=94 => dbs.swap(db, rng.below(4) as usize),
                95..=96 => {
                    let budget = [1, 10, usize::MAX][rng.below(3) as usize];
                    dbs.db(db).expire_due(now, budget);
                }
                97 => dbs.db(db).clear(),
                98 if step % 7 == 0 => dbs.iter_mut().for_each(Keyspace::clear),
                _ => {}
            }
            for (_, ks) in dbs.iter() {
                assert_eq!(ks.heap_bytes(), heap_recount(ks), "step {step}");
            }
        }
        let heap: usize = dbs.iter().map(|(_, ks)| ks.heap_bytes()).sum();
        assert!(heap > 0, "the workload ends with heap values stored");
        for (_, ks) in dbs.iter() {
            check_counts(ks);
        }
        // Everything gone: no heap bytes left, and the memory is the
        // empty keyspaces' own.
        let empty = crate::Databases::with_segments(4, 16);
        let mut fresh = crate::Databases::with_segments(4, 16);
        for i in 0..4 {
            fresh.db(i);
        }
        for ks in dbs.iter_mut() {
            while ks.expire_due(now + 1000, usize::MAX).more {}
            ks.clear();
        }
        assert_eq!(dbs.iter().map(|(_, ks)| ks.heap_bytes()).sum::<usize>(), 0);
        assert_eq!(dbs.memory_bytes(), fresh.memory_bytes());
        assert!(empty.memory_bytes() < fresh.memory_bytes());
    }
}
