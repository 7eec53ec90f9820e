//! A shard as a collection uses it, wherever its data lives: a [`Shard`] on this node (one-node
//! mode), or a replica set spread over peers (the cluster's implementation). Requests are
//! owned and serializable so a replica set can send them to a peer.

use serde::{Deserialize, Serialize};

use super::{FieldSchema, Key, MultiQuery, OrderQuery, Projection, Shard, ShardQuery, SparseQuery};
use crate::error::Result;
use crate::filter::Filter;
use crate::index::SparseStats;
use crate::payload::JsonPath;
use crate::types::{PointId, PointOperation, Record, ScoredPoint, SearchParams, SparseVector};

pub use crate::types::ReadConsistency;

/// The vector a search looks for neighbours of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryVector {
    Dense(Vec<f32>),
    /// Scored by dot product; IDF weights, if any, are already applied to its values.
    Sparse(SparseVector),
    /// Scored by MaxSim.
    Multi(Vec<Vec<f32>>),
}

/// A search in one shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardSearch {
    pub vector_name: String,
    pub vector: QueryVector,
    pub filter: Option<Filter>,
    pub params: Option<SearchParams>,
    /// Number of best results wanted (the request's offset plus limit).
    pub top: usize,
    pub score_threshold: Option<f32>,
    pub projection: Projection,
}

impl ShardSearch {
    pub fn dense_query<'a>(&'a self, vector: &'a [f32]) -> ShardQuery<'a> {
        ShardQuery {
            vector_name: &self.vector_name,
            vector,
            filter: self.filter.as_ref(),
            params: self.params.as_ref(),
            top: self.top,
            score_threshold: self.score_threshold,
        }
    }

    pub fn multi_query<'a>(&'a self, vector: &'a [Vec<f32>]) -> MultiQuery<'a> {
        MultiQuery {
            vector_name: &self.vector_name,
            vector,
            filter: self.filter.as_ref(),
            top: self.top,
            score_threshold: self.score_threshold,
        }
    }

    pub fn sparse_query<'a>(&'a self, vector: &'a SparseVector) -> SparseQuery<'a> {
        SparseQuery {
            vector_name: &self.vector_name,
            vector,
            filter: self.filter.as_ref(),
            top: self.top,
            score_threshold: self.score_threshold,
        }
    }
}

/// One page of a scroll in one shard: up to `limit` points with id ≥ `from`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardScroll {
    pub from: Option<PointId>,
    pub limit: usize,
    pub filter: Option<Filter>,
    pub projection: Projection,
}

/// Up to `limit` points matching the filter, in the order of their value at an indexed
/// numeric key (`order_by`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardOrder {
    pub key: JsonPath,
    pub descending: bool,
    /// The first value taken (inclusive), in the index's units.
    pub start: Option<f64>,
    pub limit: usize,
    pub filter: Option<Filter>,
    pub projection: Projection,
}

impl ShardOrder {
    pub fn as_query(&self) -> OrderQuery<'_> {
        OrderQuery {
            path: &self.key,
            descending: self.descending,
            start: self.start,
            limit: self.limit,
            filter: self.filter.as_ref(),
        }
    }
}

