//! A collection: its configuration and its shards. Writes are split by shard (points by the
//! routing hash of their id, filters to every shard); reads fan out and merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::error::{GrapeError, Result};
use crate::payload::JsonPath;
use crate::routing::shard_for;
use crate::shard::{
    DenseConfig, FieldSchema, Projection, QueryVector, ReadConsistency, Shard, ShardAccess,
    ShardScroll, ShardSearch, SpaceConfigs,
};
use crate::types::*;

/// A payload field index as declared by the user (`PUT /collections/{name}/index`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldIndex {
    /// Qdrant's `field_schema`: a type name (`"keyword"`) or an object with `type` and options.
    pub schema: serde_json::Value,
}

/// What is persisted about a collection besides its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    pub config: CollectionConfig,
    #[serde(default)]
    pub payload_schema: BTreeMap<String, FieldIndex>,
}

pub struct Collection {
    name: String,
    dir: PathBuf,
    meta: RwLock<CollectionMeta>,
    /// Shard `i` holds the points whose id routes to `i`.
    shards: Vec<Arc<dyn ShardAccess>>,
}

impl Collection {
    /// Opens (or creates) the collection's shards under `dir`, all on this node.
    pub fn open(name: &str, dir: &Path, meta: CollectionMeta) -> Result<Collection> {
        let spaces = space_configs(&meta.config);
        let fields = indexed_fields(&meta.payload_schema);
        let shards = (0..meta.config.params.shard_number)
            .map(|id| {
                let shard = Shard::open(&shard_dir(dir, id), &spaces, &fields)?;
                Ok(Arc::new(shard) as Arc<dyn ShardAccess>)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Collection::with_shards(name, dir, meta, shards))
    }

    /// A collection over shards opened elsewhere, with their payload indexes (by the
    /// cluster, as replica sets).
    pub fn with_shards(
        name: &str,
        dir: &Path,
        meta: CollectionMeta,
        shards: Vec<Arc<dyn ShardAccess>>,
    ) -> Collection {
        Collection {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            meta: RwLock::new(meta),
            shards,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> CollectionMeta {
        self.meta.read().clone()
    }

    pub fn config(&self) -> CollectionConfig {
        self.meta.read().config.clone()
    }

    /// Waits until every shard applies the declared payload indexes (in a cluster they
    /// travel through each shard's Raft log after the metadata changed).
    pub fn wait_indexes_applied(&self) -> Result<()> {
        self.shards
            .iter()
            .try_for_each(|shard| shard.wait_indexes_applied())
    }

    pub(crate) fn set_meta(&self, meta: CollectionMeta) -> Result<()> {
        let schema_changed = self.meta.read().payload_schema != meta.payload_schema;
        let quantization = quantization_of(&meta.config);
        let quantization_changed = quantization_of(&self.meta.read().config) != quantization;
        let fields = indexed_fields(&meta.payload_schema);
        *self.meta.write() = meta;
        if schema_changed {
            for shard in &self.shards {
                shard.set_field_indexes(&fields)?;
            }
        }
        if quantization_changed {
            // Codes are derived data: each node rebuilds those of the replicas it holds.
            for shard in self.shards.iter().filter_map(|s| s.local()) {
                shard.set_quantization(&quantization);
            }
        }
        Ok(())
    }

    pub fn shards(&self) -> &[Arc<dyn ShardAccess>] {
        &self.shards
    }

    /// Applies a list of operations in order. Every shard involved checks its part first, so
    /// an invalid request changes nothing. Returns the highest shard sequence number.
    pub fn update(&self, ops: Vec<PointOperation>, wait: bool) -> Result<UpdateResult> {
        let per_shard = self.split(ops)?;
        for (shard, ops) in per_shard.iter().enumerate() {
            if !ops.is_empty() {
                self.shards[shard].check(ops)?;
            }
        }
        let mut operation_id = 0;
        for (shard, ops) in per_shard.into_iter().enumerate() {
            if !ops.is_empty() {
                operation_id = operation_id.max(self.shards[shard].update(ops)?);
            }
        }
        let status = if wait {
            UpdateStatus::Completed
        } else {
            UpdateStatus::Acknowledged
        };
        Ok(UpdateResult {
            operation_id,
            status,
        })
    }

    /// Distributes operations to shards, keeping their order within each shard.
    fn split(&self, ops: Vec<PointOperation>) -> Result<Vec<Vec<PointOperation>>> {
        let n = self.shards.len() as u32;
        let mut per_shard: Vec<Vec<PointOperation>> = vec![Vec::new(); n as usize];
        for op in ops {
            if n == 1 {
                per_shard[0].push(op);
                continue;
            }
            for (shard, part) in split_operation(op, n)? {
                per_shard[shard as usize].push(part);
            }
        }
        Ok(per_shard)
    }

    /// The points with these ids, in the order asked, skipping missing ids and duplicates.
    pub fn retrieve(
        &self,
        ids: &[PointId],
        projection: &Projection,
        read: ReadConsistency,
    ) -> Result<Vec<Record>> {
        let n = self.shards.len() as u32;
        let mut found: BTreeMap<PointId, Record> = BTreeMap::new();
        for (shard, ids) in group(ids.to_vec(), |id| shard_for(id, n)) {
            for record in self.shards[shard as usize].retrieve(&ids, projection, read)? {
                found.insert(record.id, record);
            }
        }
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| found.remove(id))
            .collect())
    }

    /// Top-k search over every shard, merged by score.
    pub fn search(
        &self,
        request: &SearchRequest,
        read: ReadConsistency,
    ) -> Result<Vec<ScoredPoint>> {
        self.validate_filter(request.filter.as_ref())?;
        let name = request.vector.name();
        let (vector, higher_is_better) = match &request.vector {
            NamedVector::Sparse { vector, .. } => (
                QueryVector::Sparse(self.sparse_query(name, vector, read)?),
                true,
            ),
            NamedVector::Multi { vector, .. } => {
                self.distance_of(name)?;
                (QueryVector::Multi(vector.clone()), true)
            }
            dense => {
                let distance = self.distance_of(name)?;
                let vector = dense.dense().unwrap_or_default().to_vec();
                (QueryVector::Dense(vector), distance.higher_is_better())
            }
        };
        let offset = request.offset.unwrap_or(0);
        let search = ShardSearch {
            vector_name: name.to_string(),
            vector,
            filter: request.filter.clone(),
            params: request.params.clone(),
            top: offset + request.limit,
            score_threshold: request.score_threshold,
            projection: Projection {
                with_payload: request.with_payload.clone().unwrap_or_default(),
                with_vector: request.with_vector.clone().unwrap_or_default(),
            },
        };
        let mut hits = Vec::new();
        for shard in &self.shards {
            hits.extend(shard.search(&search, read)?);
        }
        if higher_is_better {
            hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        } else {
            hits.sort_by(|a, b| a.score.total_cmp(&b.score));
        }
        Ok(hits.into_iter().skip(offset).take(request.limit).collect())
    }

    /// One page of points in id order, and where the next page starts.
    pub fn scroll(&self, request: &ScrollRequest, read: ReadConsistency) -> Result<ScrollResult> {
        self.validate_filter(request.filter.as_ref())?;
        let limit = request.limit.unwrap_or(DEFAULT_SCROLL_LIMIT);
        let page = ShardScroll {
            from: request.offset,
            limit,
            filter: request.filter.clone(),
            projection: Projection {
                with_payload: request
                    .with_payload
                    .clone()
                    .unwrap_or(WithPayload::Bool(true)),
                with_vector: request.with_vector.clone().unwrap_or_default(),
            },
        };
        let mut points = Vec::new();
        let mut next_candidates = Vec::new();
        for shard in &self.shards {
            let (page, next) = shard.scroll(&page, read)?;
            points.extend(page);
            next_candidates.extend(next);
        }
        points.sort_by_key(|r| r.id);
        let next_page_offset = if points.len() > limit {
            let next = points[limit].id;
            points.truncate(limit);
            Some(next)
        } else {
            next_candidates.into_iter().min()
        };
        Ok(ScrollResult {
            points,
            next_page_offset,
        })
    }

    /// Exact number of points matching the filter.
    pub fn count(&self, request: &CountRequest, read: ReadConsistency) -> Result<usize> {
        self.validate_filter(request.filter.as_ref())?;
        self.shards
            .iter()
            .map(|s| s.count(request.filter.as_ref(), read))
            .sum()
    }

    /// Number of points over every shard.
    pub fn points_count(&self) -> Result<usize> {
        self.shards.iter().map(|s| s.points_count()).sum()
    }

    pub fn info(&self) -> Result<CollectionInfo> {
        let meta = self.meta.read().clone();
        let payload_schema = meta
            .payload_schema
            .iter()
            .map(|(field, index)| Ok((field.clone(), self.index_info(field, index)?)))
            .collect::<Result<_>>()?;
        Ok(CollectionInfo {
            status: CollectionStatus::Green,
            optimizer_status: "ok".to_string(),
            points_count: self.points_count()?,
            indexed_vectors_count: self
                .shards
                .iter()
                .map(|s| s.indexed_vectors_count())
                .sum::<Result<usize>>()?,
            segments_count: self.shards.len(),
            config: meta.config,
            payload_schema,
        })
    }

    fn index_info(&self, field: &str, index: &FieldIndex) -> Result<PayloadIndexInfo> {
        let (data_type, params) = match &index.schema {
            serde_json::Value::String(t) => (t.clone(), None),
            other => (
                other
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("keyword")
                    .to_string(),
                Some(other.clone()),
            ),
        };
        let points = match JsonPath::parse(field) {
            Ok(path) => self
                .shards
                .iter()
                .map(|s| s.indexed_points(&path))
                .sum::<Result<usize>>()?,
            Err(_) => 0,
        };
        Ok(PayloadIndexInfo {
            data_type,
            params,
            points,
        })
    }

    /// Writes a checkpoint of every shard (used before a snapshot and at shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.shards.iter().try_for_each(|s| s.checkpoint())
    }

