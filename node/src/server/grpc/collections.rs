//! `qdrant.Collections`: create, inspect, update and delete collections; aliases; the
//! single-node cluster view.

use std::sync::Arc;

use ::qdrant_client::qdrant::collections_server::Collections;
use ::qdrant_client::qdrant::*;
use tonic::{Request, Response, Status};

use super::convert::collection::{
    alias_operations_from_grpc, collection_info_to_grpc, create_collection_from_grpc,
    update_collection_from_grpc,
};
use super::error::unimplemented;
use super::{handle, impl_timed};
use crate::cluster::info::{collection_cluster_info, CollectionClusterInfo};
use crate::cluster::meta::ReplicaState as MetaReplicaState;
use crate::cluster::operations::{
    AbortTransferRequest, ClusterOperation, DropReplicaRequest, ShardTransferRequest,
};
use crate::cluster::Cluster;
use crate::engine::Engine;

impl_timed!(
    GetCollectionInfoResponse,
    ListCollectionsResponse,
    CollectionOperationResponse,
    ListAliasesResponse,
    CollectionClusterInfoResponse,
    CollectionExistsResponse,
    ListShardKeysResponse,
);

pub struct CollectionsService {
    engine: Arc<Engine>,
    cluster: Option<Arc<Cluster>>,
}

impl CollectionsService {
    pub fn new(engine: Arc<Engine>, cluster: Option<Arc<Cluster>>) -> Self {
        CollectionsService { engine, cluster }
    }
}

fn done(result: bool) -> CollectionOperationResponse {
    CollectionOperationResponse { result, time: 0.0 }
}

fn aliases(aliases: Vec<crate::engine::AliasDescription>) -> ListAliasesResponse {
    ListAliasesResponse {
        aliases: aliases
            .into_iter()
            .map(|a| AliasDescription {
                alias_name: a.alias_name,
                collection_name: a.collection_name,
            })
            .collect(),
        time: 0.0,
    }
}

#[tonic::async_trait]
impl Collections for CollectionsService {
    async fn get(
        &self,
        request: Request<GetCollectionInfoRequest>,
    ) -> Result<Response<GetCollectionInfoResponse>, Status> {
        handle("Collections/Get", &self.engine, request, |engine, req| {
            let info = engine.collection(&req.collection_name)?.info()?;
            Ok(GetCollectionInfoResponse {
                result: Some(collection_info_to_grpc(info)),
                time: 0.0,
            })
        })
        .await
    }

    async fn list(
        &self,
        request: Request<ListCollectionsRequest>,
    ) -> Result<Response<ListCollectionsResponse>, Status> {
        handle("Collections/List", &self.engine, request, |engine, _| {
            let collections = engine
                .list_collections()
                .into_iter()
                .map(|name| CollectionDescription { name })
                .collect();
            Ok(ListCollectionsResponse {
                collections,
                time: 0.0,
            })
        })
        .await
    }

    async fn create(
        &self,
        request: Request<CreateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        handle(
            "Collections/Create",
            &self.engine,
            request,
            |engine, req| {
                let name = req.collection_name.clone();
                engine.create_collection(&name, create_collection_from_grpc(req)?)?;
                tracing::info!(collection = %name, "collection created");
                Ok(done(true))
            },
        )
        .await
    }

    async fn update(
        &self,
        request: Request<UpdateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        handle(
            "Collections/Update",
            &self.engine,
            request,
            |engine, req| {
                let name = req.collection_name.clone();
                engine.update_collection(&name, update_collection_from_grpc(req)?)?;
                Ok(done(true))
            },
        )
        .await
    }

    /// Deleting a missing collection answers `false`, as Qdrant does.
    async fn delete(
        &self,
        request: Request<DeleteCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        handle(
            "Collections/Delete",
            &self.engine,
            request,
            |engine, req| {
                let deleted = engine.delete_collection(&req.collection_name)?;
                if deleted {
                    tracing::info!(collection = %req.collection_name, "collection deleted");
                }
                Ok(done(deleted))
            },
        )
        .await
    }

    async fn update_aliases(
        &self,
        request: Request<ChangeAliases>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        handle(
            "Collections/UpdateAliases",
            &self.engine,
            request,
            |engine, req| {
                engine.update_aliases(&alias_operations_from_grpc(req.actions)?)?;
                Ok(done(true))
            },
        )
        .await
    }

    async fn list_collection_aliases(
        &self,
        request: Request<ListCollectionAliasesRequest>,
    ) -> Result<Response<ListAliasesResponse>, Status> {
        handle(
            "Collections/ListCollectionAliases",
            &self.engine,
            request,
            |engine, req| {
                let collection = engine.collection(&req.collection_name)?;
                let names = engine.aliases_of(collection.name())?;
                Ok(aliases(
                    names
                        .into_iter()
                        .map(|alias_name| crate::engine::AliasDescription {
                            alias_name,
                            collection_name: collection.name().to_string(),
                        })
                        .collect(),
                ))
            },
        )
        .await
    }

    async fn list_aliases(
        &self,
        request: Request<ListAliasesRequest>,
    ) -> Result<Response<ListAliasesResponse>, Status> {
        handle(
            "Collections/ListAliases",
            &self.engine,
            request,
            |engine, _| Ok(aliases(engine.list_aliases()?)),
        )
        .await
    }

