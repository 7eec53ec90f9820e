//! Collections: create/update requests (via Qdrant's REST JSON), collection info, aliases.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::{alias_operations::Action, max_optimization_threads, vectors_config};
use serde_json::{json, Map, Value as Json};

use super::index::payload_schema_info_to_grpc;
use super::quantization::{quantization_diff_json, quantization_json, quantization_to_grpc};
use super::value::payload_from_grpc;
use super::{from_rest_json, put};
use crate::engine::AliasOperation;
use crate::server::grpc::error::ConvertError;
use crate::types::{
    CollectionConfig, CollectionInfo, CollectionParams, CollectionStatus, CreateCollection,
    Distance, HnswConfig, Modifier, OptimizersConfig, SparseVectorParams, UpdateCollection,
    VectorParams, VectorsConfig, WalConfig,
};

pub fn create_collection_from_grpc(
    request: grpc::CreateCollection,
) -> Result<CreateCollection, ConvertError> {
    if request.sharding_method == Some(grpc::ShardingMethod::Custom as i32) {
        return Err(ConvertError::unsupported("custom sharding"));
    }
    log_ignored("strict_mode_config", request.strict_mode_config.is_some());
    let mut body = Map::new();
    body.insert(
        "vectors".into(),
        vectors_config_json(request.vectors_config)?,
    );
    if let Some(config) = request.quantization_config {
        body.insert("quantization_config".into(), quantization_json(config)?);
    }
    if let Some(sparse) = request.sparse_vectors_config {
        body.insert("sparse_vectors".into(), sparse_config_json(sparse)?);
    }
    put(&mut body, "shard_number", request.shard_number);
    put(&mut body, "replication_factor", request.replication_factor);
    put(
        &mut body,
        "write_consistency_factor",
        request.write_consistency_factor,
    );
    #[allow(deprecated)]
    put(&mut body, "on_disk_payload", request.on_disk_payload);
    put(
        &mut body,
        "hnsw_config",
        request.hnsw_config.map(hnsw_diff_json),
    );
    put(
        &mut body,
        "optimizers_config",
        request.optimizers_config.map(optimizers_diff_json),
    );
    put(
        &mut body,
        "wal_config",
        request.wal_config.map(wal_diff_json),
    );
    if !request.metadata.is_empty() {
        body.insert(
            "metadata".into(),
            Json::Object(payload_from_grpc(request.metadata)),
        );
    }
    from_rest_json(Json::Object(body), "create collection request")
}

pub fn update_collection_from_grpc(
    request: grpc::UpdateCollection,
) -> Result<UpdateCollection, ConvertError> {
    refuse_sparse(request.sparse_vectors_config.as_ref())?;
    log_ignored("strict_mode_config", request.strict_mode_config.is_some());
    let mut body = Map::new();
    put(
        &mut body,
        "hnsw_config",
        request.hnsw_config.map(hnsw_diff_json),
    );
    if let Some(diff) = request.quantization_config {
        body.insert("quantization_config".into(), quantization_diff_json(diff)?);
    }
    put(
        &mut body,
        "optimizers_config",
        request.optimizers_config.map(optimizers_diff_json),
    );
    put(&mut body, "params", request.params.map(params_diff_json));
    if let Some(config) = request.vectors_config.and_then(|v| v.config) {
        body.insert("vectors".into(), vectors_diff_json(config)?);
    }
    if !request.metadata.is_empty() {
        body.insert(
            "metadata".into(),
            Json::Object(payload_from_grpc(request.metadata)),
        );
    }
    from_rest_json(Json::Object(body), "update collection request")
}

/// Changing sparse vectors of an existing collection is not supported.
fn refuse_sparse(config: Option<&grpc::SparseVectorConfig>) -> Result<(), ConvertError> {
    match config {
        Some(sparse) if !sparse.map.is_empty() => Err(ConvertError::unsupported(
            "updating sparse vector parameters",
        )),
        _ => Ok(()),
    }
}

fn sparse_config_json(config: grpc::SparseVectorConfig) -> Result<Json, ConvertError> {
    config
        .map
        .into_iter()
        .map(|(name, params)| Ok((name, sparse_params_json(params)?)))
        .collect::<Result<Map<_, _>, ConvertError>>()
        .map(Json::Object)
}

