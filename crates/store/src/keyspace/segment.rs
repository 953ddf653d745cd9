//! `Segment`: one of a keyspace's small hash tables, as an index of 4-byte
//! slot numbers over a slab of 64-byte entries.
//!
//! **Why an index over a slab.** A `hashbrown` table grows by doubling at
//! 7/8 full, so between 44% and 88% of its buckets are in use. With 64-byte
//! entries in the buckets that costs 73 to 146 bytes per key; with 4-byte
//! slot numbers in the buckets (plus hashbrown's 1 control byte) it costs 6
//! to 11, and the entries sit densely in a slab of 2 KiB chunks (32 entries
//! each, allocated as needed), so a key costs about 64 + 10 bytes whatever
//! the table's fill. A lookup reads the control bytes, one slot number and
//! one entry (one cache line).
//!
//! The index stores no hash: growing or shrinking it rehashes each entry's
//! key (one read of the entry, which holds its key inline when small).
//! Freed slots are reused first; when more than half of the slab is free
//! after deletions, live entries are moved to a fresh slab and their slot
//! numbers rewritten in place (no rehash), so memory comes back.

use hashbrown::hash_table::HashTable;

use crate::entry::Entry;
use crate::key_hash;

/// Entries per slab chunk (a power of two: slot = chunk << SHIFT | offset).
/// A segment's last chunk is half empty on average: 2 KiB chunks cost
/// about 1 KiB per segment.
const CHUNK: usize = 32;
const CHUNK_SHIFT: u32 = CHUNK.trailing_zeros();

/// An index whose capacity exceeds this many times its length is shrunk.
const SHRINK_RATIO: usize = 8;
/// Indexes at or below this capacity are never shrunk.
const SHRINK_MIN_CAPACITY: usize = 64;
/// A slab with at least this many free slots, and more free than live, is
/// compacted.
const COMPACT_MIN_FREE: usize = CHUNK;

/// Entries allocated together (cache-line aligned).
type Chunk = [Entry; CHUNK];

/// The hash the index sees, made from the low 32 bits of the key hash:
/// hashbrown takes its bucket index from the low bits and its 7-bit tag from
/// the top bits, here bits 25..32 of the key hash, which stay clear of the
/// index for any segment under 2^25 buckets (bits 32.. choose the shard and
/// the segment).
#[inline]
pub(super) fn table_hash(hash: u64) -> u64 {
    (hash as u32) as u64 * 0x1_0000_0001
}

/// Dense storage of entries, addressed by slot number.
#[derive(Default)]
struct Slab {
    /// Boxed so that growing the list moves pointers, not entries: a slab
    /// never reallocates (and copies) its entries.
    #[allow(clippy::vec_box)]
    chunks: Vec<Box<Chunk>>,
    /// Slots freed by deletions, reused first.
    free: Vec<u32>,
    /// Slots ever handed out (the next fresh slot).
    used: u32,
}

impl Slab {
    #[inline]
    fn get(&self, slot: u32) -> &Entry {
        &self.chunks[(slot >> CHUNK_SHIFT) as usize][slot as usize % CHUNK]
    }

    #[inline]
    fn get_mut(&mut self, slot: u32) -> &mut Entry {
        &mut self.chunks[(slot >> CHUNK_SHIFT) as usize][slot as usize % CHUNK]
    }

    /// Stores `entry` in a free slot and returns the slot.
    #[inline]
    fn put(&mut self, entry: Entry) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = self.used;
                if (slot as usize).is_multiple_of(CHUNK) {
                    self.chunks.push(Box::new([const { Entry::VACANT }; CHUNK]));
                }
                self.used += 1;
                slot
            }
        };
        *self.get_mut(slot) = entry;
        slot
    }

    /// Takes the entry out of `slot`, which becomes free.
    #[inline]
    fn take(&mut self, slot: u32) -> Entry {
        self.free.push(slot);
        std::mem::replace(self.get_mut(slot), Entry::VACANT)
    }
}

/// One segment of a keyspace.
#[derive(Default)]
pub(super) struct Segment {
    index: HashTable<u32>,
    slab: Slab,
}

impl Segment {
    /// Entries stored.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// Bytes the segment holds on the heap: its slab's chunks and the
    /// lists of chunks and free slots, and its index (entries' own heap
    /// blocks not included).
    pub(super) fn memory_bytes(&self) -> usize {
        let slab = &self.slab;
        slab.chunks.len() * std::mem::size_of::<Chunk>()
            + slab.chunks.capacity() * std::mem::size_of::<Box<Chunk>>()
            + slab.free.capacity() * std::mem::size_of::<u32>()
            + self.index.allocation_size()
    }

