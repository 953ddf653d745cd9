//! `Entry`: one key with its value, deadline, encoding and access time, in
//! one 64-byte cache line.
//!
//! **Why this layout.** Memory per key is what users compare first, and the
//! typical key is small: a 16-byte key with a 32-byte value is 48 bytes of
//! data, which Redis stores in four allocations (~150 B/key). An entry here
//! is a 16-byte header (deadline, access time, guard tag, encoding, lengths)
//! and a 48-byte body that holds the key and the value *inline* whenever
//! both fit together; only larger keys or values go to the heap (the body
//! then holds a boxed key and the value). Inline entries allocate nothing,
//! so a SET of a small value is a copy into the slot, and a GET reads one
//! cache line (entries are 64-byte aligned in the slab, see `segment.rs`).
//!
//! The layout is a `repr(C)` union guarded by one flag bit; all the unsafe
//! code of this crate's entries is in this file.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crate::{Encoding, UnixMillis, Value, ValueRef};

/// Bytes of key plus value stored inline.
pub(crate) const INLINE: usize = 48;
/// `flags` bit: the body holds a [`Heap`], not inline bytes.
const HEAP: u8 = 0x80;
/// `flags` bits holding the [`Encoding`].
const ENCODING_MASK: u8 = 0x03;

/// The body of an entry whose key and value do not fit inline.
#[repr(C)]
struct Heap {
    key: Box<[u8]>,
    value: Value,
}

/// Inline key and value bytes, or a [`Heap`] (which one: `Entry::flags`).
#[repr(C)]
union Body {
    inline: [u8; INLINE],
    heap: ManuallyDrop<Heap>,
}

/// One key with its value, optional deadline, value encoding and last
/// access time.
#[repr(C, align(64))]
pub struct Entry {
    /// Absolute deadline in unix milliseconds, 0 = none.
    deadline: UnixMillis,
    /// Last access, in unix seconds (32 bits last until 2106).
    access_secs: u32,
    /// Low 8 bits of the deadline of the key's guard in the TTL wheel.
    tag: u8,
    /// `HEAP` and the encoding.
    flags: u8,
    /// Inline key length (inline entries only).
    key_len: u8,
    /// Inline value length (inline entries only).
    value_len: u8,
    body: Body,
}

/// An entry's metadata as it is stored: raw deadline (0 = none), guard
/// tag, encoding and last access in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub deadline: UnixMillis,
    pub tag: u8,
    pub encoding: Encoding,
    pub access_secs: u32,
}

/// A value arriving to be stored: borrowed bytes (copied inline when they
/// fit, so a SET of a small value allocates nothing) or an owned value.
pub(crate) enum Incoming<'a> {
    Bytes(&'a [u8]),
    Owned(Value),
}

impl Incoming<'_> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Incoming::Bytes(b) => b,
            Incoming::Owned(Value::String(s)) => s,
        }
    }

    #[inline]
    fn into_value(self) -> Value {
        match self {
            Incoming::Bytes(b) => Value::String(b.to_vec()),
            Incoming::Owned(v) => v,
        }
    }
}

/// Everything an entry holds but its key, to move a key between keyspaces
/// (RENAME, MOVE, COPY across shards or databases): take the entry out with
/// [`crate::Keyspace::remove`], split it with [`Entry::into_parts`], store it
/// with [`crate::Keyspace::insert_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryParts {
    /// The value.
    pub value: Value,
    /// The absolute deadline, if any.
    pub deadline: Option<UnixMillis>,
    /// The encoding Redis would report.
    pub encoding: Encoding,
    /// The last access time, in unix seconds.
    pub access_secs: u32,
}

impl Entry {
    /// A slot holding nothing (no key, no heap memory): what a freed slab
    /// slot contains.
    pub(crate) const VACANT: Entry = Entry {
        deadline: 0,
        access_secs: 0,
        tag: 0,
        flags: 0,
        key_len: 0,
        value_len: 0,
        body: Body {
            inline: [0; INLINE],
        },
    };