    /// Where the collection's shard replicas are.
    async fn collection_cluster_info(
        &self,
        request: Request<CollectionClusterInfoRequest>,
    ) -> Result<Response<CollectionClusterInfoResponse>, Status> {
        let cluster = self.cluster.clone();
        handle(
            "Collections/CollectionClusterInfo",
            &self.engine,
            request,
            move |engine, req| {
                let info =
                    collection_cluster_info(engine, cluster.as_deref(), &req.collection_name)?;
                Ok(cluster_info_to_grpc(info))
            },
        )
        .await
    }

    async fn collection_exists(
        &self,
        request: Request<CollectionExistsRequest>,
    ) -> Result<Response<CollectionExistsResponse>, Status> {
        handle(
            "Collections/CollectionExists",
            &self.engine,
            request,
            |engine, req| {
                Ok(CollectionExistsResponse {
                    result: Some(CollectionExists {
                        exists: engine.collection_exists(&req.collection_name),
                    }),
                    time: 0.0,
                })
            },
        )
        .await
    }

    async fn update_collection_cluster_setup(
        &self,
        request: Request<UpdateCollectionClusterSetupRequest>,
    ) -> Result<Response<UpdateCollectionClusterSetupResponse>, Status> {
        let started = std::time::Instant::now();
        let Some(cluster) = &self.cluster else {
            return Err(Status::failed_precondition(
                "Cluster is not enabled: this node runs without --uri",
            ));
        };
        let request = request.into_inner();
        let operation = cluster_operation_from_grpc(request.operation)?;
        self.engine.collection(&request.collection_name)?;
        let result = cluster
            .update_collection_cluster(&request.collection_name, &operation)
            .await?;
        Ok(Response::new(UpdateCollectionClusterSetupResponse {
            result,
            time: started.elapsed().as_secs_f64(),
        }))
    }

    async fn create_shard_key(
        &self,
        _request: Request<CreateShardKeyRequest>,
    ) -> Result<Response<CreateShardKeyResponse>, Status> {
        Err(unimplemented("CreateShardKey (custom sharding)"))
    }

    async fn delete_shard_key(
        &self,
        _request: Request<DeleteShardKeyRequest>,
    ) -> Result<Response<DeleteShardKeyResponse>, Status> {
        Err(unimplemented("DeleteShardKey (custom sharding)"))
    }

    /// Collections are sharded automatically, so they have no shard keys.
    async fn list_shard_keys(
        &self,
        request: Request<ListShardKeysRequest>,
    ) -> Result<Response<ListShardKeysResponse>, Status> {
        handle(
            "Collections/ListShardKeys",
            &self.engine,
            request,
            |engine, req| {
                engine.collection(&req.collection_name)?;
                Ok(ListShardKeysResponse::default())
            },
        )
        .await
    }
}

fn replica_state_to_grpc(state: MetaReplicaState) -> i32 {
    (match state {
        MetaReplicaState::Active => ReplicaState::Active,
        MetaReplicaState::Dead => ReplicaState::Dead,
        MetaReplicaState::Partial => ReplicaState::Partial,
        MetaReplicaState::Initializing => ReplicaState::Initializing,
    }) as i32
}

fn cluster_operation_from_grpc(
    operation: Option<update_collection_cluster_setup_request::Operation>,
) -> Result<ClusterOperation, Status> {
    use update_collection_cluster_setup_request::Operation;
    let transfer = |shard_id, from_peer_id, to_peer_id, to_shard_id| ShardTransferRequest {
        shard_id,
        from_peer_id,
        to_peer_id,
        method: None,
        to_shard_id,
    };
    match operation {
        Some(Operation::MoveShard(m)) => Ok(ClusterOperation::MoveShard(transfer(
            m.shard_id,
            m.from_peer_id,
            m.to_peer_id,
            m.to_shard_id,
        ))),
        Some(Operation::ReplicateShard(m)) => Ok(ClusterOperation::ReplicateShard(transfer(
            m.shard_id,
            m.from_peer_id,
            m.to_peer_id,
            m.to_shard_id,
        ))),
        Some(Operation::AbortTransfer(m)) => {
            Ok(ClusterOperation::AbortTransfer(AbortTransferRequest {
                shard_id: m.shard_id,
                from_peer_id: m.from_peer_id,
                to_peer_id: m.to_peer_id,
                to_shard_id: m.to_shard_id,
            }))
        }
        Some(Operation::DropReplica(r)) => Ok(ClusterOperation::DropReplica(DropReplicaRequest {
            shard_id: r.shard_id,
            peer_id: r.peer_id,
        })),
        Some(_) => Err(unimplemented(
            "shard keys, restarting transfers and replicating points",
        )),
        None => Err(Status::invalid_argument("an operation is required")),
    }
}

fn cluster_info_to_grpc(info: CollectionClusterInfo) -> CollectionClusterInfoResponse {
    CollectionClusterInfoResponse {
        peer_id: info.peer_id,
        shard_count: info.shard_count as u64,
        local_shards: info
            .local_shards
            .into_iter()
            .map(|s| LocalShardInfo {
                shard_id: s.shard_id,
                points_count: s.points_count as u64,
                state: replica_state_to_grpc(s.state),
                shard_key: None,
            })
            .collect(),
        remote_shards: info
            .remote_shards
            .into_iter()
            .map(|s| RemoteShardInfo {
                shard_id: s.shard_id,
                peer_id: s.peer_id,
                state: replica_state_to_grpc(s.state),
                shard_key: None,
            })
            .collect(),
        shard_transfers: info
            .shard_transfers
            .into_iter()
            .map(|t| ShardTransferInfo {
                shard_id: t.shard_id,
                to_shard_id: None,
                from: t.from,
                to: t.to,
                sync: t.sync,
            })
            .collect(),
        ..Default::default()
    }
}
