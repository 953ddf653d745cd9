//! `TimerWheel`: a hierarchical timer wheel of (deadline, key hash) entries.
//!
//! Active expiry needs "every key whose deadline has passed", cheaply, without
//! a timer or handle per key. The wheel keeps one 12-byte entry per scheduled
//! deadline in six levels of 64 slots each; a slot of level `l` spans `64^l`
//! ms:
//!
//! | level | slot width | level span |
//! |-------|------------|------------|
//! | 0     | 1 ms       | 64 ms      |
//! | 1     | 64 ms      | 4.1 s      |
//! | 2     | 4.1 s      | 4.4 min    |
//! | 3     | 4.4 min    | 4.7 h      |
//! | 4     | 4.7 h      | 12.4 days  |
//! | 5     | 12.4 days  | 2.2 years  |
//!
//! Deadlines further out wait in an overflow list, which is re-examined only
//! when the wheel's time reaches the 2^36 ms block of its earliest entry.
//!
//! The wheel's time `elapsed` only moves forward. An entry lives at the level
//! given by the highest bit in which its deadline differs from `elapsed`, in
//! the slot given by that level's 6 bits of the deadline; so every occupied
//! slot lies at or after the level's current position and nothing ever wraps.
//! [`TimerWheel::advance`] visits occupied slots in time order, found through
//! a 64-bit occupancy bitmap per level (empty slots cost nothing, however far
//! time jumps): a level-0 slot fires its entries, a higher slot cascades its
//! entries down to finer levels. Both are bounded per call and resume where
//! they stopped. Entries scheduled for a time the wheel has already passed go
//! to a small `overdue` list that the next `advance` fires first.

use crate::UnixMillis;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Deadlines at least this far (in differing bits) from `elapsed` overflow.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Emptied slot vectors above this capacity give their memory back.
const KEEP_CAPACITY: usize = 1024;
/// Cascade moves allowed per fired entry of budget (moves are much cheaper
/// than fires, which delete keys).
const MOVES_PER_FIRE: usize = 16;
/// Cascade moves allowed per call however small the budget.
const MIN_MOVES: usize = 4096;

/// One slot entry: a key hash and the low 32 bits of its deadline, 12 bytes.
/// The slot's start time supplies the high bits: an entry's deadline is less
/// than `64^5` ms (2^30) past the start of its slot.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct SlotEntry {
    hash_lo: u32,
    hash_hi: u32,
    deadline_lo: u32,
}

impl SlotEntry {
    #[inline]
    fn new(deadline: UnixMillis, hash: u64) -> Self {
        Self {
            hash_lo: hash as u32,
            hash_hi: (hash >> 32) as u32,
            deadline_lo: deadline as u32,
        }
    }

    #[inline]
    fn hash(self) -> u64 {
        (self.hash_hi as u64) << 32 | self.hash_lo as u64
    }

    /// The full deadline, given the start time of the slot holding the entry.
    #[inline]
    fn deadline(self, slot_start: UnixMillis) -> UnixMillis {
        slot_start + self.deadline_lo.wrapping_sub(slot_start as u32) as u64
    }
}

/// One level: 64 slots and a bitmap of the non-empty ones.
struct Level {
    occupied: u64,
    slots: [Vec<SlotEntry>; SLOTS],
}

impl Level {
    fn new() -> Self {
        Self {
            occupied: 0,
            slots: std::array::from_fn(|_| Vec::new()),
        }
    }
}

/// Where the next due work of the wheel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Slot `slot` of level `level`, starting at `start`.
    Slot {
        level: usize,
        slot: usize,
        start: UnixMillis,
    },
    /// The overflow list becomes placeable at `start`.
    Overflow { start: UnixMillis },
}

impl Next {
    fn start(self) -> UnixMillis {
        match self {
            Next::Slot { start, .. } | Next::Overflow { start } => start,
        }
    }
}