    /// A new entry for `key`.
    #[inline]
    pub(crate) fn new(key: &[u8], value: Incoming<'_>, meta: Meta) -> Entry {
        let bytes = value.bytes();
        let mut entry = Entry {
            deadline: meta.deadline,
            access_secs: meta.access_secs,
            tag: meta.tag,
            flags: meta.encoding as u8,
            key_len: 0,
            value_len: 0,
            body: Body {
                inline: [0; INLINE],
            },
        };
        if key.len() + bytes.len() <= INLINE {
            entry.key_len = key.len() as u8;
            entry.value_len = bytes.len() as u8;
            // SAFETY: `inline` is the active field of a VACANT body, and
            // both copies stay within INLINE bytes (checked above).
            unsafe {
                entry.body.inline[..key.len()].copy_from_slice(key);
                entry.body.inline[key.len()..key.len() + bytes.len()].copy_from_slice(bytes);
            }
        } else {
            entry.set_heap(Heap {
                key: key.into(),
                value: value.into_value(),
            });
        }
        entry
    }

    /// Stores `value` in place of this entry's value, with new metadata, and
    /// returns the previous contents as an entry of their own. When both the
    /// old and the new value live on the heap, the key's allocation is kept
    /// and the returned entry has an empty key.
    #[inline]
    pub(crate) fn replace(&mut self, key: &[u8], value: Incoming<'_>, meta: Meta) -> Entry {
        if self.is_heap() && key.len() + value.bytes().len() > INLINE {
            let old_value = std::mem::replace(self.heap_mut_value(), value.into_value());
            let old = Entry::new(b"", Incoming::Owned(old_value), self.meta());
            self.deadline = meta.deadline;
            self.tag = meta.tag;
            self.flags = HEAP | meta.encoding as u8;
            self.access_secs = meta.access_secs;
            old
        } else {
            std::mem::replace(self, Entry::new(key, value, meta))
        }
    }

    /// [`Entry::replace`] of a stored entry, bringing its keyspace's count
    /// of heap bytes up to date. A small value over a small one (SET's usual
    /// case) moves no heap block and costs no more than `replace`.
    #[inline]
    pub(crate) fn replace_counted(
        &mut self,
        key: &[u8],
        value: Incoming<'_>,
        meta: Meta,
        heap_bytes: &mut usize,
    ) -> Entry {
        if !self.is_heap() && key.len() + value.bytes().len() <= INLINE {
            return std::mem::replace(self, Entry::new(key, value, meta));
        }
        let before = self.heap_bytes();
        let old = self.replace(key, value, meta);
        *heap_bytes = *heap_bytes - before + self.heap_bytes();
        old
    }

    /// The metadata, as [`Entry::new`] takes it.
    #[inline]
    fn meta(&self) -> Meta {
        Meta {
            deadline: self.deadline,
            tag: self.tag,
            encoding: self.encoding(),
            access_secs: self.access_secs,
        }
    }

    #[inline]
    fn is_heap(&self) -> bool {
        self.flags & HEAP != 0
    }

    #[inline]
    fn set_heap(&mut self, heap: Heap) {
        debug_assert!(!self.is_heap());
        self.body.heap = ManuallyDrop::new(heap);
        self.flags |= HEAP;
    }

    #[inline]
    fn heap(&self) -> Option<&Heap> {
        // SAFETY: HEAP says `heap` is the active field.
        self.is_heap().then(|| unsafe { &*self.body.heap })
    }

    /// The heap value; only for heap entries.
    #[inline]
    fn heap_value(&self) -> &Value {
        debug_assert!(self.is_heap());
        // SAFETY: callers check HEAP, which says `heap` is the active field.
        unsafe { &(*self.body.heap).value }
    }

    /// The heap value, mutable; only for heap entries.
    #[inline]
    fn heap_mut_value(&mut self) -> &mut Value {
        debug_assert!(self.is_heap());
        // SAFETY: callers check HEAP, which says `heap` is the active field.
        unsafe { &mut (*self.body.heap).value }
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        match self.heap() {
            Some(heap) => &heap.key,
            // SAFETY: not HEAP, so `inline` is the active field.
            None => unsafe { &self.body.inline[..self.key_len as usize] },
        }
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> ValueRef<'_> {
        match self.heap() {
            Some(heap) => heap.value.as_ref(),
            None => {
                let start = self.key_len as usize;
                // SAFETY: not HEAP, so `inline` is the active field.
                ValueRef::String(unsafe {
                    &self.body.inline[start..start + self.value_len as usize]
                })
            }
        }
    }

    /// The value, mutable (changing a value never changes the deadline). An
    /// inline value moves to the heap first, where it can grow. Outside this
    /// crate, through [`EntryMut::value_mut`], which accounts for the change.
    pub(crate) fn value_mut(&mut self) -> &mut Value {
        if !self.is_heap() {
            let heap = Heap {
                key: self.key().into(),
                value: self.value().to_owned(),
            };
            self.set_heap(heap);
        }
        self.heap_mut_value()
    }

