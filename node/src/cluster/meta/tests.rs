use super::*;
use crate::engine::{config_from_request, AliasOperation};
use crate::types::CreateCollection;

fn meta(shards: u32, replicas: u32) -> CollectionMeta {
    let request: CreateCollection = serde_json::from_value(serde_json::json!({
        "vectors": {"size": 4, "distance": "Cosine"},
        "shard_number": shards,
        "replication_factor": replicas,
    }))
    .unwrap();
    CollectionMeta {
        config: config_from_request(request).unwrap(),
        payload_schema: Default::default(),
    }
}

fn add_peer(state: &mut ClusterState, peer: PeerId, role: PeerRole) {
    let uri = format!("http://127.0.0.{peer}:6335");
    let add = MetaCommand::AddPeer {
        peer_id: peer,
        uri,
        role,
    };
    state.apply(&add).unwrap();
}

fn three_peers() -> ClusterState {
    let mut state = ClusterState::default();
    for peer in [1, 2, 3] {
        add_peer(&mut state, peer, PeerRole::Data);
    }
    state
}

fn create(state: &mut ClusterState, name: &str, shards: u32, replicas: u32) -> Result<bool> {
    let change = MetaChange::CreateCollection {
        name: name.to_string(),
        meta: meta(shards, replicas),
    };
    state.apply(&MetaCommand::Change(Box::new(change)))
}

#[test]
fn a_collection_gets_fresh_groups_and_placed_replicas() {
    let mut state = three_peers();
    assert!(create(&mut state, "a", 3, 2).unwrap());
    let shards = &state.collections["a"].shards;
    let groups: Vec<GroupId> = shards.iter().map(|s| s.group_id).collect();
    assert_eq!(groups, vec![1, 2, 3]);
    assert!(shards.iter().all(|s| s.replicas.len() == 2));
    assert!(shards.iter().all(|s| s.seed.is_some_and(|p| s.holds(p))));
    // Deleting and recreating never reuses group ids.
    let delete = MetaChange::DeleteCollection {
        name: "a".to_string(),
    };
    assert!(state
        .apply(&MetaCommand::Change(Box::new(delete.clone())))
        .unwrap());
    assert!(!state.apply(&MetaCommand::Change(Box::new(delete))).unwrap());
    create(&mut state, "a", 1, 1).unwrap();
    assert_eq!(state.collections["a"].shards[0].group_id, 4);
}

