//! Key hashing and key → shard routing.
// IMPLEMENTATION PENDING (helper)

/// The 64-bit hash of a whole key (xxh3, fixed seed): chooses the segment and bucket.
pub fn key_hash(_key: &[u8]) -> u64 {
    todo!()
}

/// The shard (0..shards) that owns `key`. Honours Redis hash tags: if the key
/// contains `{...}` with a non-empty body, only the body is hashed.
pub fn shard_of(_key: &[u8], _shards: usize) -> usize {
    todo!()
}
