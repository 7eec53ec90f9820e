//! Where the replicas of a new collection's shards go: each shard's replicas on distinct
//! peers, the least loaded first, so replicas (and the seeds that usually become leaders)
//! spread evenly. Pure and deterministic: every peer computes the same placement.

use std::collections::BTreeMap;

use crate::cluster::raft_types::PeerId;

/// Replica peers for `shard_number` shards of `replication_factor` replicas each (capped at
/// the number of peers), given the replicas each peer already holds.
pub fn place_shards(
    peers: &[PeerId],
    load: &BTreeMap<PeerId, usize>,
    shard_number: u32,
    replication_factor: u32,
) -> Vec<Vec<PeerId>> {
    if peers.is_empty() {
        return vec![Vec::new(); shard_number as usize];
    }
    let replicas = (replication_factor.max(1) as usize).min(peers.len());
    let n = peers.len().max(1);
    let mut load: Vec<usize> = peers
        .iter()
        .map(|p| load.get(p).copied().unwrap_or(0))
        .collect();
    let mut firsts = vec![0usize; peers.len()];
    (0..shard_number as usize)
        .map(|shard| {
            // Among equals, rotate with the shard number so consecutive shards start on
            // different peers.
            let rotation = |i: usize| (i + n - shard % n) % n;
            // The replicas go where the fewest replicas are; among them, the seed (which
            // usually becomes leader) where the fewest shards start.
            let mut order: Vec<usize> = (0..peers.len()).collect();
            order.sort_by_key(|&i| (load[i], rotation(i)));
            let mut chosen: Vec<usize> = order.into_iter().take(replicas).collect();
            let seed = (0..chosen.len())
                .min_by_key(|&k| firsts[chosen[k]])
                .expect("at least one replica");
            chosen.swap(0, seed);
            firsts[chosen[0]] += 1;
            chosen
                .into_iter()
                .map(|i| {
                    load[i] += 1;
                    peers[i]
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn empty_load(peers: &[PeerId]) -> BTreeMap<PeerId, usize> {
        peers.iter().map(|p| (*p, 0)).collect()
    }

    #[test]
    fn replicas_of_a_shard_are_on_distinct_peers() {
        let peers = [10, 20, 30, 40];
        for shards in place_shards(&peers, &empty_load(&peers), 8, 3) {
            assert_eq!(shards.len(), 3);
            assert_eq!(shards.iter().collect::<BTreeSet<_>>().len(), 3);
        }
    }

    #[test]
    fn load_and_first_replicas_spread_evenly() {
        let peers = [1, 2, 3];
        let placed = place_shards(&peers, &empty_load(&peers), 6, 2);
        let mut per_peer = BTreeMap::new();
        let mut firsts = BTreeMap::new();
        for replicas in &placed {
            for p in replicas {
                *per_peer.entry(*p).or_insert(0) += 1;
            }
            *firsts.entry(replicas[0]).or_insert(0) += 1;
        }
        assert_eq!(
            per_peer.values().copied().collect::<Vec<_>>(),
            vec![4, 4, 4]
        );
        assert_eq!(firsts.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
    }

    #[test]
    fn replica_load_stays_even_when_seeds_cannot() {
        let peers = [1, 2, 3];
        let mut per_peer = BTreeMap::new();
        for replicas in place_shards(&peers, &empty_load(&peers), 3, 2) {
            for p in replicas {
                *per_peer.entry(p).or_insert(0) += 1;
            }
        }
        assert_eq!(per_peer.into_values().collect::<Vec<_>>(), vec![2, 2, 2]);
    }

    #[test]
    fn existing_load_is_taken_into_account() {
        let peers = [1, 2, 3];
        let load = BTreeMap::from([(1, 5), (2, 0), (3, 0)]);
        let placed = place_shards(&peers, &load, 2, 1);
        assert!(placed.iter().all(|r| r[0] != 1), "{placed:?}");
    }

    #[test]
    fn replication_is_capped_by_the_number_of_peers() {
        let peers = [7];
        assert_eq!(
            place_shards(&peers, &empty_load(&peers), 2, 3),
            vec![vec![7], vec![7]]
        );
    }
}