#[test]
fn query_peers_are_given_no_replicas() {
    let mut state = three_peers();
    add_peer(&mut state, 4, PeerRole::Query);
    create(&mut state, "a", 4, 3).unwrap();
    assert!(state.shards().all(|s| !s.holds(4)));
    assert!(!state.replicas_per_peer().contains_key(&4));
    assert_eq!(state.data_peers().collect::<Vec<_>>(), vec![1, 2, 3]);
    let group = state.collections["a"].shards[0].group_id;
    let from = *state.collections["a"].shards[0]
        .replicas
        .keys()
        .next()
        .unwrap();
    let to_query_peer = MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(from, 4, true),
    };
    match state.apply(&to_query_peer) {
        Err(GrapeError::BadInput(message)) => assert!(message.contains("query node"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn names_taken_by_collections_or_aliases_are_refused() {
    let mut state = three_peers();
    create(&mut state, "a", 1, 1).unwrap();
    assert!(matches!(
        create(&mut state, "a", 1, 1),
        Err(GrapeError::CollectionExists(_))
    ));
    let alias = MetaChange::UpdateAliases {
        operations: vec![AliasOperation::CreateAlias {
            collection_name: "a".to_string(),
            alias_name: "b".to_string(),
        }],
    };
    state.apply(&MetaCommand::Change(Box::new(alias))).unwrap();
    assert!(create(&mut state, "b", 1, 1).is_err());
    let delete = MetaChange::DeleteCollection {
        name: "a".to_string(),
    };
    state.apply(&MetaCommand::Change(Box::new(delete))).unwrap();
    assert!(
        state.aliases.is_empty(),
        "aliases of a deleted collection go"
    );
}

#[test]
fn a_peer_holding_replicas_is_removed_only_by_force() {
    let mut state = three_peers();
    create(&mut state, "a", 2, 3).unwrap();
    let remove = |force| MetaCommand::RemovePeer { peer_id: 2, force };
    assert!(state.apply(&remove(false)).is_err());
    assert!(state.peers.contains_key(&2));
    assert!(state.apply(&remove(true)).unwrap());
    assert!(!state.peers.contains_key(&2));
    assert!(state.shards().all(|s| !s.holds(2) && s.seed.is_none()));
}

#[test]
fn replica_states_change_only_for_held_replicas() {
    let mut state = three_peers();
    create(&mut state, "a", 1, 2).unwrap();
    let shard = state.collections["a"].shards[0].clone();
    let held = *shard.replicas.keys().next().unwrap();
    let absent = [1, 2, 3].into_iter().find(|p| !shard.holds(*p)).unwrap();
    let set = |peer_id, state| MetaCommand::SetReplicaState {
        group_id: shard.group_id,
        peer_id,
        state,
    };
    assert!(state.apply(&set(held, ReplicaState::Dead)).unwrap());
    assert!(!state.apply(&set(held, ReplicaState::Dead)).unwrap());
    assert!(!state.apply(&set(absent, ReplicaState::Dead)).unwrap());
    assert_eq!(
        state.collections["a"].shards[0].replicas[&held],
        ReplicaState::Dead
    );
}

#[test]
fn field_indexes_and_updates_change_the_meta() {
    let mut state = three_peers();
    create(&mut state, "a", 1, 1).unwrap();
    let index = MetaChange::CreateFieldIndex {
        name: "a".to_string(),
        field: "city".to_string(),
        schema: serde_json::json!("keyword"),
    };
    state.apply(&MetaCommand::Change(Box::new(index))).unwrap();
    assert!(state.collections["a"]
        .meta
        .payload_schema
        .contains_key("city"));
    let missing = MetaChange::DeleteFieldIndex {
        name: "zzz".to_string(),
        field: "city".to_string(),
    };
    assert!(matches!(
        state.apply(&MetaCommand::Change(Box::new(missing))),
        Err(GrapeError::CollectionNotFound(_))
    ));
}

fn transfer(from: PeerId, to: PeerId, copy: bool) -> Transfer {
    Transfer { from, to, copy }
}

/// A one-shard collection with one replica on peer 1, in a three-peer cluster.
fn one_replica_on_peer_one() -> (ClusterState, GroupId) {
    let mut state = three_peers();
    create(&mut state, "a", 1, 1).unwrap();
    let group = state.collections["a"].shards[0].group_id;
    let placed = state.collections["a"].shards[0].replicas.clone();
    let on = *placed.keys().next().unwrap();
    if on != 1 {
        let start = MetaCommand::StartTransfer {
            group_id: group,
            transfer: transfer(on, 1, false),
        };
        state.apply(&start).unwrap();
        state
            .apply(&MetaCommand::FinishTransfer { group_id: group })
            .unwrap();
    }
    (state, group)
}

fn replicas(state: &ClusterState, group: GroupId) -> Vec<(PeerId, ReplicaState)> {
    let (_, _, shard) = state.shard_of_group(group).unwrap();
    shard.replicas.iter().map(|(p, s)| (*p, *s)).collect()
}

#[test]
fn a_move_places_a_partial_target_then_drops_the_source() {
    let (mut state, group) = one_replica_on_peer_one();
    let start = MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(1, 2, false),
    };
    assert!(state.apply(&start).unwrap());
    // Retrying the same start changes nothing; the target does not vote yet.
    assert!(!state.apply(&start).unwrap());
    assert_eq!(
        replicas(&state, group),
        vec![(1, ReplicaState::Active), (2, ReplicaState::Partial)]
    );
    assert_eq!(state.voting_replicas(group), 1);
    assert!(state
        .apply(&MetaCommand::FinishTransfer { group_id: group })
        .unwrap());
    assert_eq!(replicas(&state, group), vec![(2, ReplicaState::Active)]);
    assert!(state.transfers.is_empty());
    assert!(!state
        .apply(&MetaCommand::FinishTransfer { group_id: group })
        .unwrap());
}

#[test]
fn a_copy_keeps_the_source_and_an_abort_drops_the_target() {
    let (mut state, group) = one_replica_on_peer_one();
    let copy = |to| MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(1, to, true),
    };
    state.apply(&copy(2)).unwrap();
    state
        .apply(&MetaCommand::FinishTransfer { group_id: group })
        .unwrap();
    assert_eq!(
        replicas(&state, group),
        vec![(1, ReplicaState::Active), (2, ReplicaState::Active)]
    );
    state.apply(&copy(3)).unwrap();
    assert!(state
        .apply(&MetaCommand::AbortTransfer { group_id: group })
        .unwrap());
    assert_eq!(
        replicas(&state, group),
        vec![(1, ReplicaState::Active), (2, ReplicaState::Active)]
    );
}

#[test]
fn transfers_that_cannot_work_are_refused() {
    let (mut state, group) = one_replica_on_peer_one();
    let start = |from, to| MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(from, to, false),
    };
    let refused = |state: &mut ClusterState, command| match state.apply(&command) {
        Err(GrapeError::BadInput(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(refused(&mut state, start(2, 3)).contains("no replica on peer 2"));
    assert!(refused(&mut state, start(1, 1)).contains("already has a replica"));
    assert!(refused(&mut state, start(1, 9)).contains("Peer 9 does not exist"));
    state.apply(&start(1, 2)).unwrap();
    assert!(refused(&mut state, start(1, 3)).contains("already involved"));
    let drop = MetaCommand::DropReplica {
        group_id: group,
        peer_id: 1,
    };
    assert!(refused(&mut state, drop.clone()).contains("wait for it or abort it"));
    state
        .apply(&MetaCommand::AbortTransfer { group_id: group })
        .unwrap();
    assert!(refused(&mut state, drop).contains("last replica"));
}

#[test]
fn removing_a_peer_ends_its_transfers_and_its_drain() {
    let (mut state, group) = one_replica_on_peer_one();
    let start = MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(1, 2, true),
    };
    state.apply(&start).unwrap();
    let drain = MetaCommand::SetDraining {
        peer_id: 2,
        draining: true,
    };
    assert!(state.apply(&drain).unwrap());
    let remove = MetaCommand::RemovePeer {
        peer_id: 2,
        force: true,
    };
    state.apply(&remove).unwrap();
    assert!(state.transfers.is_empty() && state.draining.is_empty());
    assert_eq!(replicas(&state, group), vec![(1, ReplicaState::Active)]);
}

#[test]
fn a_dropped_replica_stays_placed_until_its_group_lets_it_go() {
    let (mut state, group) = one_replica_on_peer_one();
    let copy = MetaCommand::StartTransfer {
        group_id: group,
        transfer: transfer(1, 2, true),
    };
    state.apply(&copy).unwrap();
    state
        .apply(&MetaCommand::FinishTransfer { group_id: group })
        .unwrap();
    let drop = MetaCommand::DropReplica {
        group_id: group,
        peer_id: 1,
    };
    assert!(state.apply(&drop).unwrap());
    assert!(!state.apply(&drop).unwrap());
    assert_eq!(replicas(&state, group).len(), 2);
    assert!(state
        .apply(&MetaCommand::FinishDrop { group_id: group })
        .unwrap());
    assert_eq!(replicas(&state, group), vec![(2, ReplicaState::Active)]);
    assert!(state.drops.is_empty());
}
