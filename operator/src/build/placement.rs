//! The cluster's own ShardPlacement: Balanced, approved automatically, owned by the
//! VectorCluster. The operator (re)applies it when the number of data nodes changed, so the
//! ShardPlacement controller spreads the shards over the new set of nodes.

use std::collections::BTreeMap;

use super::{owned_meta, Names};
use crate::crd::{Approval, PlacementMode, ShardPlacement, ShardPlacementSpec, VectorCluster};

/// Annotation of the cluster's ShardPlacement: the number of data nodes it was last
/// applied for. A change wakes the ShardPlacement controller.
pub const DATA_NODES_ANNOTATION: &str = "grape.io/data-nodes";

/// The Balanced ShardPlacement named after the cluster, for `data_nodes` data nodes.
pub fn shard_placement(vc: &VectorCluster, data_nodes: i32) -> ShardPlacement {
    let names = Names::of(vc);
    let mut metadata = owned_meta(vc, names.cluster.clone());
    metadata.annotations = Some(BTreeMap::from([(
        DATA_NODES_ANNOTATION.into(),
        data_nodes.to_string(),
    )]));
    ShardPlacement {
        metadata,
        spec: ShardPlacementSpec {
            cluster_ref: names.cluster,
            collection: None,
            mode: PlacementMode::Balanced,
            shards: None,
            max_concurrent_moves: None,
            approval: Some(Approval::Automatic),
        },
        status: None,
    }
}

/// The number of data nodes a ShardPlacement was applied for, from its annotation.
pub fn placed_for(placement: &ShardPlacement) -> Option<i32> {
    placement
        .metadata
        .annotations
        .as_ref()?
        .get(DATA_NODES_ANNOTATION)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::three_nodes;

    #[test]
    fn a_balanced_automatic_placement_owned_by_the_cluster() {
        let placement = shard_placement(&three_nodes(), 5);
        assert_eq!(placement.metadata.name.as_deref(), Some("vec"));
        assert_eq!(placement.metadata.namespace.as_deref(), Some("db"));
        let owner = &placement.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("VectorCluster", "u-1")
        );
        assert_eq!(placement.spec.cluster_ref, "vec");
        assert_eq!(placement.spec.mode, PlacementMode::Balanced);
        assert_eq!(placement.spec.approval, Some(Approval::Automatic));
        assert_eq!(placed_for(&placement), Some(5));
    }
}