#[allow(deprecated)]
fn sparse_params_json(params: grpc::SparseVectorParams) -> Result<Json, ConvertError> {
    let mut obj = Map::new();
    if let Some(index) = params.index {
        let mut index_obj = Map::new();
        put(
            &mut index_obj,
            "full_scan_threshold",
            index.full_scan_threshold,
        );
        put(&mut index_obj, "on_disk", index.on_disk);
        let datatype = index.datatype.map(datatype_name).transpose()?;
        put(&mut index_obj, "datatype", datatype);
        obj.insert("index".into(), Json::Object(index_obj));
    }
    let modifier = match params.modifier.map(grpc::Modifier::try_from) {
        None => None,
        Some(Ok(grpc::Modifier::None)) => Some("none"),
        Some(Ok(grpc::Modifier::Idf)) => Some("idf"),
        Some(Err(_)) => return Err(ConvertError::invalid("unknown sparse vector modifier")),
    };
    put(&mut obj, "modifier", modifier);
    Ok(Json::Object(obj))
}

fn datatype_name(datatype: i32) -> Result<&'static str, ConvertError> {
    match grpc::Datatype::try_from(datatype) {
        Ok(grpc::Datatype::Default | grpc::Datatype::Float32) => Ok("float32"),
        Ok(grpc::Datatype::Float16) => Ok("float16"),
        Ok(grpc::Datatype::Uint8) => Ok("uint8"),
        _ => Err(ConvertError::invalid(format!(
            "unknown datatype {datatype}"
        ))),
    }
}

#[allow(deprecated)]
fn sparse_params_to_grpc(params: SparseVectorParams) -> grpc::SparseVectorParams {
    let datatype = |name: &str| match name {
        "float16" => grpc::Datatype::Float16,
        "uint8" => grpc::Datatype::Uint8,
        _ => grpc::Datatype::Float32,
    } as i32;
    grpc::SparseVectorParams {
        index: params.index.map(|index| grpc::SparseIndexConfig {
            full_scan_threshold: index.full_scan_threshold.map(|t| t as u64),
            on_disk: index.on_disk,
            datatype: index.datatype.as_deref().map(datatype),
            ..Default::default()
        }),
        modifier: params.modifier.map(|m| match m {
            Modifier::None => grpc::Modifier::None as i32,
            Modifier::Idf => grpc::Modifier::Idf as i32,
        }),
    }
}

fn log_ignored(field: &str, present: bool) {
    if present {
        tracing::debug!(field, "accepted and ignored");
    }
}

/// No `vectors_config` is a collection without dense vectors, as in Qdrant.
fn vectors_config_json(config: Option<grpc::VectorsConfig>) -> Result<Json, ConvertError> {
    match config.and_then(|c| c.config) {
        None => Ok(json!({})),
        Some(vectors_config::Config::Params(params)) => vector_params_json(params),
        Some(vectors_config::Config::ParamsMap(map)) => map
            .map
            .into_iter()
            .map(|(name, params)| Ok((name, vector_params_json(params)?)))
            .collect::<Result<Map<_, _>, ConvertError>>()
            .map(Json::Object),
    }
}

fn vector_params_json(params: grpc::VectorParams) -> Result<Json, ConvertError> {
    let mut obj = Map::new();
    if let Some(config) = params.quantization_config {
        obj.insert("quantization_config".into(), quantization_json(config)?);
    }
    if let Some(multi) = params.multivector_config {
        match grpc::MultiVectorComparator::try_from(multi.comparator) {
            Ok(grpc::MultiVectorComparator::MaxSim) => {
                obj.insert(
                    "multivector_config".into(),
                    json!({"comparator": "max_sim"}),
                );
            }
            Err(_) => {
                return Err(ConvertError::invalid(format!(
                    "unknown multivector comparator {}",
                    multi.comparator
                )))
            }
        }
    }
    obj.insert("size".into(), params.size.into());
    obj.insert(
        "distance".into(),
        distance_from_grpc(params.distance)?.into(),
    );
    put(
        &mut obj,
        "hnsw_config",
        params.hnsw_config.map(hnsw_diff_json),
    );
    #[allow(deprecated)]
    put(&mut obj, "on_disk", params.on_disk);
    Ok(Json::Object(obj))
}

fn distance_from_grpc(distance: i32) -> Result<&'static str, ConvertError> {
    match grpc::Distance::try_from(distance) {
        Ok(grpc::Distance::Cosine) => Ok("Cosine"),
        Ok(grpc::Distance::Euclid) => Ok("Euclid"),
        Ok(grpc::Distance::Dot) => Ok("Dot"),
        Ok(grpc::Distance::Manhattan) => Ok("Manhattan"),
        Ok(grpc::Distance::UnknownDistance) | Err(_) => Err(ConvertError::invalid(format!(
            "unknown distance {distance}: expected Cosine, Euclid, Dot or Manhattan"
        ))),
    }
}

