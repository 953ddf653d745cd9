//! Key hashing and key → shard routing.
//!
//! Every key gets one 64-bit hash (xxh3 with a fixed seed). Its bits are
//! shared out so that no two decisions depend on the same bits:
//!
//! | bits   | used by                                                      |
//! |--------|--------------------------------------------------------------|
//! | 0..32  | stored with the key; inside a segment, hashbrown's bucket    |
//! |        | index (low bits) and its 7-bit tag (bits 25..32)             |
//! | 32..48 | [`shard_of`]: which thread owns the key                      |
//! | 48..58 | the keyspace segment ([`crate::Keyspace`])                   |
//!
//! Were the shard chosen from the same bits as the bucket, every key of one
//! shard would share those bits and crowd into a fraction of the buckets.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The fixed seed of [`key_hash`]. Changing it re-routes every key, so it is
/// part of the on-disk format of anything that records shard ownership.
const SEED: u64 = 0x6d61_7966_6c79_2121; // "mayfly!!"

/// The 64-bit hash of a whole key (xxh3, fixed seed): chooses the segment and bucket.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64_with_seed(key, SEED)
}

/// The shard (0..shards) that owns `key`. Honours Redis hash tags: if the key
/// contains `{...}` with a non-empty body, only the body is hashed.
///
/// The tag is the bytes between the first `{` and the first `}` after it, as
/// in Redis Cluster: `{user1000}.following` and `{user1000}.followers` share
/// a shard, `foo{}{bar}` is hashed whole (empty first tag) and
/// `foo{{bar}}zap` hashes `{bar`.
#[inline]
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    shard_of_hash(key_hash(hash_tag(key).unwrap_or(key)), shards)
}

/// The shard (0..shards) for a routing hash, i.e. `key_hash` of the key's
/// hash tag or of the whole key. Uses hash bits 32..48 only (see the module
/// doc); spreads evenly for any `shards` up to 65536.
#[inline]
pub fn shard_of_hash(hash: u64, shards: usize) -> usize {
    ((((hash >> 32) & 0xffff) * shards as u64) >> 16) as usize
}

/// The hash-tag body of `key`, if it has a non-empty one.
#[inline]
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// Number of Redis Cluster hash slots.
pub const CLUSTER_SLOTS: u16 = 16384;

/// The Redis Cluster hash slot of `key` (CLUSTER KEYSLOT): CRC16 (XMODEM) of
/// its hash tag, or of the whole key, modulo 16384. Cluster clients route
/// with it, so it must match Redis bit for bit.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key).unwrap_or(key)) & (CLUSTER_SLOTS - 1)
}

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis's `crc16`.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                crc << 1 ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_match_redis() {
        // CRC16/XMODEM's check value, and slots redis-server 7.0 reports.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user}.a"), 5474);
        assert_eq!(key_slot(b"{user}.a"), key_slot(b"user"));
        assert_eq!(key_slot(b"foo{}{bar}"), 8363);
        assert_eq!(key_slot(b"foo{{bar}}zap"), 4015);
        assert_eq!(key_slot(b"foo{bar}{zap}"), 5061);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn key_hash_is_stable_and_seeded() {
        assert_eq!(key_hash(b"foo"), key_hash(b"foo"));
        assert_ne!(key_hash(b"foo"), key_hash(b"fop"));
        assert_eq!(key_hash(b"foo"), xxh3_64_with_seed(b"foo", SEED));
        assert_ne!(key_hash(b"foo"), xxhash_rust::xxh3::xxh3_64(b"foo"));
    }

    #[test]
    fn hash_tag_follows_the_redis_cluster_rule() {
        assert_eq!(hash_tag(b"{user1000}.following"), Some(&b"user1000"[..]));
        assert_eq!(hash_tag(b"{user1000}.followers"), Some(&b"user1000"[..]));
        assert_eq!(hash_tag(b"foo{}{bar}"), None);
        assert_eq!(hash_tag(b"foo{{bar}}zap"), Some(&b"{bar"[..]));
        assert_eq!(hash_tag(b"foo{bar}{zap}"), Some(&b"bar"[..]));
        assert_eq!(hash_tag(b"foo}bar{zap"), None);
        assert_eq!(hash_tag(b"foo{bar"), None);
        assert_eq!(hash_tag(b"}{x}"), Some(&b"x"[..]));
        assert_eq!(hash_tag(b""), None);
        assert_eq!(hash_tag(b"{}"), None);
    }

    #[test]
    fn tagged_keys_share_a_shard() {
        for shards in [2, 3, 7, 16, 64, 1000] {
            let a = shard_of(b"{user1000}.following", shards);
            assert_eq!(a, shard_of(b"{user1000}.followers", shards));
            assert_eq!(a, shard_of(b"user1000", shards));
            assert_eq!(
                shard_of(b"foo{}{bar}", shards),
                shard_of_hash(key_hash(b"foo{}{bar}"), shards)
            );
            assert_eq!(
                shard_of(b"foo{{bar}}zap", shards),
                shard_of(b"{bar", shards)
            );
            assert_eq!(
                shard_of(b"foo{{bar}}zap", shards),
                shard_of_hash(key_hash(b"{bar"), shards)
            );
        }
    }

    #[test]
    fn one_shard_owns_everything() {
        for key in [&b""[..], b"a", b"{x}y", b"hello world"] {
            assert_eq!(shard_of(key, 1), 0);
            assert_eq!(shard_of(key, 0), 0);
        }
    }

    #[test]
    fn shards_are_in_range_and_roughly_even() {
        for shards in [2usize, 3, 4, 8, 13, 64] {
            let keys = 200_000;
            let mut counts = vec![0usize; shards];
            for i in 0..keys {
                let s = shard_of(format!("key:{i}").as_bytes(), shards);
                counts[s] += 1;
            }
            let expected = keys / shards;
            for (s, &c) in counts.iter().enumerate() {
                let dev = (c as f64 - expected as f64).abs() / expected as f64;
                assert!(
                    dev < 0.05,
                    "shards={shards} shard {s}: {c} keys, expected ~{expected}"
                );
            }
        }
    }

    #[test]
    fn routing_bits_are_independent_of_segment_bits() {
        // Keys of one shard must still spread over every segment (bits 48..58).
        let shards = 4;
        let mut segments = [0usize; 1024];
        let mut n = 0;
        for i in 0..1_600_000 {
            let key = format!("k{i}");
            let h = key_hash(key.as_bytes());
            if shard_of_hash(h, shards) == 1 {
                segments[((h >> 48) & 0x3ff) as usize] += 1;
                n += 1;
            }
        }
        let expected = n / 1024;
        assert!(
            segments
                .iter()
                .all(|&c| c > expected / 2 && c < expected * 3 / 2),
            "{segments:?}"
        );
    }
}
