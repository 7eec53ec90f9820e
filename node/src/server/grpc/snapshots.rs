//! `qdrant.Snapshots`: per-collection snapshots. (Recovery is REST-only in Qdrant.)

use std::sync::Arc;

use ::qdrant_client::qdrant::snapshots_server::Snapshots;
use ::qdrant_client::qdrant::*;
use tonic::{Request, Response, Status};

use super::convert::snapshot::snapshot_to_grpc;
use super::error::unimplemented;
use super::{handle, impl_timed};
use crate::engine::Engine;

impl_timed!(
    CreateSnapshotResponse,
    ListSnapshotsResponse,
    DeleteSnapshotResponse
);

pub struct SnapshotsService {
    engine: Arc<Engine>,
}

impl SnapshotsService {
    pub fn new(engine: Arc<Engine>) -> Self {
        SnapshotsService { engine }
    }
}

#[tonic::async_trait]
impl Snapshots for SnapshotsService {
    async fn create(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        handle("Snapshots/Create", &self.engine, request, |engine, req| {
            let snapshot = engine.create_snapshot(&req.collection_name)?;
            tracing::info!(collection = %req.collection_name, snapshot = %snapshot.name, "snapshot created");
            Ok(CreateSnapshotResponse {
                snapshot_description: Some(snapshot_to_grpc(snapshot)),
                time: 0.0,
            })
        })
        .await
    }

    async fn list(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        handle("Snapshots/List", &self.engine, request, |engine, req| {
            let snapshots = engine.list_snapshots(&req.collection_name)?;
            Ok(ListSnapshotsResponse {
                snapshot_descriptions: snapshots.into_iter().map(snapshot_to_grpc).collect(),
                time: 0.0,
            })
        })
        .await
    }

    async fn delete(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        handle("Snapshots/Delete", &self.engine, request, |engine, req| {
            engine.delete_snapshot(&req.collection_name, &req.snapshot_name)?;
            Ok(DeleteSnapshotResponse { time: 0.0 })
        })
        .await
    }

    async fn create_full(
        &self,
        _request: Request<CreateFullSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        Err(unimplemented("CreateFull (full storage snapshots)"))
    }

    async fn list_full(
        &self,
        _request: Request<ListFullSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        Err(unimplemented("ListFull (full storage snapshots)"))
    }

    async fn delete_full(
        &self,
        _request: Request<DeleteFullSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        Err(unimplemented("DeleteFull (full storage snapshots)"))
    }
}