    /// The sparse query as shards score it: validated, and for an `idf` space each value
    /// weighted by its dimension's IDF over the whole collection (all shards).
    fn sparse_query(
        &self,
        name: &str,
        vector: &SparseVector,
        read: ReadConsistency,
    ) -> Result<SparseVector> {
        let params = self.sparse_params(name)?;
        vector
            .validate()
            .map_err(|e| GrapeError::bad_input(format!("Validation error: query vector: {e}")))?;
        if !params.uses_idf() {
            return Ok(vector.clone());
        }
        let mut total = 0;
        let mut doc_freq = vec![0; vector.indices.len()];
        for shard in &self.shards {
            let stats = shard.sparse_stats(name, &vector.indices, read)?;
            total += stats.vectors;
            doc_freq
                .iter_mut()
                .zip(&stats.doc_freq)
                .for_each(|(n, s)| *n += s);
        }
        let values = vector
            .values
            .iter()
            .zip(&doc_freq)
            .map(|(v, &n)| v * idf(n, total))
            .collect();
        Ok(SparseVector {
            indices: vector.indices.clone(),
            values,
        })
    }

    fn sparse_params(&self, name: &str) -> Result<SparseVectorParams> {
        let meta = self.meta.read();
        let params = &meta.config.params;
        if let Some(sparse) = params.sparse_vectors.as_ref().and_then(|s| s.get(name)) {
            return Ok(sparse.clone());
        }
        if params.vectors.named().contains_key(name) {
            return Err(GrapeError::bad_input(format!(
                "Wrong vector type: `{name}` is a dense vector, a sparse one was given"
            )));
        }
        Err(GrapeError::bad_input(format!(
            "Not existing vector name error: {name}"
        )))
    }