    /// Replaces the value with the string `value`, keeping the key, deadline,
    /// guard and access time (INCR rewriting a counter): inline when the key
    /// and the string fit together, so a counter never allocates.
    pub(crate) fn set_string(&mut self, value: &[u8]) {
        let key_len = self.key().len();
        if key_len + value.len() > INLINE {
            let Value::String(s) = self.value_mut();
            s.clear();
            s.extend_from_slice(value);
            return;
        }
        if self.is_heap() {
            // SAFETY: HEAP says `heap` is the active field; it is taken
            // once, and the flag cleared before anything reads the body.
            let heap = unsafe { ManuallyDrop::take(&mut self.body.heap) };
            self.flags &= !HEAP;
            self.body.inline = [0; INLINE];
            // SAFETY: `inline` is now the active field; key_len <= INLINE.
            unsafe { self.body.inline[..key_len].copy_from_slice(&heap.key) };
        }
        self.key_len = key_len as u8;
        self.value_len = value.len() as u8;
        // SAFETY: not HEAP, so `inline` is the active field; the copy ends
        // at key_len + value.len() <= INLINE.
        unsafe { self.body.inline[key_len..key_len + value.len()].copy_from_slice(value) };
    }

    /// Consumes the entry, returning its value.
    pub fn into_value(mut self) -> Value {
        if self.is_heap() {
            std::mem::replace(self.heap_mut_value(), Value::String(Vec::new()))
        } else {
            self.value().to_owned()
        }
    }

    /// Consumes the entry, returning all it holds but the key.
    pub fn into_parts(self) -> EntryParts {
        EntryParts {
            deadline: self.deadline(),
            encoding: self.encoding(),
            access_secs: self.access_secs(),
            value: self.into_value(),
        }
    }

    /// The absolute deadline, if the key has a TTL.
    #[inline]
    pub fn deadline(&self) -> Option<UnixMillis> {
        match self.deadline {
            0 => None,
            d => Some(d),
        }
    }

    /// The encoding Redis would report for the value.
    #[inline]
    pub fn encoding(&self) -> Encoding {
        Encoding::from_bits(self.flags & ENCODING_MASK)
    }

    /// Records a new encoding, after a command changed the value in place
    /// (APPEND and SETRANGE make `raw`, INCR keeps `int`).
    #[inline]
    pub(crate) fn set_encoding(&mut self, encoding: Encoding) {
        self.flags = (self.flags & !ENCODING_MASK) | encoding as u8;
    }

    /// When the key was last read or written, in unix seconds.
    #[inline]
    pub fn access_secs(&self) -> u32 {
        self.access_secs
    }

    /// Whole seconds since the last access, as `OBJECT IDLETIME` reports.
    pub fn idle_secs(&self, now: UnixMillis) -> u64 {
        u64::from(secs(now).saturating_sub(self.access_secs))
    }

    /// Records an access at `now` ([`crate::Keyspace::get`] does this).
    #[inline]
    pub(crate) fn touch(&mut self, now: UnixMillis) {
        self.access_secs = secs(now);
    }

    /// Bytes this entry takes in Mayfly's memory: its slot plus the heap
    /// blocks of its key and value (allocator overhead and the index's
    /// share not included).
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Entry>() + self.heap_bytes()
    }

    /// Bytes of the heap blocks of its key and value (0 for an inline
    /// entry): what it adds to its keyspace's memory beyond its slot.
    #[inline]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.heap().map_or(0, |h| h.key.len() + h.value.heap_size())
    }

    /// The raw deadline, 0 = none.
    #[inline]
    pub(crate) fn raw_deadline(&self) -> UnixMillis {
        self.deadline
    }

    #[inline]
    pub(crate) fn set_raw_deadline(&mut self, deadline: UnixMillis) {
        self.deadline = deadline;
    }

    #[inline]
    pub(crate) fn guard_tag(&self) -> u8 {
        self.tag
    }

    #[inline]
    pub(crate) fn set_guard_tag(&mut self, tag: u8) {
        self.tag = tag;
    }

    /// True when the deadline has passed at `now`.
    #[inline]
    pub(crate) fn is_expired(&self, now: UnixMillis) -> bool {
        is_due(self.deadline, now)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.is_heap() {
            // SAFETY: HEAP says `heap` is the active, initialised field; it
            // is dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.body.heap) }
        }
    }
}