/// What one [`TimerWheel::advance`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Advance {
    /// Entries handed to the callback.
    pub fired: usize,
    /// True when the call stopped on its budget with due work left: call again.
    pub more: bool,
}

/// A hierarchical timer wheel of (deadline, key hash) entries, 1 ms resolution.
pub struct TimerWheel {
    /// All entries with a deadline before this have been fired, or wait in
    /// `overdue`.
    elapsed: UnixMillis,
    levels: Box<[Level; LEVELS]>,
    /// Entries scheduled for before `elapsed`: (deadline, hash).
    overdue: Vec<(UnixMillis, u64)>,
    /// Entries beyond the span of the levels: (deadline, hash).
    overflow: Vec<(UnixMillis, u64)>,
    /// The earliest deadline in `overflow` (meaningless when it is empty).
    overflow_min: UnixMillis,
    len: usize,
}

impl TimerWheel {
    /// An empty wheel.
    pub fn new() -> Self {
        Self {
            elapsed: 0,
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            overdue: Vec::new(),
            overflow: Vec::new(),
            overflow_min: u64::MAX,
            len: 0,
        }
    }

    /// Entries scheduled and not yet fired (including ones their owner has
    /// since cancelled lazily).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no entry is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the wheel holds on the heap: its levels and the entries'
    /// vectors (by capacity).
    pub fn memory_bytes(&self) -> usize {
        let slots: usize = self
            .levels
            .iter()
            .flat_map(|level| &level.slots)
            .map(Vec::capacity)
            .sum();
        std::mem::size_of::<[Level; LEVELS]>()
            + slots * std::mem::size_of::<SlotEntry>()
            + (self.overdue.capacity() + self.overflow.capacity())
                * std::mem::size_of::<(UnixMillis, u64)>()
    }

    /// Drops every entry and frees the slot memory.
    pub fn clear(&mut self) {
        for level in self.levels.iter_mut() {
            *level = Level::new();
        }
        self.overdue = Vec::new();
        self.overflow = Vec::new();
        self.overflow_min = u64::MAX;
        self.len = 0;
    }

    /// Schedules `hash` to fire once `deadline` has passed. `now` is the
    /// current time; an idle (empty) wheel re-anchors its time there, so the
    /// first deadlines after a quiet period land in fine slots.
    #[inline]
    pub fn schedule(&mut self, deadline: UnixMillis, hash: u64, now: UnixMillis) {
        if self.len == 0 && now > self.elapsed {
            self.elapsed = now;
        }
        self.len += 1;
        self.insert(deadline, hash);
    }