/// What a collection asks of each of its shards.
pub trait ShardAccess: Send + Sync {
    /// Checks operations without applying them, so a multi-shard write can be refused whole.
    fn check(&self, ops: &[PointOperation]) -> Result<()>;
    /// Applies operations durably; returns the sequence number they were applied at.
    fn update(&self, ops: Vec<PointOperation>) -> Result<u64>;
    fn search(&self, search: &ShardSearch, read: ReadConsistency) -> Result<Vec<ScoredPoint>>;
    /// Vector and document-frequency counts of a sparse space, for IDF.
    fn sparse_stats(&self, name: &str, dims: &[u32], read: ReadConsistency) -> Result<SparseStats>;
    fn retrieve(
        &self,
        ids: &[PointId],
        projection: &Projection,
        read: ReadConsistency,
    ) -> Result<Vec<Record>>;
    /// A page in id order, and the id where the next page starts.
    fn scroll(
        &self,
        page: &ShardScroll,
        read: ReadConsistency,
    ) -> Result<(Vec<Record>, Option<PointId>)>;
    fn count(&self, filter: Option<&Filter>, read: ReadConsistency) -> Result<usize>;
    /// Points by their value at an indexed numeric key, with that value.
    fn order_by(&self, order: &ShardOrder, read: ReadConsistency) -> Result<Vec<(f64, Record)>>;
    /// How many matching points hold each value of an indexed key.
    fn facet_counts(
        &self,
        key: &JsonPath,
        filter: Option<&Filter>,
        exact: bool,
        read: ReadConsistency,
    ) -> Result<Vec<(Key, u64)>>;
    fn points_count(&self) -> Result<usize>;
    fn indexed_vectors_count(&self) -> Result<usize>;
    /// How many points have a value at an indexed payload path.
    fn indexed_points(&self, path: &JsonPath) -> Result<usize>;
    /// Declares the payload field indexes.
    fn set_field_indexes(&self, fields: &[(JsonPath, FieldSchema)]) -> Result<()>;
    /// Waits until the shard applies the collection's declared payload indexes.
    fn wait_indexes_applied(&self) -> Result<()>;
    /// Checkpoints the replicas this node holds.
    fn checkpoint(&self) -> Result<()>;
    /// The replica this node holds, if any.
    fn local(&self) -> Option<&Shard>;
}

/// A shard on this node serves every request itself; consistency is trivially met.
impl ShardAccess for Shard {
    fn check(&self, ops: &[PointOperation]) -> Result<()> {
        Shard::check(self, ops)
    }

    fn update(&self, ops: Vec<PointOperation>) -> Result<u64> {
        Shard::update(self, &ops)
    }

    fn search(&self, search: &ShardSearch, _read: ReadConsistency) -> Result<Vec<ScoredPoint>> {
        Shard::run_search(self, search)
    }

    fn sparse_stats(
        &self,
        name: &str,
        dims: &[u32],
        _read: ReadConsistency,
    ) -> Result<SparseStats> {
        Shard::sparse_stats(self, name, dims)
    }

    fn retrieve(
        &self,
        ids: &[PointId],
        projection: &Projection,
        _read: ReadConsistency,
    ) -> Result<Vec<Record>> {
        Ok(Shard::retrieve(self, ids, projection))
    }

    fn scroll(
        &self,
        page: &ShardScroll,
        _read: ReadConsistency,
    ) -> Result<(Vec<Record>, Option<PointId>)> {
        Ok(Shard::scroll(
            self,
            page.from,
            page.limit,
            page.filter.as_ref(),
            &page.projection,
        ))
    }

    fn count(&self, filter: Option<&Filter>, _read: ReadConsistency) -> Result<usize> {
        Ok(Shard::count(self, filter))
    }

    fn order_by(&self, order: &ShardOrder, _read: ReadConsistency) -> Result<Vec<(f64, Record)>> {
        Ok(Shard::order_by(self, &order.as_query(), &order.projection))
    }

    fn facet_counts(
        &self,
        key: &JsonPath,
        filter: Option<&Filter>,
        exact: bool,
        _read: ReadConsistency,
    ) -> Result<Vec<(Key, u64)>> {
        Ok(Shard::facet_counts(self, key, filter, exact))
    }

    fn points_count(&self) -> Result<usize> {
        Ok(Shard::points_count(self))
    }

    fn indexed_vectors_count(&self) -> Result<usize> {
        Ok(Shard::indexed_vectors_count(self))
    }

    fn indexed_points(&self, path: &JsonPath) -> Result<usize> {
        Ok(Shard::indexed_points(self, path))
    }

    fn set_field_indexes(&self, fields: &[(JsonPath, FieldSchema)]) -> Result<()> {
        Shard::set_field_indexes(self, fields)
    }

    /// A local shard builds its indexes as they are declared.
    fn wait_indexes_applied(&self) -> Result<()> {
        Ok(())
    }

    fn checkpoint(&self) -> Result<()> {
        Shard::checkpoint(self).map(|_| ())
    }

    fn local(&self) -> Option<&Shard> {
        Some(self)
    }
}
