//! The Query API and the legacy recommend/groups/facet requests, rewritten into Qdrant's
//! REST JSON (`QueryRequest`, `RecommendRequest`, `SearchGroupsRequest`, ...) and deserialized
//! with the engine's query types; and their answers (groups, facet hits) back into gRPC.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::{query::Variant, start_from, vector_input};
use serde_json::{json, Map, Value as Json};

use super::filter::filter_json;
use super::formula::formula_json;
use super::operations::refuse_shard_keys;
use super::point::{
    inference_unsupported, multi_from_grpc, point_ids_from_grpc, sparse_from_grpc,
    vector_from_grpc, with_payload_from_grpc, with_vector_from_grpc,
};
use super::point::{retrieved_point_to_grpc, scored_point_to_grpc};
use super::requests::search_params_from_grpc;
use super::{from_rest_json, put, timestamp_to_rfc3339};
use crate::server::grpc::error::ConvertError;
use crate::types::FacetRequest;
use crate::types::{
    FacetResponse, FacetValue, FacetValueHit, GroupId, GroupsResult, OrderBy, PointGroup,
    QueryGroupsRequest, QueryRequest, RecommendGroupsRequest, RecommendRequest,
    SearchGroupsRequest,
};

type Result<T> = std::result::Result<T, ConvertError>;

pub fn query_from_grpc(request: grpc::QueryPoints) -> Result<QueryRequest> {
    from_rest_json(query_points_json(request)?, "query request")
}

pub fn query_groups_from_grpc(request: grpc::QueryPointGroups) -> Result<QueryGroupsRequest> {
    from_rest_json(query_groups_json(request)?, "query groups request")
}

pub fn search_groups_from_grpc(request: grpc::SearchPointGroups) -> Result<SearchGroupsRequest> {
    from_rest_json(search_groups_json(request)?, "search groups request")
}

pub fn recommend_from_grpc(request: grpc::RecommendPoints) -> Result<RecommendRequest> {
    from_rest_json(recommend_json(request)?, "recommend request")
}

pub fn recommend_groups_from_grpc(
    request: grpc::RecommendPointGroups,
) -> Result<RecommendGroupsRequest> {
    from_rest_json(recommend_groups_json(request)?, "recommend groups request")
}

pub fn facet_from_grpc(request: grpc::FacetCounts) -> Result<FacetRequest> {
    from_rest_json(facet_json(request)?, "facet request")
}

pub fn groups_to_grpc(result: GroupsResult) -> grpc::GroupsResult {
    grpc::GroupsResult {
        groups: result.groups.into_iter().map(group_to_grpc).collect(),
    }
}

fn group_to_grpc(group: PointGroup) -> grpc::PointGroup {
    let kind = match group.id {
        GroupId::Integer(i) => grpc::group_id::Kind::IntegerValue(i),
        GroupId::Unsigned(u) => grpc::group_id::Kind::UnsignedValue(u),
        GroupId::Keyword(s) => grpc::group_id::Kind::StringValue(s),
    };
    grpc::PointGroup {
        id: Some(grpc::GroupId { kind: Some(kind) }),
        hits: group.hits.into_iter().map(scored_point_to_grpc).collect(),
        lookup: group.lookup.map(retrieved_point_to_grpc),
    }
}

pub fn facet_hits_to_grpc(response: FacetResponse) -> Vec<grpc::FacetHit> {
    response.hits.into_iter().map(facet_hit_to_grpc).collect()
}

fn facet_hit_to_grpc(hit: FacetValueHit) -> grpc::FacetHit {
    use grpc::facet_value::Variant;
    let variant = match hit.value {
        FacetValue::Bool(b) => Variant::BoolValue(b),
        FacetValue::Integer(i) => Variant::IntegerValue(i),
        FacetValue::Keyword(s) => Variant::StringValue(s),
    };
    grpc::FacetHit {
        value: Some(grpc::FacetValue {
            variant: Some(variant),
        }),
        count: hit.count as u64,
    }
}

/// `POST /points/query`.
fn query_points_json(request: grpc::QueryPoints) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = Map::new();
    put_query_parts(
        &mut body,
        QueryParts {
            prefetch: request.prefetch,
            query: request.query,
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            lookup_from: request.lookup_from,
        },
    )?;
    put(&mut body, "limit", request.limit);
    put(&mut body, "offset", request.offset);
    put_selection(&mut body, request.with_payload, request.with_vectors)?;
    Ok(Json::Object(body))
}