    fn distance_of(&self, vector_name: &str) -> Result<Distance> {
        let named = self.meta.read().config.params.vectors.named();
        named.get(vector_name).map(|p| p.distance).ok_or_else(|| {
            let shown = if vector_name.is_empty() {
                "(default vector)"
            } else {
                vector_name
            };
            GrapeError::bad_input(format!("Not existing vector name error: {shown}"))
        })
    }

    pub fn validate_filter(&self, filter: Option<&crate::filter::Filter>) -> Result<()> {
        match filter {
            Some(f) => f
                .validate()
                .map_err(|e| GrapeError::bad_input(format!("invalid filter: {e}"))),
            None => Ok(()),
        }
    }
}

/// Where shard `id` of the collection in `dir` keeps its files.
pub fn shard_dir(dir: &Path, id: u32) -> PathBuf {
    dir.join("shards").join(id.to_string())
}

/// The valid payload field indexes of a `payload_schema`.
pub fn indexed_fields(schema: &BTreeMap<String, FieldIndex>) -> Vec<(JsonPath, FieldSchema)> {
    schema
        .iter()
        .filter_map(|(field, index)| {
            let path = JsonPath::parse(field).ok()?;
            Some((path, FieldSchema::parse(&index.schema).ok()?))
        })
        .collect()
}

