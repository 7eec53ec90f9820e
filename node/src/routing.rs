//! Which shard a point lives in: a stable 64-bit hash of the id fed to jump consistent hashing
//! (Lamport & Veach, 2014). Both functions are frozen: changing them would move stored points.

use crate::types::PointId;

/// FNV-1a over the id's canonical bytes: 8 little-endian bytes for a number, the 16 UUID
/// bytes prefixed by a marker byte so the two kinds never collide by construction.
pub fn point_hash(id: &PointId) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= b as u64;
            hash = hash.wrapping_mul(PRIME);
        }
    };
    match id {
        PointId::Num(n) => feed(&n.to_le_bytes()),
        PointId::Uuid(u) => {
            feed(&[0xff]);
            feed(u.as_bytes());
        }
    }
    hash
}

/// Jump consistent hash: maps `key` to a bucket in `0..buckets`, moving only 1/n of the keys
/// when a bucket is added.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// The shard of a point in a collection of `shard_number` shards.
pub fn shard_for(id: &PointId, shard_number: u32) -> u32 {
    jump_hash(point_hash(id), shard_number.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_shard_takes_everything() {
        assert!((0..1000u64).all(|n| shard_for(&PointId::Num(n), 1) == 0));
    }

    #[test]
    fn points_spread_evenly_over_shards() {
        let mut counts = [0usize; 6];
        for n in 0..60_000u64 {
            counts[shard_for(&PointId::Num(n), 6) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn adding_a_shard_moves_only_a_fraction() {
        let moved = (0..10_000u64)
            .filter(|&n| shard_for(&PointId::Num(n), 4) != shard_for(&PointId::Num(n), 5))
            .count();
        assert!((1_500..2_500).contains(&moved), "moved {moved}");
    }

    #[test]
    fn hash_values_are_frozen() {
        assert_eq!(point_hash(&PointId::Num(0)), 0xa8c7_f832_281a_39c5);
        assert_eq!(jump_hash(0, 10), 0);
    }
}