/// A stored entry opened for a command to change its value in place
/// ([`crate::Keyspace::get_mut`]: APPEND, SETRANGE, INCR, INCRBYFLOAT).
///
/// A keyspace keeps a running count of the heap bytes of its entries (see
/// [`crate::Keyspace::memory_bytes`]); an entry borrowed from it changes
/// only through this handle, which carries that count and brings it up to
/// date with every change it makes. Reading goes through `Deref`.
pub struct EntryMut<'a> {
    entry: &'a mut Entry,
    /// The keyspace's count of heap bytes, which includes this entry's.
    heap_bytes: &'a mut usize,
}

impl<'a> EntryMut<'a> {
    #[inline]
    pub(crate) fn new(entry: &'a mut Entry, heap_bytes: &'a mut usize) -> Self {
        Self { entry, heap_bytes }
    }

    /// The value, to change in place: an inline value moves to the heap
    /// first, where it can grow. The keyspace's count is brought up to date
    /// when the returned guard is dropped, however much the value grew or
    /// shrank (or its capacity did).
    pub fn value_mut(&mut self) -> ValueMut<'_> {
        let before = self.entry.heap_bytes();
        self.entry.value_mut();
        ValueMut {
            entry: self.entry,
            heap_bytes: self.heap_bytes,
            before,
        }
    }

    /// Replaces the value with the string `value`, keeping the key,
    /// deadline, guard and access time (INCR rewriting a counter); inline
    /// when the key and the string fit together, so a counter never
    /// allocates.
    pub fn set_string(&mut self, value: &[u8]) {
        let before = self.entry.heap_bytes();
        self.entry.set_string(value);
        *self.heap_bytes = *self.heap_bytes - before + self.entry.heap_bytes();
    }

    /// Records a new encoding, after a command changed the value in place
    /// (APPEND and SETRANGE make `raw`, INCR keeps `int`).
    #[inline]
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.entry.set_encoding(encoding);
    }
}

impl Deref for EntryMut<'_> {
    type Target = Entry;

    #[inline]
    fn deref(&self) -> &Entry {
        self.entry
    }
}

/// The value of an [`EntryMut`], open for change; dropping it measures the
/// value again and corrects the keyspace's count of heap bytes by the
/// difference.
pub struct ValueMut<'a> {
    /// A heap entry (`EntryMut::value_mut` made it one).
    entry: &'a mut Entry,
    heap_bytes: &'a mut usize,
    /// The entry's heap bytes before `value_mut` (0 when it was inline).
    before: usize,
}

impl Deref for ValueMut<'_> {
    type Target = Value;

    #[inline]
    fn deref(&self) -> &Value {
        self.entry.heap_value()
    }
}

impl DerefMut for ValueMut<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Value {
        self.entry.heap_mut_value()
    }
}

impl Drop for ValueMut<'_> {
    fn drop(&mut self) {
        *self.heap_bytes = *self.heap_bytes - self.before + self.entry.heap_bytes();
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value())
            .field("deadline", &self.deadline())
            .field("encoding", &self.encoding())
            .field("access_secs", &self.access_secs())
            .finish()
    }
}

/// Unix seconds of `now`, as an entry stores its access time.
#[inline]
pub(crate) fn secs(now: UnixMillis) -> u32 {
    (now / 1000) as u32
}