/// The vector spaces a collection's shards hold, with their effective HNSW and
/// quantization settings.
pub fn space_configs(config: &CollectionConfig) -> SpaceConfigs {
    let (multi, dense): (BTreeMap<_, _>, BTreeMap<_, _>) = config
        .params
        .vectors
        .named()
        .into_iter()
        .partition(|(_, params)| params.multivector_config.is_some());
    let dense = dense
        .into_iter()
        .map(|(name, params)| {
            let dense = DenseConfig {
                hnsw: config.hnsw_for(&params),
                quantization: config.quantization_for(&params),
                params,
            };
            (name, dense)
        })
        .collect();
    SpaceConfigs {
        dense,
        sparse: config.params.sparse_vectors.clone().unwrap_or_default(),
        multi,
    }
}

/// The effective quantization of each dense vector space.
fn quantization_of(config: &CollectionConfig) -> BTreeMap<String, Option<QuantizationConfig>> {
    space_configs(config)
        .dense
        .into_iter()
        .map(|(name, dense)| (name, dense.quantization))
        .collect()
}

/// Splits one operation into the parts each shard must apply.
fn split_operation(op: PointOperation, shards: u32) -> Result<Vec<(u32, PointOperation)>> {
    let by_shard = |id: &PointId| shard_for(id, shards);
    Ok(match op {
        PointOperation::Upsert(upsert) => {
            let points = match upsert {
                UpsertPoints::Points { points } => points,
                UpsertPoints::Batch { batch } => {
                    batch.into_points().map_err(GrapeError::BadInput)?
                }
            };
            group(points, |p| by_shard(&p.id))
                .map(|(s, points)| (s, PointOperation::Upsert(UpsertPoints::Points { points })))
                .collect()
        }
        PointOperation::UpdateVectors(update) => group(update.points, |p| by_shard(&p.id))
            .map(|(s, points)| (s, PointOperation::UpdateVectors(UpdateVectors { points })))
            .collect(),
        PointOperation::Delete(selector) => split_selector(selector, shards)
            .map(|(s, sel)| (s, PointOperation::Delete(sel)))
            .collect(),
        PointOperation::ClearPayload(selector) => split_selector(selector, shards)
            .map(|(s, sel)| (s, PointOperation::ClearPayload(sel)))
            .collect(),
        PointOperation::SetPayload(set) => split_selector(set.selector.clone(), shards)
            .map(|(s, selector)| {
                (
                    s,
                    PointOperation::SetPayload(SetPayload {
                        selector,
                        ..set.clone()
                    }),
                )
            })
            .collect(),
        PointOperation::OverwritePayload(set) => split_selector(set.selector.clone(), shards)
            .map(|(s, selector)| {
                (
                    s,
                    PointOperation::OverwritePayload(SetPayload {
                        selector,
                        ..set.clone()
                    }),
                )
            })
            .collect(),
        PointOperation::DeletePayload(del) => split_selector(del.selector.clone(), shards)
            .map(|(s, selector)| {
                (
                    s,
                    PointOperation::DeletePayload(DeletePayload {
                        selector,
                        ..del.clone()
                    }),
                )
            })
            .collect(),
        PointOperation::DeleteVectors(del) => split_selector(del.selector.clone(), shards)
            .map(|(s, selector)| {
                (
                    s,
                    PointOperation::DeleteVectors(DeleteVectors {
                        selector,
                        ..del.clone()
                    }),
                )
            })
            .collect(),
    })
}

/// An id list is split by shard; a filter goes to every shard.
fn split_selector(
    selector: PointsSelector,
    shards: u32,
) -> impl Iterator<Item = (u32, PointsSelector)> {
    let parts: Vec<(u32, PointsSelector)> = match selector {
        PointsSelector::Ids { points } => group(points, |id| shard_for(id, shards))
            .map(|(s, points)| (s, PointsSelector::Ids { points }))
            .collect(),
        PointsSelector::Filter { filter } => (0..shards)
            .map(|s| {
                (
                    s,
                    PointsSelector::Filter {
                        filter: filter.clone(),
                    },
                )
            })
            .collect(),
    };
    parts.into_iter()
}

/// Groups items by shard, keeping their order within each group.
fn group<T>(items: Vec<T>, shard: impl Fn(&T) -> u32) -> impl Iterator<Item = (u32, Vec<T>)> {
    let mut groups: BTreeMap<u32, Vec<T>> = BTreeMap::new();
    for item in items {
        groups.entry(shard(&item)).or_default().push(item);
    }
    groups.into_iter()
}