    /// Fires every entry whose deadline is `<= now`, at most `budget` of them
    /// (plus a bounded amount of cascading work); what is left is carried over
    /// to the next call, and no entry is ever fired twice or lost.
    ///
    /// `fire(hash, deadline)` is called once per fired entry; returning
    /// `Some(later)` schedules `hash` again at `later` (which must be after
    /// `now`; earlier values are treated as `now + 1`).
    pub fn advance(
        &mut self,
        now: UnixMillis,
        budget: usize,
        mut fire: impl FnMut(u64, UnixMillis) -> Option<UnixMillis>,
    ) -> Advance {
        let mut out = Advance::default();
        let move_limit = budget.saturating_mul(MOVES_PER_FIRE).max(MIN_MOVES);
        let mut moved = 0usize;

        // Entries scheduled behind the wheel's time.
        let mut i = 0;
        while i < self.overdue.len() {
            let (deadline, hash) = self.overdue[i];
            if deadline > now {
                i += 1; // only after a backwards clock step
                continue;
            }
            if out.fired == budget {
                out.more = true;
                return out;
            }
            self.overdue.swap_remove(i);
            self.fire_one(hash, deadline, now, &mut fire, &mut out);
        }

        loop {
            let next = match self.next() {
                Some(next) if next.start() <= now => next,
                _ => {
                    // Nothing due: the wheel may move up to now + 1, which is
                    // still at or before every occupied slot's start.
                    self.elapsed = self.elapsed.max(now.saturating_add(1));
                    return out;
                }
            };
            match next {
                Next::Slot {
                    level: 0,
                    slot,
                    start,
                } => {
                    self.elapsed = self.elapsed.max(start);
                    loop {
                        if self.levels[0].slots[slot].is_empty() {
                            self.release_slot(0, slot);
                            break;
                        }
                        if out.fired == budget {
                            out.more = true;
                            return out;
                        }
                        let Some(entry) = self.levels[0].slots[slot].pop() else {
                            break;
                        };
                        self.fire_one(
                            entry.hash(),
                            entry.deadline(start),
                            now,
                            &mut fire,
                            &mut out,
                        );
                    }
                }
                Next::Slot { level, slot, start } => {
                    self.elapsed = self.elapsed.max(start);
                    loop {
                        if moved >= move_limit {
                            out.more = true;
                            return out;
                        }
                        let Some(entry) = self.levels[level].slots[slot].pop() else {
                            self.release_slot(level, slot);
                            break;
                        };
                        self.insert(entry.deadline(start), entry.hash());
                        moved += 1;
                    }
                }
                Next::Overflow { start } => {
                    // Rare (deadlines over two years out): re-placed in one go.
                    self.elapsed = self.elapsed.max(start);
                    let pending = std::mem::take(&mut self.overflow);
                    self.overflow_min = u64::MAX;
                    moved += pending.len();
                    for (deadline, hash) in pending {
                        self.insert(deadline, hash);
                    }
                }
            }
        }
    }

    /// Hands one entry (already taken out of the wheel) to `fire`.
    #[inline]
    fn fire_one(
        &mut self,
        hash: u64,
        deadline: UnixMillis,
        now: UnixMillis,
        fire: &mut impl FnMut(u64, UnixMillis) -> Option<UnixMillis>,
        out: &mut Advance,
    ) {
        out.fired += 1;
        match fire(hash, deadline) {
            Some(later) => self.insert(later.max(now.saturating_add(1)), hash),
            None => self.len -= 1,
        }
    }

    /// Places an entry relative to `elapsed` (does not count it in `len`).
    #[inline]
    fn insert(&mut self, deadline: UnixMillis, hash: u64) {
        if deadline < self.elapsed {
            self.overdue.push((deadline, hash));
            return;
        }
        let level = level_for(self.elapsed, deadline);
        if level >= LEVELS {
            self.overflow_min = self.overflow_min.min(deadline);
            self.overflow.push((deadline, hash));
            return;
        }
        let slot = ((deadline >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
        let l = &mut self.levels[level];
        l.slots[slot].push(SlotEntry::new(deadline, hash));
        l.occupied |= 1 << slot;
    }

    /// Marks an emptied slot free, and frees a large vector.
    #[inline]
    fn release_slot(&mut self, level: usize, slot: usize) {
        let l = &mut self.levels[level];
        l.occupied &= !(1 << slot);
        if l.slots[slot].capacity() > KEEP_CAPACITY {
            l.slots[slot] = Vec::new();
        }
    }

    /// The earliest-starting occupied slot, or the overflow list.
    fn next(&self) -> Option<Next> {
        let mut best: Option<Next> = None;
        for (level, l) in self.levels.iter().enumerate() {
            let shift = SLOT_BITS * level as u32;
            let pos = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            debug_assert_eq!(
                l.occupied & !(u64::MAX << pos),
                0,
                "slot behind the wheel at level {level}"
            );
            let ahead = l.occupied & (u64::MAX << pos);
            if ahead == 0 {
                continue;
            }
            let slot = ahead.trailing_zeros() as usize;
            let level_start = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
            let start = level_start + ((slot as u64) << shift);
            if best.is_none_or(|b| start < b.start()) {
                best = Some(Next::Slot { level, slot, start });
            }
        }
        if !self.overflow.is_empty() {
            let start = (self.overflow_min >> WHEEL_BITS) << WHEEL_BITS;
            if best.is_none_or(|b| start < b.start()) {
                best = Some(Next::Overflow { start });
            }
        }
        best
    }
}

impl Default for TimerWheel {
    fn default() -> Self {
        Self::new()
    }
}

/// The level for `deadline` given the wheel time: the 6-bit group holding the
/// highest bit in which they differ (level 0 when equal).
#[inline]
fn level_for(elapsed: UnixMillis, deadline: UnixMillis) -> usize {
    let masked = (elapsed ^ deadline) | (SLOTS as u64 - 1);
    ((63 - masked.leading_zeros()) / SLOT_BITS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, T0};
    use std::collections::HashMap;

    fn drain(wheel: &mut TimerWheel, now: u64) -> Vec<(u64, u64)> {
        let mut fired = Vec::new();
        let out = wheel.advance(now, usize::MAX, |h, d| {
            fired.push((d, h));
            None
        });
        assert!(!out.more);
        assert_eq!(out.fired, fired.len());
        fired
    }

    #[test]
    fn slot_entry_is_12_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<SlotEntry>(), 12);
        let h = 0xdead_beef_0123_4567;
        for start in [0, T0, T0 + 12345, u64::MAX - (1 << 31)] {
            for off in [0u64, 1, 63, 4095, (1 << 30) - 1] {
                let e = SlotEntry::new(start + off, h);
                assert_eq!(e.hash(), h);
                assert_eq!(e.deadline(start), start + off);
            }
        }
    }