/// True when a raw deadline (0 = none) has passed at `now`.
#[inline]
pub(crate) fn is_due(deadline: UnixMillis, now: UnixMillis) -> bool {
    deadline != 0 && deadline <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(deadline: UnixMillis, tag: u8, encoding: Encoding, access_secs: u32) -> Meta {
        Meta {
            deadline,
            tag,
            encoding,
            access_secs,
        }
    }

    fn owned(v: &[u8]) -> Incoming<'static> {
        Incoming::Owned(Value::String(v.to_vec()))
    }

    #[test]
    fn is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
    }

    #[test]
    fn small_keys_and_values_are_inline_large_ones_on_the_heap() {
        let key16 = [b'k'; 16];
        for (key_len, value_len) in [
            (0, 0),
            (16, 32),
            (1, 47),
            (48, 0),
            (16, 33),
            (0, 49),
            (300, 5),
        ] {
            let key = vec![b'k'; key_len];
            let value = vec![b'v'; value_len];
            for incoming in [Incoming::Bytes(&value), owned(&value)] {
                let e = Entry::new(&key, incoming, meta(7, 3, Encoding::Raw, 9));
                assert_eq!(e.is_heap(), key_len + value_len > INLINE);
                assert_eq!(e.key(), &key[..]);
                assert_eq!(e.value(), ValueRef::String(&value));
                assert_eq!(
                    (e.deadline(), e.guard_tag(), e.access_secs()),
                    (Some(7), 3, 9)
                );
                assert_eq!(e.encoding(), Encoding::Raw);
                assert_eq!(
                    e.memory_usage(),
                    64 + if e.is_heap() { key_len + value_len } else { 0 }
                );
            }
        }
        assert!(!Entry::new(
            &key16,
            Incoming::Bytes(&[0; 32]),
            meta(0, 0, Encoding::Raw, 0)
        )
        .is_heap());
    }

    #[test]
    fn value_mut_moves_an_inline_value_to_the_heap() {
        let mut e = Entry::new(
            b"key",
            Incoming::Bytes(b"abc"),
            meta(0, 0, Encoding::Embstr, 0),
        );
        let Value::String(s) = e.value_mut();
        s.extend_from_slice(&[b'x'; 100]);
        assert!(e.is_heap());
        assert_eq!(e.key(), b"key");
        assert_eq!(
            e.value().to_owned(),
            Value::String([&b"abc"[..], &[b'x'; 100]].concat())
        );
        assert_eq!(e.encoding(), Encoding::Embstr);
    }

    #[test]
    fn set_string_keeps_the_metadata_and_goes_inline_when_it_fits() {
        let mut e = Entry::new(
            b"counter",
            Incoming::Bytes(&[b'9'; 60]),
            meta(5, 2, Encoding::Raw, 3),
        );
        assert!(e.is_heap());
        for value in [&b"10"[..], &[b'7'; 41], &[b'8'; 42], b"", b"-1"] {
            e.set_string(value);
            assert_eq!(e.is_heap(), 7 + value.len() > INLINE);
            assert_eq!(
                (e.key(), e.value()),
                (&b"counter"[..], ValueRef::String(value))
            );
            assert_eq!(
                (e.deadline(), e.guard_tag(), e.access_secs()),
                (Some(5), 2, 3)
            );
            assert_eq!(e.encoding(), Encoding::Raw);
        }
    }

    #[test]
    fn replace_returns_the_old_contents() {
        let big = vec![b'b'; 100];
        let bigger = vec![b'c'; 200];
        // heap -> heap keeps the key's allocation.
        let mut e = Entry::new(b"k", Incoming::Bytes(&big), meta(5, 1, Encoding::Raw, 1));
        let old = e.replace(b"k", owned(&bigger), meta(0, 0, Encoding::Raw, 2));
        assert_eq!(old.key(), b"");
        assert_eq!(old.into_value(), Value::String(big.clone()));
        assert_eq!(
            (e.key(), e.deadline(), e.access_secs()),
            (&b"k"[..], None, 2)
        );
        assert_eq!(e.value(), ValueRef::String(&bigger));
        // heap -> inline and inline -> heap rebuild the entry.
        let old = e.replace(
            b"k",
            Incoming::Bytes(b"small"),
            meta(9, 4, Encoding::Embstr, 3),
        );
        assert_eq!(old.into_parts().value, Value::String(bigger));
        assert!(!e.is_heap());
        assert_eq!(
            (e.value(), e.deadline(), e.guard_tag()),
            (ValueRef::String(b"small"), Some(9), 4)
        );
        let old = e.replace(b"k", Incoming::Bytes(&big), meta(0, 0, Encoding::Raw, 3));
        assert_eq!(
            (old.key(), old.value()),
            (&b"k"[..], ValueRef::String(b"small"))
        );
        assert!(e.is_heap());
    }

    #[test]
    fn entries_move_across_threads() {
        let entries: Vec<Entry> = (0..10)
            .map(|i| {
                Entry::new(
                    b"key",
                    Incoming::Bytes(&vec![b'v'; i * 10]),
                    meta(0, 0, Encoding::Raw, 0),
                )
            })
            .collect();
        let back = std::thread::spawn(move || entries).join().unwrap();
        assert_eq!(back[9].value(), ValueRef::String(&[b'v'; 90]));
    }
}
