//! Manual placement: the replica transfers that put each shard on the data nodes a
//! ShardPlacement names. Like the cluster's own planner, it works on the replicas as they
//! will be once the transfers in flight end, so repeating a pass starts nothing twice.

use std::collections::{BTreeMap, BTreeSet};

use grape_proto::cluster::ClusterInfo;

use crate::admin::RebalanceScope;
use crate::build::Names;
use crate::crd::{PlannedMove, ShardNodes};

/// The pods a shard's replicas are on (or will be, once its transfer ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardReplicas {
    pub collection: String,
    pub shard: u32,
    pub pods: BTreeSet<String>,
}

/// One replica to move (`copy` false) or to add by copying (`copy` true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub collection: String,
    pub shard: u32,
    pub from: String,
    pub to: String,
    pub copy: bool,
}

impl Transfer {
    pub fn planned_move(&self) -> PlannedMove {
        PlannedMove {
            collection: self.collection.clone(),
            shard: self.shard,
            from: self.from.clone(),
            to: self.to.clone(),
            state: None,
            points_done: None,
            points_total: None,
        }
    }
}

/// The pod of each peer of the cluster (peers outside it are named `peer-<id>`).
pub fn pods_of_peers(info: &ClusterInfo, names: &Names) -> BTreeMap<u64, String> {
    info.peers
        .iter()
        .map(|p| {
            let pod = names.pod_of_peer_uri(&p.uri);
            (
                p.peer_id,
                pod.unwrap_or_else(|| format!("peer-{}", p.peer_id)),
            )
        })
        .collect()
}

/// Every shard's replicas once the transfers in flight end: a move's source is gone.
pub fn settled_shards(info: &ClusterInfo, pods: &BTreeMap<u64, String>) -> Vec<ShardReplicas> {
    let pod = |id: &u64| {
        pods.get(id)
            .cloned()
            .unwrap_or_else(|| format!("peer-{id}"))
    };
    info.collections
        .iter()
        .flat_map(|c| c.shards.iter().map(move |s| (c, s)))
        .map(|(c, s)| {
            let mut peers: BTreeSet<u64> = s.replicas.iter().map(|r| r.peer_id).collect();
            let moving = info
                .transfers
                .iter()
                .filter(|t| t.collection == c.name && t.shard_id == s.shard_id && !t.copy);
            for t in moving {
                peers.remove(&t.from_peer_id);
                peers.insert(t.to_peer_id);
            }
            ShardReplicas {
                collection: c.name.clone(),
                shard: s.shard_id,
                pods: peers.iter().map(pod).collect(),
            }
        })
        .collect()
}

/// The transfers that give every shard of `wanted` (in `collection`, or in every
/// collection) exactly the named nodes; an error says why the spec cannot be carried out.
pub fn manual_transfers(
    wanted: &[ShardNodes],
    collection: Option<&str>,
    shards: &[ShardReplicas],
    members: &BTreeSet<String>,
) -> Result<Vec<Transfer>, String> {
    let mut transfers = Vec::new();
    for want in wanted {
        let target = target_pods(want, members)?;
        let matching: Vec<&ShardReplicas> = shards
            .iter()
            .filter(|s| s.shard == want.shard && collection.is_none_or(|c| c == s.collection))
            .collect();
        if matching.is_empty() {
            return Err(format!("shard {} does not exist", want.shard));
        }
        for shard in matching {
            transfers.extend(transfers_of(shard, &target)?);
        }
    }
    Ok(transfers)
}

fn target_pods(want: &ShardNodes, members: &BTreeSet<String>) -> Result<BTreeSet<String>, String> {
    let target: BTreeSet<String> = want.nodes.iter().cloned().collect();
    if target.is_empty() || target.len() != want.nodes.len() {
        return Err(format!(
            "shard {}: nodes must be distinct and not empty",
            want.shard
        ));
    }
    if let Some(unknown) = target.iter().find(|p| !members.contains(*p)) {
        return Err(format!(
            "shard {}: {unknown} is not a data node of the cluster",
            want.shard
        ));
    }
    Ok(target)
}

