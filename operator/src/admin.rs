//! Calls to the nodes' admin service (`grape.cluster.v1.ClusterService` on the internal
//! port 6335). Behind a trait so the controller's use of it reads as intent ("drain this
//! peer"), with one real implementation over tonic.
//!
//! A node older than the operator answers `Unimplemented` to a call it lacks, which the
//! controller reports instead of acting as if the call had worked.

use std::time::Duration;

use futures::future::BoxFuture;
use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::transfer_leadership_request::Target;
use grape_proto::cluster::{
    CancelDrainRequest, ClusterInfo, GetClusterInfoRequest, JoinClusterRequest, LeaveClusterReply,
    LeaveClusterRequest, PlanRebalanceRequest, RebalancePlan, RebalanceRequest,
    TransferLeadershipRequest, TransferShardRequest,
};
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid node address {uri}: {source}")]
    Address {
        uri: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot reach the admin service at {uri}: {source}")]
    Connect {
        uri: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("{call} on {uri}: {status}")]
    Call {
        call: &'static str,
        uri: String,
        status: tonic::Status,
    },
}

impl AdminError {
    /// The node does not implement the call yet.
    pub fn is_unimplemented(&self) -> bool {
        matches!(self, AdminError::Call { status, .. } if status.code() == tonic::Code::Unimplemented)
    }
}

/// What the operator asks of a node's admin service; `uri` is its internal address
/// (`http://<pod-ip>:6335`). Any member answers for the whole cluster.
pub trait NodeAdmin: Send + Sync {
    /// Peers, metadata leader, collections and transfers as the node sees them.
    fn cluster_info<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<ClusterInfo, AdminError>>;
    /// Starts (or follows) the drain of `peer_id`: its replicas move away, then it leaves.
    fn leave_cluster<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<LeaveClusterReply, AdminError>>;
    /// Stops the drain of `peer_id` (a scale back out keeps its pod); answers whether it
    /// was still a member.
    fn cancel_drain<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<bool, AdminError>>;
    /// Makes the data node `peer_id`, reached at `peer_uri`, a member again (a peer that
    /// left while its pod stays); a member already is one, and this changes nothing.
    fn rejoin<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
        peer_uri: &'a str,
    ) -> BoxFuture<'a, Result<(), AdminError>>;
    /// Moves every shard leadership off `peer_id`; answers with the leaderships left.
    fn transfer_leadership_away<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<u32, AdminError>>;
    /// The moves that would balance `collection` (empty: every collection); changes nothing.
    fn plan_rebalance<'a>(
        &'a self,
        uri: &'a str,
        scope: &'a RebalanceScope,
    ) -> BoxFuture<'a, Result<RebalancePlan, AdminError>>;
    /// Starts up to `max_concurrent_moves` of the plan's moves; answers with the whole plan.
    fn rebalance<'a>(
        &'a self,
        uri: &'a str,
        scope: &'a RebalanceScope,
        max_concurrent_moves: u32,
    ) -> BoxFuture<'a, Result<RebalancePlan, AdminError>>;
    /// Starts moving (or copying) one shard replica; returns once the cluster accepted it
    /// (the transfer goes on without the caller; its progress shows in `cluster_info`).
    fn start_transfer<'a>(
        &'a self,
        uri: &'a str,
        request: TransferShardRequest,
    ) -> BoxFuture<'a, Result<(), AdminError>>;
}

/// The collections a rebalance covers: `collection` (empty: every one) except `excluded`
/// (those Manual placements pin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebalanceScope {
    pub collection: String,
    pub excluded: Vec<String>,
}

impl RebalanceScope {
    pub fn covers(&self, collection: &str) -> bool {
        (self.collection.is_empty() || self.collection == collection)
            && !self.excluded.iter().any(|c| c == collection)
    }
}

/// The admin service over gRPC, one short-lived connection per call.
#[derive(Debug, Clone)]
pub struct GrpcAdmin {
    timeout: Duration,
}

impl Default for GrpcAdmin {
    fn default() -> Self {
        GrpcAdmin {
            timeout: Duration::from_secs(5),
        }
    }
}