fn hnsw_diff_json(diff: grpc::HnswConfigDiff) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "m", diff.m);
    put(&mut obj, "ef_construct", diff.ef_construct);
    put(&mut obj, "full_scan_threshold", diff.full_scan_threshold);
    put(&mut obj, "max_indexing_threads", diff.max_indexing_threads);
    #[allow(deprecated)]
    put(&mut obj, "on_disk", diff.on_disk);
    put(&mut obj, "payload_m", diff.payload_m);
    Json::Object(obj)
}

fn optimizers_diff_json(diff: grpc::OptimizersConfigDiff) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "deleted_threshold", diff.deleted_threshold);
    put(
        &mut obj,
        "vacuum_min_vector_number",
        diff.vacuum_min_vector_number,
    );
    put(
        &mut obj,
        "default_segment_number",
        diff.default_segment_number,
    );
    put(&mut obj, "max_segment_size", diff.max_segment_size);
    put(&mut obj, "memmap_threshold", diff.memmap_threshold);
    put(&mut obj, "indexing_threshold", diff.indexing_threshold);
    put(&mut obj, "flush_interval_sec", diff.flush_interval_sec);
    let threads = diff.max_optimization_threads.and_then(|t| t.variant);
    match threads {
        Some(max_optimization_threads::Variant::Value(n)) => {
            obj.insert("max_optimization_threads".into(), n.into());
        }
        Some(max_optimization_threads::Variant::Setting(_)) => {
            obj.insert("max_optimization_threads".into(), "auto".into());
        }
        None => put(
            &mut obj,
            "max_optimization_threads",
            diff.deprecated_max_optimization_threads,
        ),
    }
    put(&mut obj, "prevent_unoptimized", diff.prevent_unoptimized);
    Json::Object(obj)
}

fn wal_diff_json(diff: grpc::WalConfigDiff) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "wal_capacity_mb", diff.wal_capacity_mb);
    put(&mut obj, "wal_segments_ahead", diff.wal_segments_ahead);
    put(&mut obj, "wal_retain_closed", diff.wal_retain_closed);
    Json::Object(obj)
}

fn params_diff_json(diff: grpc::CollectionParamsDiff) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "replication_factor", diff.replication_factor);
    put(
        &mut obj,
        "write_consistency_factor",
        diff.write_consistency_factor,
    );
    #[allow(deprecated)]
    put(&mut obj, "on_disk_payload", diff.on_disk_payload);
    put(&mut obj, "read_fan_out_factor", diff.read_fan_out_factor);
    Json::Object(obj)
}

/// Per-vector updates keyed by name; the unnamed vector is keyed by `""` as in Qdrant's REST.
fn vectors_diff_json(config: grpc::vectors_config_diff::Config) -> Result<Json, ConvertError> {
    use grpc::vectors_config_diff::Config;
    let entries: Vec<(String, grpc::VectorParamsDiff)> = match config {
        Config::Params(diff) => vec![(String::new(), diff)],
        Config::ParamsMap(map) => map.map.into_iter().collect(),
    };
    let obj = entries
        .into_iter()
        .map(|(name, diff)| {
            let mut obj = Map::new();
            put(
                &mut obj,
                "hnsw_config",
                diff.hnsw_config.map(hnsw_diff_json),
            );
            #[allow(deprecated)]
            put(&mut obj, "on_disk", diff.on_disk);
            if let Some(quantization) = diff.quantization_config {
                let json = quantization_diff_json(quantization)?;
                obj.insert("quantization_config".into(), json);
            }
            Ok((name, Json::Object(obj)))
        })
        .collect::<Result<Map<_, _>, ConvertError>>()?;
    Ok(Json::Object(obj))
}

pub fn collection_info_to_grpc(info: CollectionInfo) -> grpc::CollectionInfo {
    let status = match info.status {
        CollectionStatus::Green => grpc::CollectionStatus::Green,
        CollectionStatus::Yellow => grpc::CollectionStatus::Yellow,
        CollectionStatus::Grey => grpc::CollectionStatus::Grey,
        CollectionStatus::Red => grpc::CollectionStatus::Red,
    };
    let optimizer_ok = info.optimizer_status == "ok";
    grpc::CollectionInfo {
        status: status as i32,
        optimizer_status: Some(grpc::OptimizerStatus {
            ok: optimizer_ok,
            error: if optimizer_ok {
                String::new()
            } else {
                info.optimizer_status
            },
        }),
        segments_count: info.segments_count as u64,
        config: Some(config_to_grpc(info.config)),
        payload_schema: info
            .payload_schema
            .into_iter()
            .map(|(field, index)| (field, payload_schema_info_to_grpc(index)))
            .collect(),
        points_count: Some(info.points_count as u64),
        indexed_vectors_count: Some(info.indexed_vectors_count as u64),
        warnings: Vec::new(),
        update_queue: None,
        created_at: None,
    }
}