/// Moves off the nodes not named onto the named ones, then copies for the extra replicas.
fn transfers_of(shard: &ShardReplicas, target: &BTreeSet<String>) -> Result<Vec<Transfer>, String> {
    let leaving: Vec<&String> = shard.pods.difference(target).collect();
    let arriving: Vec<&String> = target.difference(&shard.pods).collect();
    if leaving.len() > arriving.len() {
        return Err(format!(
            "shard {} of {}: lowering its replicas from {} to {} is not supported",
            shard.shard,
            shard.collection,
            shard.pods.len(),
            target.len()
        ));
    }
    let Some(source) = shard.pods.first() else {
        return Err(format!(
            "shard {} of {} has no replica",
            shard.shard, shard.collection
        ));
    };
    Ok(arriving
        .iter()
        .enumerate()
        .map(|(i, to)| Transfer {
            collection: shard.collection.clone(),
            shard: shard.shard,
            from: leaving.get(i).copied().unwrap_or(source).clone(),
            to: (*to).clone(),
            copy: i >= leaving.len(),
        })
        .collect())
}

/// The transfers to start now: one per shard, none on a shard already transferring, and
/// no more than `limit` in flight in all.
pub fn transfers_to_start(
    transfers: &[Transfer],
    busy: &BTreeSet<(String, u32)>,
    limit: usize,
) -> Vec<Transfer> {
    let mut started = BTreeSet::new();
    transfers
        .iter()
        .filter(|t| {
            let shard = (t.collection.clone(), t.shard);
            !busy.contains(&shard) && started.insert(shard)
        })
        .take(limit.saturating_sub(busy.len()))
        .cloned()
        .collect()
}