    #[test]
    fn level_for_picks_the_highest_differing_group() {
        assert_eq!(level_for(0, 0), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(100, 127), 0);
        assert_eq!(level_for(100, 128), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, (1 << 36) - 1), 5);
        assert_eq!(level_for(0, 1 << 36), 6);
    }

    #[test]
    fn fires_at_exactly_the_deadline() {
        let mut w = TimerWheel::new();
        w.schedule(T0 + 10, 7, T0);
        assert_eq!(w.len(), 1);
        assert!(drain(&mut w, T0 + 9).is_empty());
        assert_eq!(drain(&mut w, T0 + 10), vec![(T0 + 10, 7)]);
        assert!(w.is_empty());
        assert!(drain(&mut w, T0 + 1000).is_empty());
    }

    #[test]
    fn fires_each_level_and_overflow() {
        let mut w = TimerWheel::new();
        let offsets = [
            0u64,
            1,
            63,
            64,
            65,
            4095,
            4096,
            300_000,
            20_000_000,
            2_000_000_000,
            1 << 36,
            5 << 40,
        ];
        for (i, off) in offsets.iter().enumerate() {
            w.schedule(T0 + off, i as u64, T0);
        }
        let mut now = T0;
        for (i, off) in offsets.iter().enumerate() {
            // Just before: nothing new. At the deadline: exactly this one.
            if T0 + off > now + 1 {
                assert!(drain(&mut w, T0 + off - 1).is_empty(), "early at {off}");
            }
            now = T0 + off;
            let fired = drain(&mut w, now);
            assert_eq!(fired, vec![(now, i as u64)], "at offset {off}");
        }
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadlines_fire_on_the_next_advance() {
        let mut w = TimerWheel::new();
        drain(&mut w, T0);
        w.schedule(T0 - 5000, 1, T0);
        w.schedule(T0, 2, T0);
        w.schedule(5, 3, T0);
        let mut fired = drain(&mut w, T0);
        fired.sort();
        assert_eq!(fired, vec![(5, 3), (T0 - 5000, 1), (T0, 2)]);
        assert!(w.is_empty());
    }

    #[test]
    fn budget_carries_work_over_without_loss() {
        let mut w = TimerWheel::new();
        for i in 0..1000u64 {
            w.schedule(T0 + 1 + i % 50, i, T0);
        }
        let mut fired = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let out = w.advance(T0 + 100, 64, |h, _| {
                fired.push(h);
                None
            });
            assert!(out.fired <= 64);
            if !out.more {
                break;
            }
            assert_eq!(out.fired, 64);
        }
        assert_eq!(calls, 1000usize.div_ceil(64));
        fired.sort();
        assert_eq!(fired, (0..1000).collect::<Vec<_>>());
        assert!(w.is_empty());
    }

    #[test]
    fn more_is_false_when_budget_is_exactly_enough() {
        let mut w = TimerWheel::new();
        for i in 0..10 {
            w.schedule(T0 + 5, i, T0);
        }
        w.schedule(T0 + 500, 99, T0);
        let out = w.advance(T0 + 10, 10, |_, _| None);
        assert_eq!(
            out,
            Advance {
                fired: 10,
                more: false
            }
        );
        assert_eq!(w.len(), 1);
        let out = w.advance(T0 + 10, 0, |_, _| None);
        assert_eq!(
            out,
            Advance {
                fired: 0,
                more: false
            }
        );
    }

    #[test]
    fn rescheduling_from_the_callback() {
        let mut w = TimerWheel::new();
        w.schedule(T0 + 10, 1, T0);
        let mut fired = 0;
        let out = w.advance(T0 + 10, 100, |h, d| {
            fired += 1;
            assert_eq!((h, d), (1, T0 + 10));
            Some(T0 + 5000)
        });
        assert_eq!(
            out,
            Advance {
                fired: 1,
                more: false
            }
        );
        assert_eq!(w.len(), 1);
        assert!(drain(&mut w, T0 + 4999).is_empty());
        assert_eq!(drain(&mut w, T0 + 5000), vec![(T0 + 5000, 1)]);
        // A deadline not after `now` is pushed to now + 1, never re-fired in the same call.
        w.schedule(T0 + 6000, 2, T0 + 5000);
        let mut calls = 0;
        w.advance(T0 + 6000, 100, |_, _| {
            calls += 1;
            Some(T0)
        });
        assert_eq!(calls, 1);
        assert_eq!(drain(&mut w, T0 + 6001), vec![(T0 + 6001, 2)]);
    }

    #[test]
    fn large_time_jump_is_cheap_and_complete() {
        let mut w = TimerWheel::new();
        let mut rng = Rng::new(1);
        drain(&mut w, T0);
        for i in 0..10_000 {
            w.schedule(T0 + 1 + rng.below(3_600_000), i, T0);
        }
        // One advance an hour later fires all of them.
        let fired = drain(&mut w, T0 + 3_600_000);
        assert_eq!(fired.len(), 10_000);
        assert!(w.is_empty());
        // A jump of years over an empty wheel, then over a sparse one.
        w.schedule(T0 + 365 * 86_400_000, 1, T0 + 3_600_000);
        w.schedule(T0 + 3 * 365 * 86_400_000, 2, T0 + 3_600_000);
        assert_eq!(
            drain(&mut w, T0 + 2 * 365 * 86_400_000),
            vec![(T0 + 365 * 86_400_000, 1)]
        );
        assert_eq!(
            drain(&mut w, T0 + 4 * 365 * 86_400_000),
            vec![(T0 + 3 * 365 * 86_400_000, 2)]
        );
    }

    #[test]
    fn first_schedule_anchors_an_idle_wheel() {
        let mut w = TimerWheel::new();
        w.schedule(T0 + 100, 1, T0);
        assert!(w.overflow.is_empty());
        assert_eq!(
            w.levels[2].occupied.count_ones() + w.levels[1].occupied.count_ones(),
            1
        );
    }

    #[test]
    fn cascading_is_bounded_per_call() {
        let mut w = TimerWheel::new();
        // 100k entries in one level-3 slot (a 4.4-minute window, 5 minutes out).
        let base = ((T0 >> 18) + 2) << 18;
        for i in 0..100_000u64 {
            w.schedule(base + 100_000 + i % 1000, i, T0);
        }
        let mut calls = 0;
        let mut fired = 0;
        loop {
            calls += 1;
            let out = w.advance(base + 200_000, 10, |_, _| {
                fired += 1;
                None
            });
            assert!(out.fired <= 10);
            if !out.more {
                break;
            }
        }
        assert_eq!(fired, 100_000);
        assert!(calls >= 100_000 / 10);
    }

    #[test]
    fn clock_going_backwards_never_fires_early() {
        let mut w = TimerWheel::new();
        drain(&mut w, T0 + 1000);
        // Scheduled behind the wheel (the clock stepped back) but in the future.
        w.schedule(T0 + 500, 1, T0);
        assert!(drain(&mut w, T0 + 499).is_empty());
        assert_eq!(drain(&mut w, T0 + 500), vec![(T0 + 500, 1)]);
    }

    #[test]
    fn clear_drops_everything() {
        let mut w = TimerWheel::new();
        for i in 0..100 {
            w.schedule(T0 + i * 1000, i, T0);
        }
        w.schedule(T0 - 1, 1000, T0);
        w.schedule(T0 + (1 << 40), 1001, T0);
        w.clear();
        assert!(w.is_empty());
        assert!(drain(&mut w, T0 + (1 << 41)).is_empty());
        w.schedule(T0 + (1 << 41) + 3, 5, T0 + (1 << 41));
        assert_eq!(
            drain(&mut w, T0 + (1 << 41) + 3),
            vec![(T0 + (1 << 41) + 3, 5)]
        );
    }

    /// Random schedules, advances and budgets against a model: every entry
    /// fires exactly once, never before its deadline, and no later than the
    /// first advance past it that reports `more == false`.
    #[test]
    fn randomized_against_a_model() {
        for seed in 1..=20 {
            let mut rng = Rng::new(seed);
            let mut fire_rng = Rng::new(seed + 1000);
            let mut w = TimerWheel::new();
            let mut pending: HashMap<u64, u64> = HashMap::new(); // id -> deadline
            let mut now = T0 + rng.below(1 << 20);
            let mut id = 0u64;
            for _ in 0..400 {
                for _ in 0..rng.below(200) {
                    let horizon = [10, 100, 5_000, 300_000, 20_000_000, 3_000_000_000, 1 << 38]
                        [rng.below(7) as usize];
                    let deadline = (now + rng.below(horizon)).saturating_sub(rng.below(3));
                    w.schedule(deadline, id, now);
                    pending.insert(id, deadline);
                    id += 1;
                }
                now += [0, 1, 7, 64, 1000, 70_000, 5_000_000][rng.below(7) as usize];
                let budget = [0, 1, 5, 100, usize::MAX][rng.below(5) as usize];
                let out = w.advance(now, budget, |h, d| {
                    assert_eq!(
                        pending.remove(&h),
                        Some(d),
                        "seed {seed}: fired {h} twice or wrong deadline"
                    );
                    assert!(d <= now, "seed {seed}: early");
                    // Sometimes the owner wants the entry back later.
                    (fire_rng.below(4) == 0).then(|| {
                        let later = now + 1 + fire_rng.below(100_000);
                        pending.insert(h, later);
                        later
                    })
                });
                assert!(out.fired <= budget);
                if !out.more {
                    assert!(
                        pending.values().all(|&d| d > now),
                        "seed {seed}: due entry left behind"
                    );
                }
                assert_eq!(w.len(), pending.len());
            }
            now += 1 << 39;
            for (deadline, h) in drain(&mut w, now) {
                assert_eq!(
                    pending.remove(&h),
                    Some(deadline),
                    "seed {seed}: fired {h} twice or wrong deadline"
                );
            }
            assert!(
                pending.is_empty(),
                "seed {seed}: {} never fired",
                pending.len()
            );
            assert!(w.is_empty());
        }
    }
}