/// `POST /points/query/groups`.
fn query_groups_json(request: grpc::QueryPointGroups) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = Map::new();
    put_query_parts(
        &mut body,
        QueryParts {
            prefetch: request.prefetch,
            query: request.query,
            using: request.using,
            filter: request.filter,
            params: request.params,
            score_threshold: request.score_threshold,
            lookup_from: request.lookup_from,
        },
    )?;
    put_selection(&mut body, request.with_payload, request.with_vectors)?;
    body.insert("group_by".into(), request.group_by.into());
    put(&mut body, "group_size", request.group_size);
    put(&mut body, "limit", request.limit);
    put(
        &mut body,
        "with_lookup",
        request.with_lookup.map(with_lookup_json).transpose()?,
    );
    Ok(Json::Object(body))
}

/// `POST /points/search/groups`.
fn search_groups_json(request: grpc::SearchPointGroups) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = Map::new();
    let values = match request.sparse_indices {
        Some(indices) => json!({"indices": indices.data, "values": request.vector}),
        None => json!(request.vector),
    };
    let vector = match request.vector_name.filter(|name| !name.is_empty()) {
        Some(name) => json!({"name": name, "vector": values}),
        None => values,
    };
    body.insert("vector".into(), vector);
    put(
        &mut body,
        "filter",
        request.filter.map(filter_json).transpose()?,
    );
    put(&mut body, "params", request.params.map(search_params_json));
    put(&mut body, "score_threshold", request.score_threshold);
    put_selection(&mut body, request.with_payload, request.with_vectors)?;
    put_group_params(
        &mut body,
        request.group_by,
        request.group_size,
        request.limit,
        request.with_lookup,
    )?;
    Ok(Json::Object(body))
}

/// `POST /points/recommend` (the legacy API: examples are ids or raw vectors).
fn recommend_json(request: grpc::RecommendPoints) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = recommend_body(RecommendParts {
        positive: request.positive,
        negative: request.negative,
        positive_vectors: request.positive_vectors,
        negative_vectors: request.negative_vectors,
        strategy: request.strategy,
        filter: request.filter,
        params: request.params,
        score_threshold: request.score_threshold,
        using: request.using,
        lookup_from: request.lookup_from,
    })?;
    body.insert("limit".into(), request.limit.into());
    put(&mut body, "offset", request.offset);
    put_selection(&mut body, request.with_payload, request.with_vectors)?;
    Ok(Json::Object(body))
}

/// `POST /points/recommend/groups`.
fn recommend_groups_json(request: grpc::RecommendPointGroups) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = recommend_body(RecommendParts {
        positive: request.positive,
        negative: request.negative,
        positive_vectors: request.positive_vectors,
        negative_vectors: request.negative_vectors,
        strategy: request.strategy,
        filter: request.filter,
        params: request.params,
        score_threshold: request.score_threshold,
        using: request.using,
        lookup_from: request.lookup_from,
    })?;
    put_selection(&mut body, request.with_payload, request.with_vectors)?;
    put_group_params(
        &mut body,
        request.group_by,
        request.group_size,
        request.limit,
        request.with_lookup,
    )?;
    Ok(Json::Object(body))
}

/// `POST /facet`.
fn facet_json(request: grpc::FacetCounts) -> Result<Json> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let mut body = Map::new();
    body.insert("key".into(), request.key.into());
    put(&mut body, "limit", request.limit);
    put(
        &mut body,
        "filter",
        request.filter.map(filter_json).transpose()?,
    );
    put(&mut body, "exact", request.exact);
    Ok(Json::Object(body))
}

/// The fields a query request shares with its prefetches.
struct QueryParts {
    prefetch: Vec<grpc::PrefetchQuery>,
    query: Option<grpc::Query>,
    using: Option<String>,
    filter: Option<grpc::Filter>,
    params: Option<grpc::SearchParams>,
    score_threshold: Option<f32>,
    lookup_from: Option<grpc::LookupLocation>,
}

