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

fn three_peers() -> ClusterState {
    let mut state = ClusterState::default();
    for peer in [1, 2, 3] {
        let uri = format!("http://127.0.0.{peer}:6335");
        state
            .apply(&MetaCommand::AddPeer { peer_id: peer, uri })
            .unwrap();
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
