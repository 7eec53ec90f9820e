//! A collection: its configuration and its shards. Writes are split by shard (points by the
//! routing hash of their id, filters to every shard); reads fan out and merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::error::{GrapeError, Result};
use crate::payload::JsonPath;
use crate::routing::shard_for;
use crate::shard::{FieldSchema, Projection, Shard, ShardQuery, SpaceConfigs};
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
    shards: Vec<Shard>,
}

impl Collection {
    /// Opens (or creates) the collection's shards under `dir`.
    pub fn open(name: &str, dir: &Path, meta: CollectionMeta) -> Result<Collection> {
        let spaces = space_configs(&meta.config);
        let fields = indexed_fields(&meta);
        let shards = (0..meta.config.params.shard_number)
            .map(|id| Shard::open(&dir.join("shards").join(id.to_string()), &spaces, &fields))
            .collect::<Result<Vec<_>>>()?;
        Ok(Collection {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            meta: RwLock::new(meta),
            shards,
        })
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

    pub(crate) fn set_meta(&self, meta: CollectionMeta) -> Result<()> {
        let schema_changed = self.meta.read().payload_schema != meta.payload_schema;
        let fields = indexed_fields(&meta);
        *self.meta.write() = meta;
        if schema_changed {
            for shard in &self.shards {
                shard.set_field_indexes(&fields)?;
            }
        }
        Ok(())
    }

    pub fn shards(&self) -> &[Shard] {
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
        for (shard, ops) in per_shard.iter().enumerate() {
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

    pub fn retrieve(&self, ids: &[PointId], projection: &Projection) -> Vec<Record> {
        let mut found: BTreeMap<PointId, Record> = BTreeMap::new();
        for shard in &self.shards {
            for record in shard.retrieve(ids, projection) {
                found.insert(record.id, record);
            }
        }
        // Keep the order of the request, skipping missing ids and duplicates.
        let mut seen = std::collections::HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| found.remove(id))
            .collect()
    }

    /// Top-k search over every shard, merged by score.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        self.validate_filter(request.filter.as_ref())?;
        let distance = self.distance_of(request.vector.name())?;
        let offset = request.offset.unwrap_or(0);
        let query = ShardQuery {
            vector_name: request.vector.name(),
            vector: request.vector.vector(),
            filter: request.filter.as_ref(),
            params: request.params.as_ref(),
            top: offset + request.limit,
            score_threshold: request.score_threshold,
        };
        let projection = Projection {
            with_payload: request.with_payload.clone().unwrap_or_default(),
            with_vector: request.with_vector.clone().unwrap_or_default(),
        };
        let mut hits = Vec::new();
        for shard in &self.shards {
            hits.extend(shard.search(&query, &projection)?);
        }
        if distance.higher_is_better() {
            hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        } else {
            hits.sort_by(|a, b| a.score.total_cmp(&b.score));
        }
        Ok(hits.into_iter().skip(offset).take(request.limit).collect())
    }

    /// One page of points in id order, and where the next page starts.
    pub fn scroll(&self, request: &ScrollRequest) -> Result<ScrollResult> {
        self.validate_filter(request.filter.as_ref())?;
        let limit = request.limit.unwrap_or(DEFAULT_SCROLL_LIMIT);
        let projection = Projection {
            with_payload: request
                .with_payload
                .clone()
                .unwrap_or(WithPayload::Bool(true)),
            with_vector: request.with_vector.clone().unwrap_or_default(),
        };
        let mut points = Vec::new();
        let mut next_candidates = Vec::new();
        for shard in &self.shards {
            let (page, next) =
                shard.scroll(request.offset, limit, request.filter.as_ref(), &projection);
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
    pub fn count(&self, request: &CountRequest) -> Result<usize> {
        self.validate_filter(request.filter.as_ref())?;
        Ok(self
            .shards
            .iter()
            .map(|s| s.count(request.filter.as_ref()))
            .sum())
    }

    pub fn info(&self) -> CollectionInfo {
        let meta = self.meta.read();
        let payload_schema = meta
            .payload_schema
            .iter()
            .map(|(field, index)| (field.clone(), self.index_info(field, index)))
            .collect();
        CollectionInfo {
            status: CollectionStatus::Green,
            optimizer_status: "ok".to_string(),
            points_count: self.shards.iter().map(Shard::points_count).sum(),
            indexed_vectors_count: self.shards.iter().map(Shard::indexed_vectors_count).sum(),
            segments_count: self.shards.len(),
            config: meta.config.clone(),
            payload_schema,
        }
    }

    fn index_info(&self, field: &str, index: &FieldIndex) -> PayloadIndexInfo {
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
        let points = JsonPath::parse(field).map_or(0, |path| {
            self.shards.iter().map(|s| s.indexed_points(&path)).sum()
        });
        PayloadIndexInfo {
            data_type,
            params,
            points,
        }
    }

    /// Writes a checkpoint of every shard (used before a snapshot and at shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.shards
            .iter()
            .try_for_each(|s| s.checkpoint().map(|_| ()))
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

/// The payload field indexes the collection declares.
fn indexed_fields(meta: &CollectionMeta) -> Vec<(JsonPath, FieldSchema)> {
    meta.payload_schema
        .iter()
        .filter_map(|(field, index)| {
            let path = JsonPath::parse(field).ok()?;
            Some((path, FieldSchema::parse(&index.schema).ok()?))
        })
        .collect()
}

/// The vector spaces a collection's shards hold, with their effective HNSW settings.
pub fn space_configs(config: &CollectionConfig) -> SpaceConfigs {
    config
        .params
        .vectors
        .named()
        .into_iter()
        .map(|(name, params)| {
            let hnsw = config.hnsw_for(&params);
            (name, (params, hnsw))
        })
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