fn put_query_parts(body: &mut Map<String, Json>, parts: QueryParts) -> Result<()> {
    if !parts.prefetch.is_empty() {
        let prefetch = parts
            .prefetch
            .into_iter()
            .map(prefetch_json)
            .collect::<Result<Vec<_>>>()?;
        body.insert("prefetch".into(), Json::Array(prefetch));
    }
    put(body, "query", parts.query.map(query_json).transpose()?);
    put(body, "using", parts.using);
    put(body, "filter", parts.filter.map(filter_json).transpose()?);
    put(body, "params", parts.params.map(search_params_json));
    put(body, "score_threshold", parts.score_threshold);
    put(
        body,
        "lookup_from",
        parts.lookup_from.map(lookup_json).transpose()?,
    );
    Ok(())
}

fn prefetch_json(prefetch: grpc::PrefetchQuery) -> Result<Json> {
    let mut body = Map::new();
    put_query_parts(
        &mut body,
        QueryParts {
            prefetch: prefetch.prefetch,
            query: prefetch.query,
            using: prefetch.using,
            filter: prefetch.filter,
            params: prefetch.params,
            score_threshold: prefetch.score_threshold,
            lookup_from: prefetch.lookup_from,
        },
    )?;
    put(&mut body, "limit", prefetch.limit);
    Ok(Json::Object(body))
}

fn query_json(query: grpc::Query) -> Result<Json> {
    let variant = query
        .variant
        .ok_or_else(|| ConvertError::invalid("query is empty"))?;
    Ok(match variant {
        Variant::Nearest(input) => json!({"nearest": vector_input_json(input)?}),
        Variant::NearestWithMmr(with_mmr) => {
            let nearest = with_mmr
                .nearest
                .ok_or_else(|| ConvertError::invalid("nearest query has no vector"))?;
            let mut obj = Map::new();
            obj.insert("nearest".into(), vector_input_json(nearest)?);
            if let Some(mmr) = with_mmr.mmr {
                let mut mmr_obj = Map::new();
                put(&mut mmr_obj, "diversity", mmr.diversity);
                put(&mut mmr_obj, "candidates_limit", mmr.candidates_limit);
                obj.insert("mmr".into(), Json::Object(mmr_obj));
            }
            Json::Object(obj)
        }
        Variant::Recommend(input) => json!({"recommend": recommend_input_json(input)?}),
        Variant::OrderBy(order_by) => json!({"order_by": order_by_json(order_by)?}),
        Variant::Fusion(fusion) => json!({"fusion": fusion_name(fusion)?}),
        Variant::Rrf(rrf) => {
            let mut obj = Map::new();
            put(&mut obj, "k", rrf.k);
            if !rrf.weights.is_empty() {
                obj.insert("weights".into(), json!(rrf.weights));
            }
            json!({ "rrf": obj })
        }
        Variant::Sample(sample) => match grpc::Sample::try_from(sample) {
            Ok(grpc::Sample::Random) => json!({"sample": "random"}),
            Err(_) => return Err(ConvertError::invalid(format!("unknown sample {sample}"))),
        },
        Variant::Discover(discover) => {
            let target = discover
                .target
                .ok_or_else(|| ConvertError::invalid("discover query has no target"))?;
            let pairs = discover.context.map(|c| c.pairs).unwrap_or_default();
            json!({"discover": {"target": vector_input_json(target)?, "context": context_json(pairs)?}})
        }
        Variant::Context(context) => json!({"context": context_json(context.pairs)?}),
        Variant::Formula(formula) => formula_json(formula)?,
        Variant::RelevanceFeedback(_) => {
            return Err(ConvertError::unsupported("relevance feedback queries"))
        }
        Variant::Text(_) => return Err(ConvertError::unsupported("BM25 text queries")),
    })
}

/// A vector given by value, or by the id of a stored point.
fn vector_input_json(input: grpc::VectorInput) -> Result<Json> {
    let variant = input
        .variant
        .ok_or_else(|| ConvertError::invalid("vector input is empty"))?;
    match variant {
        vector_input::Variant::Id(id) => Ok(json!(point_ids_from_grpc(vec![id])?[0])),
        vector_input::Variant::Dense(dense) => Ok(json!(dense.data)),
        vector_input::Variant::Sparse(sparse) => Ok(json!(sparse_from_grpc(sparse))),
        vector_input::Variant::MultiDense(multi) => Ok(json!(multi_from_grpc(multi))),
        vector_input::Variant::Document(_)
        | vector_input::Variant::Image(_)
        | vector_input::Variant::Object(_) => Err(inference_unsupported()),
    }
}