    /// Buckets in the index.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.index.capacity()
    }

    /// Slots in the slab, used or free.
    #[cfg(test)]
    pub(super) fn slab_slots(&self) -> usize {
        self.slab.chunks.len() * CHUNK
    }

    /// The slot of `key`, whose hash is `hash`.
    #[inline]
    pub(super) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(table_hash(hash), |&slot| slab.get(slot).key() == key)
            .copied()
    }

    /// The entry in `slot`.
    #[inline]
    pub(super) fn get(&self, slot: u32) -> &Entry {
        self.slab.get(slot)
    }

    /// The entry in `slot`, mutable (its key must not change).
    #[inline]
    pub(super) fn get_mut(&mut self, slot: u32) -> &mut Entry {
        self.slab.get_mut(slot)
    }

    /// Adds `entry`, whose key hashes to `hash` and is not stored yet.
    #[inline]
    pub(super) fn insert(&mut self, hash: u64, entry: Entry) -> u32 {
        let Self { index, slab } = self;
        let slot = slab.put(entry);
        index.insert_unique(table_hash(hash), slot, |&s| rehash(slab, s));
        slot
    }

    /// Removes the entry in `slot` (whose key hashes to `hash`) and returns
    /// it; gives memory back when deletions left the segment mostly empty.
    #[inline]
    pub(super) fn remove(&mut self, hash: u64, slot: u32) -> Entry {
        if let Ok(found) = self.index.find_entry(table_hash(hash), |&s| s == slot) {
            found.remove();
        }
        let entry = self.slab.take(slot);
        self.maybe_shrink();
        entry
    }

    /// The slots whose keys may hash to `hash` (all those that do, and
    /// perhaps others).
    pub(super) fn slots_for(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        self.index.iter_hash(table_hash(hash)).copied()
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.index.iter().map(|&slot| self.slab.get(slot))
    }

    /// Gives memory back from a segment that deletions have left mostly
    /// empty: compacts the slab once more than half of it is free, and
    /// shrinks the index at 1/8 full (the hysteresis against growing at 7/8
    /// keeps this from thrashing).
    fn maybe_shrink(&mut self) {
        let free = self.slab.free.len();
        if free >= COMPACT_MIN_FREE && free > self.len() {
            self.compact();
        }
        let capacity = self.index.capacity();
        if capacity > SHRINK_MIN_CAPACITY && self.len() * SHRINK_RATIO < capacity {
            let Self { index, slab } = self;
            index.shrink_to(index.len() * 2, |&s| rehash(slab, s));
        }
    }

    /// Moves every live entry to a fresh, dense slab, rewriting the slot
    /// numbers in the index where they are (no rehash).
    fn compact(&mut self) {
        let mut old = std::mem::take(&mut self.slab);
        for slot in self.index.iter_mut() {
            *slot = self.slab.put(old.take(*slot));
        }
    }
}

/// The index hash of the entry in `slot`, from its key.
#[inline]
fn rehash(slab: &Slab, slot: u32) -> u64 {
    table_hash(key_hash(slab.get(slot).key()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Incoming, Meta};
    use crate::Encoding;

    fn entry(key: &[u8]) -> Entry {
        let meta = Meta {
            deadline: 0,
            tag: 0,
            encoding: Encoding::Embstr,
            access_secs: 0,
        };
        Entry::new(key, Incoming::Bytes(b"v"), meta)
    }

    #[test]
    fn slots_are_reused_and_the_slab_compacts() {
        let mut seg = Segment::default();
        let keys: Vec<Vec<u8>> = (0..1000).map(|i| format!("k{i}").into_bytes()).collect();
        for k in &keys {
            seg.insert(key_hash(k), entry(k));
        }
        assert_eq!(seg.slab_slots(), 1024);
        // Delete and re-add: freed slots are reused, the slab does not grow.
        for k in &keys[..100] {
            let slot = seg.find(key_hash(k), k).unwrap();
            assert_eq!(seg.remove(key_hash(k), slot).key(), &k[..]);
        }
        for k in &keys[..100] {
            seg.insert(key_hash(k), entry(k));
        }
        assert_eq!(seg.slab_slots(), 1024);
        // Delete 90%: the slab is compacted and every key left is found.
        for k in &keys[100..] {
            let slot = seg.find(key_hash(k), k).unwrap();
            seg.remove(key_hash(k), slot);
        }
        assert_eq!(seg.len(), 100);
        assert!(seg.slab_slots() <= 256, "{} slots", seg.slab_slots());
        assert!(seg.capacity() <= 448, "{} buckets", seg.capacity());
        for k in &keys[..100] {
            let slot = seg.find(key_hash(k), k).unwrap();
            assert_eq!(seg.get(slot).key(), &k[..]);
        }
        assert!(seg.find(key_hash(&keys[500]), &keys[500]).is_none());
        assert_eq!(seg.iter().count(), 100);
    }
}