/// What a Balanced placement of `collection` (`None`: every collection) may rebalance,
/// given the collections the cluster's Manual placements pin (`None`: every collection):
/// never a pinned one, so the two kinds do not undo each other's moves. `Err` says why
/// nothing is left.
pub fn balanced_scope(
    collection: Option<&str>,
    pinned: &[(String, Option<String>)],
) -> Result<RebalanceScope, String> {
    let mut excluded = Vec::new();
    for (placement, pinned) in pinned {
        match pinned.as_deref() {
            None => {
                return Err(format!(
                    "Manual ShardPlacement {placement} pins every collection"
                ))
            }
            Some(c) if collection == Some(c) => {
                return Err(format!(
                    "Manual ShardPlacement {placement} pins collection {c}"
                ))
            }
            Some(c) if collection.is_none() => excluded.push(c.to_string()),
            Some(_) => {}
        }
    }
    excluded.sort();
    excluded.dedup();
    Ok(RebalanceScope {
        collection: collection.unwrap_or_default().to_string(),
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use grape_proto::cluster::{Collection, Peer, Replica, Shard, Transfer as ProtoTransfer};

    use super::*;
    use crate::build::fixtures::three_nodes;

    fn set(pods: &[&str]) -> BTreeSet<String> {
        pods.iter().map(|p| p.to_string()).collect()
    }

    fn shard(id: u32, pods: &[&str]) -> ShardReplicas {
        ShardReplicas {
            collection: "docs".into(),
            shard: id,
            pods: set(pods),
        }
    }

    fn want(id: u32, pods: &[&str]) -> ShardNodes {
        ShardNodes {
            shard: id,
            nodes: pods.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn members() -> BTreeSet<String> {
        set(&["vec-0", "vec-1", "vec-2", "vec-3"])
    }

    #[test]
    fn replicas_move_from_unnamed_to_named_nodes() {
        let shards = [shard(0, &["vec-0", "vec-1"]), shard(1, &["vec-1", "vec-2"])];
        let wanted = [want(0, &["vec-1", "vec-3"]), want(1, &["vec-2", "vec-1"])];
        let transfers = manual_transfers(&wanted, Some("docs"), &shards, &members()).unwrap();
        assert_eq!(
            transfers,
            [Transfer {
                collection: "docs".into(),
                shard: 0,
                from: "vec-0".into(),
                to: "vec-3".into(),
                copy: false,
            }]
        );
    }

    #[test]
    fn an_extra_replica_is_copied_and_fewer_replicas_are_refused() {
        let shards = [shard(0, &["vec-0"])];
        let more = manual_transfers(&[want(0, &["vec-0", "vec-2"])], None, &shards, &members());
        let more = more.unwrap();
        assert_eq!(more.len(), 1);
        assert!(more[0].copy && more[0].from == "vec-0" && more[0].to == "vec-2");
        let shards = [shard(0, &["vec-0", "vec-1"])];
        let fewer = manual_transfers(&[want(0, &["vec-0"])], None, &shards, &members());
        assert!(fewer.unwrap_err().contains("from 2 to 1 is not supported"));
    }

    #[test]
    fn unknown_nodes_and_shards_are_errors() {
        let shards = [shard(0, &["vec-0"])];
        let unknown = manual_transfers(&[want(0, &["vec-9"])], None, &shards, &members());
        assert!(unknown.unwrap_err().contains("vec-9 is not a data node"));
        let missing = manual_transfers(&[want(4, &["vec-0"])], None, &shards, &members());
        assert!(missing.unwrap_err().contains("shard 4 does not exist"));
        let twice = manual_transfers(&[want(0, &["vec-0", "vec-0"])], None, &shards, &members());
        assert!(twice.unwrap_err().contains("distinct"));
    }

    #[test]
    fn one_transfer_per_shard_within_the_limit() {
        let shards = [
            shard(0, &["vec-0"]),
            shard(1, &["vec-0"]),
            shard(2, &["vec-0"]),
        ];
        let wanted = [
            want(0, &["vec-1", "vec-2"]),
            want(1, &["vec-1"]),
            want(2, &["vec-1"]),
        ];
        let all = manual_transfers(&wanted, None, &shards, &members()).unwrap();
        assert_eq!(all.len(), 4);
        let busy = BTreeSet::from([("docs".to_string(), 1)]);
        let now = transfers_to_start(&all, &busy, 3);
        let shards: Vec<u32> = now.iter().map(|t| t.shard).collect();
        assert_eq!(shards, [0, 2]);
        assert!(transfers_to_start(&all, &busy, 1).is_empty());
    }

    #[test]
    fn settled_replicas_count_moves_in_flight_as_done() {
        let names = Names::of(&three_nodes());
        let peer = |id: u64, pod: &str| Peer {
            peer_id: id,
            uri: names.peer_uri(pod),
            ..Default::default()
        };
        let replica = |id: u64| Replica {
            peer_id: id,
            state: 1,
        };
        let info = ClusterInfo {
            peers: vec![peer(10, "vec-0"), peer(11, "vec-1"), peer(12, "vec-2")],
            collections: vec![Collection {
                name: "docs".into(),
                replication_factor: 1,
                shards: vec![Shard {
                    shard_id: 0,
                    replicas: vec![replica(10), replica(12)],
                    ..Default::default()
                }],
            }],
            transfers: vec![ProtoTransfer {
                collection: "docs".into(),
                shard_id: 0,
                from_peer_id: 10,
                to_peer_id: 12,
                copy: false,
                progress: None,
            }],
            ..Default::default()
        };
        let pods = pods_of_peers(&info, &names);
        assert_eq!(pods[&11], "vec-1");
        assert_eq!(settled_shards(&info, &pods), [shard(0, &["vec-2"])]);
    }

    #[test]
    fn a_balanced_placement_leaves_pinned_collections_alone() {
        let pin = |name: &str, c: Option<&str>| (name.to_string(), c.map(String::from));
        let pinned = [
            pin("a", Some("docs")),
            pin("b", Some("logs")),
            pin("c", Some("docs")),
        ];
        assert_eq!(
            balanced_scope(None, &pinned),
            Ok(RebalanceScope {
                collection: String::new(),
                excluded: vec!["docs".into(), "logs".into()],
            })
        );
        assert_eq!(
            balanced_scope(Some("users"), &pinned).map(|s| s.excluded),
            Ok(vec![])
        );
        let refused = balanced_scope(Some("docs"), &pinned).unwrap_err();
        assert!(refused.contains("pins collection docs"), "{refused}");
        let all = balanced_scope(None, &[pin("everything", None)]).unwrap_err();
        assert!(all.contains("pins every collection"), "{all}");
    }
}
