//! The cluster as its admin service (`grape.cluster.v1.ClusterService`) sees it: which
//! node leads which shard. Nodes are matched to peer ids by their internal URI, so the view
//! stays usable while some nodes are down.

use std::time::{Duration, Instant};

use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::{ClusterInfo, GetClusterInfoRequest};

use crate::error::{KitError, Result};
use crate::node::NodeProcess;

/// `GetClusterInfo` from the first of `nodes` that answers.
pub async fn cluster_info(nodes: &[NodeProcess]) -> Result<ClusterInfo> {
    let mut last = String::from("no node");
    for node in nodes {
        let uri = node.p2p_uri();
        let answer = async {
            let mut client = ClusterServiceClient::connect(uri.clone())
                .await
                .map_err(|e| e.to_string())?;
            let request = tonic::Request::new(GetClusterInfoRequest {});
            client
                .get_cluster_info(request)
                .await
                .map(|r| r.into_inner())
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(5), answer).await {
            Ok(Ok(info)) => return Ok(info),
            Ok(Err(e)) => last = format!("{uri}: {e}"),
            Err(_) => last = format!("{uri}: timed out"),
        }
    }
    Err(KitError::Admin(last))
}

/// The index in `nodes` of the node with `peer_id`, by its URI in `info`.
pub fn node_of_peer(nodes: &[NodeProcess], info: &ClusterInfo, peer_id: u64) -> Option<usize> {
    let uri = &info.peers.iter().find(|p| p.peer_id == peer_id)?.uri;
    nodes
        .iter()
        .position(|n| n.p2p_uri().trim_end_matches('/') == uri.trim_end_matches('/'))
}

/// The node leading each shard of `collection`, waiting until every shard has a leader.
pub async fn shard_leaders(
    nodes: &[NodeProcess],
    collection: &str,
    timeout: Duration,
) -> Result<Vec<usize>> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = cluster_info(nodes).await.and_then(|info| {
            let shards = &info
                .collections
                .iter()
                .find(|c| c.name == collection)
                .ok_or_else(|| KitError::Admin(format!("no collection {collection}")))?
                .shards;
            shards
                .iter()
                .map(|s| {
                    node_of_peer(nodes, &info, s.leader_peer_id).ok_or_else(|| {
                        KitError::Admin(format!("shard {} has no known leader", s.shard_id))
                    })
                })
                .collect::<Result<Vec<_>>>()
        });
        match found {
            Ok(leaders) => return Ok(leaders),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