fn context_json(pairs: Vec<grpc::ContextInputPair>) -> Result<Json> {
    let example = |v: Option<grpc::VectorInput>| {
        vector_input_json(v.ok_or_else(|| ConvertError::invalid("context pair is incomplete"))?)
    };
    pairs
        .into_iter()
        .map(|pair| {
            Ok(json!({"positive": example(pair.positive)?, "negative": example(pair.negative)?}))
        })
        .collect::<Result<Vec<_>>>()
        .map(Json::Array)
}

fn vector_inputs_json(inputs: Vec<grpc::VectorInput>) -> Result<Json> {
    inputs
        .into_iter()
        .map(vector_input_json)
        .collect::<Result<Vec<_>>>()
        .map(Json::Array)
}

fn recommend_input_json(input: grpc::RecommendInput) -> Result<Json> {
    let mut obj = Map::new();
    obj.insert("positive".into(), vector_inputs_json(input.positive)?);
    obj.insert("negative".into(), vector_inputs_json(input.negative)?);
    put(
        &mut obj,
        "strategy",
        input.strategy.map(strategy_name).transpose()?,
    );
    Ok(Json::Object(obj))
}

fn strategy_name(strategy: i32) -> Result<&'static str> {
    match grpc::RecommendStrategy::try_from(strategy) {
        Ok(grpc::RecommendStrategy::AverageVector) => Ok("average_vector"),
        Ok(grpc::RecommendStrategy::BestScore) => Ok("best_score"),
        Ok(grpc::RecommendStrategy::SumScores) => Ok("sum_scores"),
        Err(_) => Err(ConvertError::invalid(format!(
            "unknown recommend strategy {strategy}"
        ))),
    }
}

fn fusion_name(fusion: i32) -> Result<&'static str> {
    match grpc::Fusion::try_from(fusion) {
        Ok(grpc::Fusion::Rrf) => Ok("rrf"),
        Ok(grpc::Fusion::Dbsf) => Ok("dbsf"),
        Err(_) => Err(ConvertError::invalid(format!("unknown fusion {fusion}"))),
    }
}

/// The `order_by` of a scroll.
pub fn order_by_from_grpc(order_by: grpc::OrderBy) -> Result<OrderBy> {
    from_rest_json(order_by_json(order_by)?, "order_by")
}

fn order_by_json(order_by: grpc::OrderBy) -> Result<Json> {
    let mut obj = Map::new();
    obj.insert("key".into(), order_by.key.into());
    let direction = match order_by.direction.map(grpc::Direction::try_from) {
        None => None,
        Some(Ok(grpc::Direction::Asc)) => Some("asc"),
        Some(Ok(grpc::Direction::Desc)) => Some("desc"),
        Some(Err(_)) => return Err(ConvertError::invalid("unknown order_by direction")),
    };
    put(&mut obj, "direction", direction);
    let start_from = match order_by.start_from.and_then(|s| s.value) {
        None => None,
        Some(start_from::Value::Float(f)) => Some(json!(f)),
        Some(start_from::Value::Integer(i)) => Some(json!(i)),
        Some(start_from::Value::Timestamp(ts)) => Some(json!(timestamp_to_rfc3339(ts)?)),
        Some(start_from::Value::Datetime(s)) => Some(json!(s)),
    };
    put(&mut obj, "start_from", start_from);
    Ok(Json::Object(obj))
}

/// Search parameters as REST JSON, converted once by [`search_params_from_grpc`].
pub fn search_params_json(params: grpc::SearchParams) -> Json {
    serde_json::to_value(search_params_from_grpc(params)).expect("search params serialize")
}

fn lookup_json(lookup: grpc::LookupLocation) -> Result<Json> {
    refuse_shard_keys(lookup.shard_key_selector.as_ref())?;
    let mut obj = Map::new();
    obj.insert("collection".into(), lookup.collection_name.into());
    put(&mut obj, "vector", lookup.vector_name);
    Ok(Json::Object(obj))
}

fn with_lookup_json(lookup: grpc::WithLookup) -> Result<Json> {
    let mut obj = Map::new();
    obj.insert("collection".into(), lookup.collection.into());
    // Qdrant's default for looked-up points: payload yes, vectors no.
    let with_payload = with_payload_from_grpc(lookup.with_payload, true);
    obj.insert("with_payload".into(), to_json(&with_payload)?);
    let with_vectors = with_vector_from_grpc(lookup.with_vectors);
    obj.insert("with_vectors".into(), to_json(&with_vectors)?);
    Ok(Json::Object(obj))
}