impl GrpcAdmin {
    async fn client(&self, uri: &str) -> Result<ClusterServiceClient<Channel>, AdminError> {
        let endpoint = Endpoint::from_shared(uri.to_string())
            .map_err(|source| AdminError::Address {
                uri: uri.to_string(),
                source,
            })?
            .connect_timeout(self.timeout)
            .timeout(self.timeout);
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| AdminError::Connect {
                uri: uri.to_string(),
                source,
            })?;
        Ok(ClusterServiceClient::new(channel))
    }
}

fn call_error(call: &'static str, uri: &str) -> impl FnOnce(tonic::Status) -> AdminError {
    let uri = uri.to_string();
    move |status| AdminError::Call { call, uri, status }
}

impl NodeAdmin for GrpcAdmin {
    fn cluster_info<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<ClusterInfo, AdminError>> {
        Box::pin(async move {
            let reply = self
                .client(uri)
                .await?
                .get_cluster_info(GetClusterInfoRequest {})
                .await
                .map_err(call_error("GetClusterInfo", uri))?;
            Ok(reply.into_inner())
        })
    }

    fn leave_cluster<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<LeaveClusterReply, AdminError>> {
        Box::pin(async move {
            let reply = self
                .client(uri)
                .await?
                .leave_cluster(LeaveClusterRequest { peer_id })
                .await
                .map_err(call_error("LeaveCluster", uri))?;
            Ok(reply.into_inner())
        })
    }

    fn cancel_drain<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<bool, AdminError>> {
        Box::pin(async move {
            let reply = self
                .client(uri)
                .await?
                .cancel_drain(CancelDrainRequest { peer_id })
                .await
                .map_err(call_error("CancelDrain", uri))?;
            Ok(reply.into_inner().member)
        })
    }

    fn rejoin<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
        peer_uri: &'a str,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(async move {
            let request = JoinClusterRequest {
                peer_id,
                uri: peer_uri.to_string(),
                query: false,
            };
            self.client(uri)
                .await?
                .join_cluster(request)
                .await
                .map_err(call_error("JoinCluster", uri))?;
            Ok(())
        })
    }

    fn transfer_leadership_away<'a>(
        &'a self,
        uri: &'a str,
        peer_id: u64,
    ) -> BoxFuture<'a, Result<u32, AdminError>> {
        Box::pin(async move {
            let request = TransferLeadershipRequest {
                target: Some(Target::AwayFromPeerId(peer_id)),
            };
            let reply = self
                .client(uri)
                .await?
                .transfer_leadership(request)
                .await
                .map_err(call_error("TransferLeadership", uri))?;
            Ok(reply.into_inner().remaining)
        })
    }

    fn plan_rebalance<'a>(
        &'a self,
        uri: &'a str,
        scope: &'a RebalanceScope,
    ) -> BoxFuture<'a, Result<RebalancePlan, AdminError>> {
        Box::pin(async move {
            let request = PlanRebalanceRequest {
                collection: scope.collection.clone(),
                peers: Vec::new(),
                excluded_collections: scope.excluded.clone(),
            };
            let reply = self
                .client(uri)
                .await?
                .plan_rebalance(request)
                .await
                .map_err(call_error("PlanRebalance", uri))?;
            Ok(reply.into_inner())
        })
    }

    fn rebalance<'a>(
        &'a self,
        uri: &'a str,
        scope: &'a RebalanceScope,
        max_concurrent_moves: u32,
    ) -> BoxFuture<'a, Result<RebalancePlan, AdminError>> {
        Box::pin(async move {
            let request = RebalanceRequest {
                collection: scope.collection.clone(),
                peers: Vec::new(),
                max_concurrent_moves,
                excluded_collections: scope.excluded.clone(),
            };
            let reply = self
                .client(uri)
                .await?
                .rebalance(request)
                .await
                .map_err(call_error("Rebalance", uri))?;
            Ok(reply.into_inner())
        })
    }

    fn start_transfer<'a>(
        &'a self,
        uri: &'a str,
        request: TransferShardRequest,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(async move {
            // The reply's headers mean the transfer was recorded; dropping the progress
            // stream does not stop it.
            self.client(uri)
                .await?
                .transfer_shard(request)
                .await
                .map_err(call_error("TransferShard", uri))?;
            Ok(())
        })
    }
}