fn config_to_grpc(config: CollectionConfig) -> grpc::CollectionConfig {
    grpc::CollectionConfig {
        params: Some(params_to_grpc(config.params)),
        hnsw_config: Some(hnsw_to_grpc(config.hnsw_config)),
        optimizer_config: Some(optimizers_to_grpc(config.optimizer_config)),
        wal_config: Some(wal_to_grpc(config.wal_config)),
        quantization_config: config.quantization_config.map(quantization_to_grpc),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn params_to_grpc(params: CollectionParams) -> grpc::CollectionParams {
    let config = match params.vectors {
        VectorsConfig::Single(p) => vectors_config::Config::Params(vector_params_to_grpc(p)),
        VectorsConfig::Multi(map) => vectors_config::Config::ParamsMap(grpc::VectorParamsMap {
            map: map
                .into_iter()
                .map(|(name, p)| (name, vector_params_to_grpc(p)))
                .collect(),
        }),
    };
    grpc::CollectionParams {
        shard_number: params.shard_number,
        on_disk_payload: params.on_disk_payload,
        vectors_config: Some(grpc::VectorsConfig {
            config: Some(config),
        }),
        replication_factor: Some(params.replication_factor),
        write_consistency_factor: Some(params.write_consistency_factor),
        sharding_method: Some(grpc::ShardingMethod::Auto as i32),
        sparse_vectors_config: params
            .sparse_vectors
            .map(|sparse| grpc::SparseVectorConfig {
                map: sparse
                    .into_iter()
                    .map(|(name, p)| (name, sparse_params_to_grpc(p)))
                    .collect(),
            }),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn vector_params_to_grpc(params: VectorParams) -> grpc::VectorParams {
    let distance = match params.distance {
        Distance::Cosine => grpc::Distance::Cosine,
        Distance::Euclid => grpc::Distance::Euclid,
        Distance::Dot => grpc::Distance::Dot,
        Distance::Manhattan => grpc::Distance::Manhattan,
    };
    grpc::VectorParams {
        size: params.size as u64,
        distance: distance as i32,
        hnsw_config: params.hnsw_config.map(|d| grpc::HnswConfigDiff {
            m: d.m.map(|v| v as u64),
            ef_construct: d.ef_construct.map(|v| v as u64),
            full_scan_threshold: d.full_scan_threshold.map(|v| v as u64),
            max_indexing_threads: d.max_indexing_threads.map(|v| v as u64),
            on_disk: d.on_disk,
            payload_m: d.payload_m.map(|v| v as u64),
            ..Default::default()
        }),
        on_disk: params.on_disk,
        multivector_config: params.multivector_config.map(|_| grpc::MultiVectorConfig {
            comparator: grpc::MultiVectorComparator::MaxSim as i32,
        }),
        quantization_config: params.quantization_config.map(quantization_to_grpc),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn hnsw_to_grpc(hnsw: HnswConfig) -> grpc::HnswConfigDiff {
    grpc::HnswConfigDiff {
        m: Some(hnsw.m as u64),
        ef_construct: Some(hnsw.ef_construct as u64),
        full_scan_threshold: Some(hnsw.full_scan_threshold as u64),
        max_indexing_threads: Some(hnsw.max_indexing_threads as u64),
        on_disk: hnsw.on_disk,
        payload_m: hnsw.payload_m.map(|v| v as u64),
        ..Default::default()
    }
}

fn optimizers_to_grpc(config: OptimizersConfig) -> grpc::OptimizersConfigDiff {
    let threads = match config.max_optimization_threads {
        Some(n) => max_optimization_threads::Variant::Value(n as u64),
        None => max_optimization_threads::Variant::Setting(
            max_optimization_threads::Setting::Auto as i32,
        ),
    };
    grpc::OptimizersConfigDiff {
        deleted_threshold: Some(config.deleted_threshold),
        vacuum_min_vector_number: Some(config.vacuum_min_vector_number as u64),
        default_segment_number: Some(config.default_segment_number as u64),
        max_segment_size: config.max_segment_size.map(|v| v as u64),
        memmap_threshold: config.memmap_threshold.map(|v| v as u64),
        indexing_threshold: config.indexing_threshold.map(|v| v as u64),
        flush_interval_sec: Some(config.flush_interval_sec),
        deprecated_max_optimization_threads: None,
        max_optimization_threads: Some(grpc::MaxOptimizationThreads {
            variant: Some(threads),
        }),
        prevent_unoptimized: None,
    }
}

fn wal_to_grpc(config: WalConfig) -> grpc::WalConfigDiff {
    grpc::WalConfigDiff {
        wal_capacity_mb: Some(config.wal_capacity_mb as u64),
        wal_segments_ahead: Some(config.wal_segments_ahead as u64),
        wal_retain_closed: None,
    }
}

pub fn alias_operations_from_grpc(
    actions: Vec<grpc::AliasOperations>,
) -> Result<Vec<AliasOperation>, ConvertError> {
    actions
        .into_iter()
        .map(|op| match op.action {
            Some(Action::CreateAlias(c)) => Ok(AliasOperation::CreateAlias {
                collection_name: c.collection_name,
                alias_name: c.alias_name,
            }),
            Some(Action::RenameAlias(r)) => Ok(AliasOperation::RenameAlias {
                old_alias_name: r.old_alias_name,
                new_alias_name: r.new_alias_name,
            }),
            Some(Action::DeleteAlias(d)) => Ok(AliasOperation::DeleteAlias {
                alias_name: d.alias_name,
            }),
            None => Err(ConvertError::invalid("alias operation is empty")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn params(size: u64, distance: grpc::Distance) -> grpc::VectorParams {
        grpc::VectorParams {
            size,
            distance: distance as i32,
            ..Default::default()
        }
    }

    #[test]
    fn create_request_with_named_vectors_and_hnsw_converts() {
        let request = grpc::CreateCollection {
            collection_name: "c".into(),
            vectors_config: Some(grpc::VectorsConfig {
                config: Some(vectors_config::Config::ParamsMap(grpc::VectorParamsMap {
                    map: HashMap::from([
                        ("img".to_string(), params(4, grpc::Distance::Dot)),
                        ("txt".to_string(), params(2, grpc::Distance::Manhattan)),
                    ]),
                })),
            }),
            hnsw_config: Some(grpc::HnswConfigDiff {
                m: Some(8),
                ..Default::default()
            }),
            optimizers_config: Some(grpc::OptimizersConfigDiff {
                indexing_threshold: Some(0),
                ..Default::default()
            }),
            shard_number: Some(2),
            ..Default::default()
        };
        let create = create_collection_from_grpc(request).unwrap();
        let named = create.vectors.named();
        assert_eq!(named["img"].size, 4);
        assert_eq!(named["img"].distance, Distance::Dot);
        assert_eq!(named["txt"].distance, Distance::Manhattan);
        assert_eq!(create.hnsw_config.unwrap().m, Some(8));
        assert_eq!(create.shard_number, Some(2));
        assert_eq!(
            create.optimizers_config,
            Some(json!({"indexing_threshold": 0}))
        );
    }

    #[test]
    fn unknown_distance_is_refused_and_sparse_vectors_convert() {
        let request = grpc::CreateCollection {
            vectors_config: Some(grpc::VectorsConfig {
                config: Some(vectors_config::Config::Params(params(
                    4,
                    grpc::Distance::UnknownDistance,
                ))),
            }),
            ..Default::default()
        };
        assert!(matches!(
            create_collection_from_grpc(request),
            Err(ConvertError::Invalid(_))
        ));
        let request = grpc::CreateCollection {
            sparse_vectors_config: Some(grpc::SparseVectorConfig {
                map: HashMap::from([(
                    "s".to_string(),
                    grpc::SparseVectorParams {
                        modifier: Some(grpc::Modifier::Idf as i32),
                        ..Default::default()
                    },
                )]),
            }),
            ..Default::default()
        };
        let create = create_collection_from_grpc(request).unwrap();
        let sparse = create.sparse_vectors.unwrap();
        assert_eq!(sparse["s"].modifier, Some(Modifier::Idf));
        assert_eq!(create.vectors, VectorsConfig::Multi(Default::default()));
    }

    #[test]
    fn update_of_the_unnamed_vector_is_keyed_by_empty_name() {
        let request = grpc::UpdateCollection {
            vectors_config: Some(grpc::VectorsConfigDiff {
                config: Some(grpc::vectors_config_diff::Config::Params(
                    grpc::VectorParamsDiff {
                        hnsw_config: Some(grpc::HnswConfigDiff {
                            ef_construct: Some(64),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )),
            }),
            params: Some(grpc::CollectionParamsDiff {
                replication_factor: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        };
        let update = update_collection_from_grpc(request).unwrap();
        let vectors = update.vectors.unwrap();
        assert_eq!(vectors[""].hnsw_config.unwrap().ef_construct, Some(64));
        assert_eq!(update.params.unwrap().replication_factor, Some(2));
    }
}