/// `with_payload` (default none) and `with_vector` (default none) of a read.
fn put_selection(
    body: &mut Map<String, Json>,
    with_payload: Option<grpc::WithPayloadSelector>,
    with_vectors: Option<grpc::WithVectorsSelector>,
) -> Result<()> {
    body.insert(
        "with_payload".into(),
        to_json(&with_payload_from_grpc(with_payload, false))?,
    );
    body.insert(
        "with_vector".into(),
        to_json(&with_vector_from_grpc(with_vectors))?,
    );
    Ok(())
}

fn put_group_params(
    body: &mut Map<String, Json>,
    group_by: String,
    group_size: u32,
    limit: u32,
    with_lookup: Option<grpc::WithLookup>,
) -> Result<()> {
    body.insert("group_by".into(), group_by.into());
    body.insert("group_size".into(), group_size.into());
    body.insert("limit".into(), limit.into());
    put(
        body,
        "with_lookup",
        with_lookup.map(with_lookup_json).transpose()?,
    );
    Ok(())
}

/// The fields of the legacy recommend requests.
struct RecommendParts {
    positive: Vec<grpc::PointId>,
    negative: Vec<grpc::PointId>,
    positive_vectors: Vec<grpc::Vector>,
    negative_vectors: Vec<grpc::Vector>,
    strategy: Option<i32>,
    filter: Option<grpc::Filter>,
    params: Option<grpc::SearchParams>,
    score_threshold: Option<f32>,
    using: Option<String>,
    lookup_from: Option<grpc::LookupLocation>,
}

fn recommend_body(parts: RecommendParts) -> Result<Map<String, Json>> {
    let mut body = Map::new();
    body.insert(
        "positive".into(),
        examples_json(parts.positive, parts.positive_vectors)?,
    );
    body.insert(
        "negative".into(),
        examples_json(parts.negative, parts.negative_vectors)?,
    );
    put(
        &mut body,
        "strategy",
        parts.strategy.map(strategy_name).transpose()?,
    );
    put(
        &mut body,
        "filter",
        parts.filter.map(filter_json).transpose()?,
    );
    put(&mut body, "params", parts.params.map(search_params_json));
    put(&mut body, "score_threshold", parts.score_threshold);
    put(&mut body, "using", parts.using);
    put(
        &mut body,
        "lookup_from",
        parts.lookup_from.map(lookup_json).transpose()?,
    );
    Ok(body)
}

/// Examples of a legacy recommendation: point ids, then raw vectors.
fn examples_json(ids: Vec<grpc::PointId>, vectors: Vec<grpc::Vector>) -> Result<Json> {
    let mut examples: Vec<Json> = point_ids_from_grpc(ids)?
        .into_iter()
        .map(|id| json!(id))
        .collect();
    for vector in vectors {
        examples.push(json!(vector_from_grpc(vector)?));
    }
    Ok(Json::Array(examples))
}

