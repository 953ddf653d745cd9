//! `Keyspace`: one database of one shard, a segmented hash table of entries
//! plus the timer wheel that reclaims expired keys.
// IMPLEMENTATION PENDING (helper)
use crate::{UnixMillis, Value};

/// One key with its value and optional deadline.
#[derive(Debug)]
pub struct Entry {
    key: Box<[u8]>,
    value: Value,
    deadline: UnixMillis, // 0 = no deadline
}

impl Entry {
    /// The key.
    pub fn key(&self) -> &[u8] { &self.key }
    /// The value.
    pub fn value(&self) -> &Value { &self.value }
    /// The value, mutable (changing a value never changes the deadline).
    pub fn value_mut(&mut self) -> &mut Value { &mut self.value }
    /// Consumes the entry, returning its value.
    pub fn into_value(self) -> Value { self.value }
    /// The absolute deadline, if the key has a TTL.
    pub fn deadline(&self) -> Option<UnixMillis> { if self.deadline == 0 { None } else { Some(self.deadline) } }
}

/// What one active-expiry pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpireOutcome {
    /// Keys deleted because their deadline passed.
    pub expired: usize,
    /// True when the budget ran out with due entries left.
    pub more: bool,
}

/// One database of one shard.
pub struct Keyspace {}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Self { todo!() }
    /// Entries stored, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize { todo!() }
    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool { self.len() == 0 }
    /// Live keys at `now`: reclaims every due key first, so the count is exact.
    pub fn live_len(&mut self, _now: UnixMillis) -> usize { todo!() }
    /// Keys with a deadline (INFO keyspace `expires=`).
    pub fn expires_len(&self) -> usize { todo!() }
    /// Keys deleted by expiry (lazy or active) since creation.
    pub fn expired_total(&self) -> u64 { todo!() }
    /// The live entry for `key`; an expired entry is deleted and `None` returned.
    pub fn get(&mut self, _key: &[u8], _now: UnixMillis) -> Option<&mut Entry> { todo!() }
    /// Stores `value` under `key` with `deadline` (None: no TTL), replacing any
    /// entry; returns the previous live entry.
    pub fn set(&mut self, _key: &[u8], _value: Value, _deadline: Option<UnixMillis>, _now: UnixMillis) -> Option<Entry> { todo!() }
    /// Deletes `key`; returns the removed live entry.
    pub fn remove(&mut self, _key: &[u8], _now: UnixMillis) -> Option<Entry> { todo!() }
    /// Sets or clears the deadline of a live key; false when the key does not exist.
    pub fn set_deadline(&mut self, _key: &[u8], _deadline: Option<UnixMillis>, _now: UnixMillis) -> bool { todo!() }
    /// Deletes up to `budget` keys whose deadline is `<= now` (active expiry).
    pub fn expire_due(&mut self, _now: UnixMillis, _budget: usize) -> ExpireOutcome { todo!() }
    /// Deletes everything.
    pub fn clear(&mut self) { todo!() }
}

impl Default for Keyspace {
    fn default() -> Self { Self::new() }
}
