//! `StoredKey`: a key's bytes plus 32 bits of its hash, in the 16 bytes a
//! `Box<[u8]>` takes.
//!
//! A growing segment must rehash all its entries. Recomputing each hash from
//! the key means one cache miss per key on its heap bytes (measured: a 10 M
//! key keyspace stalled ~20 ms per segment doubling that way, against ~6 ms
//! with the hash stored), while storing a `u64` beside a `Box<[u8]>` costs 8
//! bytes per key. A `Box<[u8]>` wastes half of its length word, though: a
//! `u32` length (longer keys keep their length in a prefix of the
//! allocation) leaves room for the low 32 bits of the key hash, which is all
//! the table needs (see `table_hash` in `keyspace.rs`).

use std::fmt;
use std::ptr::NonNull;

/// `len` value marking a long key, whose real length is stored as a `u64`
/// prefix of the allocation. Small under test so the path gets exercised.
const LONG: u32 = if cfg!(test) { 8 } else { u32::MAX };
const PREFIX: usize = std::mem::size_of::<u64>();

/// An owned, immutable key and the low 32 bits of its [`crate::key_hash`].
pub(crate) struct StoredKey {
    /// Start of the allocation (a boxed `[u8]` of the key, or of the prefix
    /// and key for long keys); dangling when `len == 0`.
    ptr: NonNull<u8>,
    /// The key's length, or `LONG`.
    len: u32,
    hash32: u32,
}

// SAFETY: a StoredKey uniquely owns its allocation, like the Box<[u8]> it was
// made from, and hands out only shared references to it.
unsafe impl Send for StoredKey {}
// SAFETY: as above; `&StoredKey` only reads.
unsafe impl Sync for StoredKey {}

impl StoredKey {
    /// Copies `key`.
    #[inline]
    pub(crate) fn new(key: &[u8], hash32: u32) -> Self {
        if key.len() < LONG as usize {
            Self::from_box(key.into(), key.len() as u32, hash32)
        } else {
            let mut bytes = Vec::with_capacity(PREFIX + key.len());
            bytes.extend_from_slice(&(key.len() as u64).to_ne_bytes());
            bytes.extend_from_slice(key);
            Self::from_box(bytes.into_boxed_slice(), LONG, hash32)
        }
    }

    /// The empty key (allocates nothing), with hash bits 0.
    #[inline]
    pub(crate) fn empty() -> Self {
        Self::from_box(Box::default(), 0, 0)
    }

    #[inline]
    fn from_box(bytes: Box<[u8]>, len: u32, hash32: u32) -> Self {
        // SAFETY: Box::into_raw never returns null.
        let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(bytes) as *mut u8) };
        Self { ptr, len, hash32 }
    }

    /// The low 32 bits of the key's hash.
    #[inline]
    pub(crate) fn hash32(&self) -> u32 {
        self.hash32
    }

    /// Bytes of the key's heap allocation.
    #[inline]
    pub(crate) fn heap_size(&self) -> usize {
        self.boxed_len()
    }

    /// Length of the boxed allocation.
    #[inline]
    fn boxed_len(&self) -> usize {
        if self.len == LONG {
            PREFIX + self.long_len()
        } else {
            self.len as usize
        }
    }

    #[inline]
    fn long_len(&self) -> usize {
        let mut prefix = [0u8; PREFIX];
        // SAFETY: a long key's allocation starts with PREFIX bytes of length.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), prefix.as_mut_ptr(), PREFIX) };
        u64::from_ne_bytes(prefix) as usize
    }

    /// The key's bytes.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live allocation of `boxed_len()` bytes that
        // holds the key at offset 0 (short) or PREFIX (long); for the empty
        // key it is a dangling but aligned pointer, valid for 0 bytes.
        unsafe {
            if self.len == LONG {
                std::slice::from_raw_parts(self.ptr.as_ptr().add(PREFIX), self.long_len())
            } else {
                std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize)
            }
        }
    }
}

impl Drop for StoredKey {
    fn drop(&mut self) {
        let len = self.boxed_len();
        // SAFETY: `ptr` and `len` are exactly what `Box::into_raw` gave us in
        // `from_box`, and this is the only owner.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len)) });
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_16_bytes() {
        assert_eq!(std::mem::size_of::<StoredKey>(), 16);
        assert_eq!(std::mem::size_of::<Option<StoredKey>>(), 16);
    }

    #[test]
    fn round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for len in [0, 1, 7, 8, 9, 16, 255, 300] {
            let key = StoredKey::new(&bytes[..len], len as u32 * 7);
            assert_eq!(key.as_bytes(), &bytes[..len]);
            assert_eq!(key.hash32(), len as u32 * 7);
            assert_eq!(
                key.boxed_len(),
                if len < LONG as usize {
                    len
                } else {
                    PREFIX + len
                }
            );
        }
    }

    #[test]
    fn empty_key() {
        let key = StoredKey::empty();
        assert_eq!(key.as_bytes(), b"");
        assert_eq!(StoredKey::new(b"", 1).as_bytes(), b"");
    }

    #[test]
    fn moves_and_drops_across_threads() {
        let keys: Vec<StoredKey> = (0..100)
            .map(|i| StoredKey::new(format!("key:{i}").repeat(i % 4).as_bytes(), i as u32))
            .collect();
        let back = std::thread::spawn(move || keys).join().unwrap();
        assert_eq!(back[7].as_bytes(), b"key:7key:7key:7");
        assert_eq!(back[4].as_bytes(), b"");
    }
}