fn to_json(value: &impl serde::Serialize) -> Result<Json> {
    serde_json::to_value(value).map_err(|e| ConvertError::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::{Condition, Filter};

    fn dense(data: Vec<f32>) -> grpc::VectorInput {
        grpc::VectorInput {
            variant: Some(vector_input::Variant::Dense(grpc::DenseVector { data })),
        }
    }

    fn query(variant: Variant) -> Option<grpc::Query> {
        Some(grpc::Query {
            variant: Some(variant),
        })
    }

    #[test]
    fn a_hybrid_query_with_prefetches_becomes_rest_json() {
        let request = grpc::QueryPoints {
            collection_name: "c".into(),
            prefetch: vec![grpc::PrefetchQuery {
                query: query(Variant::Nearest(dense(vec![1.0, 0.0]))),
                using: Some("img".into()),
                limit: Some(20),
                filter: Some(Filter::must([Condition::matches(
                    "color",
                    "red".to_string(),
                )])),
                ..Default::default()
            }],
            query: query(Variant::Fusion(grpc::Fusion::Rrf as i32)),
            limit: Some(5),
            with_payload: Some(true.into()),
            ..Default::default()
        };
        assert_eq!(
            query_points_json(request).unwrap(),
            json!({
                "prefetch": [{
                    "query": {"nearest": [1.0, 0.0]},
                    "using": "img",
                    "limit": 20,
                    "filter": {"must": [{"key": "color", "match": {"value": "red"}}]},
                }],
                "query": {"fusion": "rrf"},
                "limit": 5,
                "with_payload": true,
                "with_vector": false,
            })
        );
    }

    #[test]
    fn recommend_and_order_by_queries_convert() {
        let recommend = query_json(grpc::Query {
            variant: Some(Variant::Recommend(grpc::RecommendInput {
                positive: vec![grpc::VectorInput {
                    variant: Some(vector_input::Variant::Id(3u64.into())),
                }],
                negative: vec![dense(vec![0.5])],
                strategy: Some(grpc::RecommendStrategy::BestScore as i32),
            })),
        })
        .unwrap();
        assert_eq!(
            recommend,
            json!({"recommend": {"positive": [3], "negative": [[0.5]], "strategy": "best_score"}})
        );
        let order = query_json(grpc::Query {
            variant: Some(Variant::OrderBy(grpc::OrderBy {
                key: "price".into(),
                direction: Some(grpc::Direction::Desc as i32),
                start_from: Some(grpc::StartFrom {
                    value: Some(start_from::Value::Integer(10)),
                }),
            })),
        })
        .unwrap();
        assert_eq!(
            order,
            json!({"order_by": {"key": "price", "direction": "desc", "start_from": 10}})
        );
    }

    #[test]
    fn nearest_with_mmr_converts() {
        let with_mmr = |mmr| {
            query_json(grpc::Query {
                variant: Some(Variant::NearestWithMmr(grpc::NearestInputWithMmr {
                    nearest: Some(dense(vec![1.0, 0.5])),
                    mmr,
                })),
            })
            .unwrap()
        };
        let mmr = grpc::Mmr {
            diversity: Some(0.25),
            candidates_limit: Some(40),
        };
        assert_eq!(
            with_mmr(Some(mmr)),
            json!({"nearest": [1.0, 0.5], "mmr": {"diversity": 0.25, "candidates_limit": 40}})
        );
        assert_eq!(with_mmr(None), json!({"nearest": [1.0, 0.5]}));
        let parsed: QueryRequest =
            from_rest_json(json!({"query": with_mmr(Some(mmr))}), "query").unwrap();
        assert!(matches!(
            parsed.query.map(crate::types::QueryInterface::into_query),
            Some(crate::types::Query::Nearest(n)) if n.mmr.as_ref().and_then(|m| m.candidates_limit) == Some(40)
        ));
    }

    #[test]
    fn legacy_recommend_mixes_ids_and_vectors() {
        let request = grpc::RecommendPoints {
            positive: vec![1u64.into()],
            positive_vectors: vec![vec![0.1, 0.2].into()],
            negative: vec![2u64.into()],
            limit: 4,
            using: Some("img".into()),
            ..Default::default()
        };
        let body = recommend_json(request).unwrap();
        assert_eq!(body["positive"], json!([1, [0.1f32, 0.2f32]]));
        assert_eq!(body["negative"], json!([2]));
        assert_eq!(body["limit"], json!(4));
        assert_eq!(body["using"], json!("img"));
    }

    #[test]
    fn unsupported_queries_are_named() {
        let text = query_json(grpc::Query {
            variant: Some(Variant::Text(Default::default())),
        });
        assert!(matches!(text, Err(ConvertError::Unsupported(m)) if m.contains("BM25")));
    }

    #[test]
    fn discover_and_context_queries_convert() {
        let id = |n: u64| grpc::VectorInput {
            variant: Some(vector_input::Variant::Id(n.into())),
        };
        let pair = grpc::ContextInputPair {
            positive: Some(id(2)),
            negative: Some(dense(vec![0.5])),
        };
        let discover = query_json(grpc::Query {
            variant: Some(Variant::Discover(grpc::DiscoverInput {
                target: Some(id(1)),
                context: Some(grpc::ContextInput {
                    pairs: vec![pair.clone()],
                }),
            })),
        })
        .unwrap();
        assert_eq!(
            discover,
            json!({"discover": {"target": 1, "context": [{"positive": 2, "negative": [0.5]}]}})
        );
        let context = query_json(grpc::Query {
            variant: Some(Variant::Context(grpc::ContextInput { pairs: vec![pair] })),
        })
        .unwrap();
        assert_eq!(
            context,
            json!({"context": [{"positive": 2, "negative": [0.5]}]})
        );
    }
}
