//! Requests and answers of the Query API, recommendations, groups and facets, in Qdrant's
//! REST JSON shapes. [`crate::query`] executes them; the REST and gRPC servers both build these.

use serde::{Deserialize, Deserializer, Serialize};

use super::point::{PointId, Record, ScoredPoint, WithPayload, WithVector};
use super::requests::{NamedVector, SearchParams, SearchRequest};
use super::sparse::SparseVector;
use crate::filter::Filter;
use crate::formula::Expression;

/// Default number of results of a query (and of each prefetch), as in Qdrant.
pub const DEFAULT_QUERY_LIMIT: usize = 10;
/// Default number of facet values returned.
pub const DEFAULT_FACET_LIMIT: usize = 10;

/// A vector given by value or by the id of a stored point.
///
/// Inference objects and other unknown forms parse (so the error can name them) but are
/// refused when the query runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VectorInput {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
    Id(PointId),
    Unsupported(serde_json::Value),
}

impl VectorInput {
    /// Classifies a JSON value: an array of numbers is a dense vector, an unsigned integer or
    /// a UUID string a point id; anything else is kept as unsupported.
    pub fn from_json(value: serde_json::Value) -> VectorInput {
        use serde_json::Value;
        match &value {
            Value::Array(items) if items.iter().all(Value::is_number) => VectorInput::Dense(
                items
                    .iter()
                    .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                    .collect(),
            ),
            Value::Array(rows) if !rows.is_empty() && rows.iter().all(is_number_array) => {
                VectorInput::Multi(rows.iter().map(numbers).collect())
            }
            Value::Number(n) => match n.as_u64() {
                Some(id) => VectorInput::Id(PointId::Num(id)),
                None => VectorInput::Unsupported(value),
            },
            Value::String(s) => match s.parse::<uuid::Uuid>() {
                Ok(id) => VectorInput::Id(PointId::Uuid(id)),
                Err(_) => VectorInput::Unsupported(value),
            },
            Value::Object(map) if map.contains_key("indices") => {
                match serde_json::from_value(value.clone()) {
                    Ok(sparse) => VectorInput::Sparse(sparse),
                    Err(_) => VectorInput::Unsupported(value),
                }
            }
            _ => VectorInput::Unsupported(value),
        }
    }
}

fn is_number_array(value: &serde_json::Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(serde_json::Value::is_number))
}

fn numbers(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
        .collect()
}

impl<'de> Deserialize<'de> for VectorInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(VectorInput::from_json(serde_json::Value::deserialize(
            deserializer,
        )?))
    }
}

/// How positive and negative examples are combined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendStrategy {
    /// Search with `avg(pos) + avg(pos) - avg(neg)`.
    #[default]
    AverageVector,
    /// Score each point by its best similarity to any example (negatives count against).
    BestScore,
    /// Sum of similarities to positives minus sum of similarities to negatives.
    SumScores,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendInput {
    #[serde(default, deserialize_with = "null_as_default")]
    pub positive: Vec<VectorInput>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub negative: Vec<VectorInput>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// A value to order by or start from: a number, or an RFC 3339 date-time string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StartFrom {
    Integer(i64),
    Float(f64),
    Datetime(String),
}

/// `order_by`: a payload key, or `{key, direction, start_from}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderByInterface {
    Key(String),
    Full(OrderBy),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    pub key: String,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub start_from: Option<StartFrom>,
}

impl OrderByInterface {
    pub fn to_order_by(&self) -> OrderBy {
        match self {
            OrderByInterface::Key(key) => OrderBy {
                key: key.clone(),
                direction: None,
                start_from: None,
            },
            OrderByInterface::Full(o) => o.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion.
    Rrf,
    /// Distribution-based score fusion.
    Dbsf,
}

/// Parameters of reciprocal rank fusion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rrf {
    #[serde(default)]
    pub k: Option<usize>,
    #[serde(default)]
    pub weights: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sample {
    Random,
}

/// The object forms of a query (`{"nearest": ...}`, `{"recommend": ...}`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Query {
    Nearest(NearestQuery),
    Recommend(RecommendQuery),
    OrderBy(OrderByQuery),
    Fusion(FusionQuery),
    Rrf(RrfQuery),
    Sample(SampleQuery),
    Discover(DiscoverQuery),
    Context(ContextQuery),
    Formula(FormulaQuery),
}

/// A pair of examples: points should be closer to `positive` than to `negative`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextPair {
    pub positive: VectorInput,
    pub negative: VectorInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverInput {
    pub target: VectorInput,
    #[serde(default, deserialize_with = "one_or_many")]
    pub context: Vec<ContextPair>,
}

/// Points near `target` inside the region the context pairs carve out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverQuery {
    pub discover: DiscoverInput,
}

/// Points best satisfying the context pairs, without a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextQuery {
    #[serde(deserialize_with = "one_or_many")]
    pub context: Vec<ContextPair>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestQuery {
    pub nearest: VectorInput,
    /// Re-rank the nearest candidates by maximal marginal relevance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmr: Option<Mmr>,
}

/// Maximal marginal relevance: how much diversity counts against relevance (0..=1, default
/// 0.5), and how many nearest candidates to re-rank (default: the limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mmr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendQuery {
    pub recommend: RecommendInput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderByQuery {
    pub order_by: OrderByInterface,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionQuery {
    pub fusion: Fusion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrfQuery {
    pub rrf: Rrf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleQuery {
    pub sample: Sample,
}

/// Rescores the prefetched points with an expression (higher is better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormulaQuery {
    pub formula: Expression,
    /// Values of the variables a point's payload lacks, by variable name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub defaults: serde_json::Map<String, serde_json::Value>,
}

/// The keys naming each query object, in the order they are recognized.
const QUERY_KEYS: &[&str] = &[
    "nearest",
    "recommend",
    "order_by",
    "fusion",
    "rrf",
    "sample",
    "discover",
    "context",
    "formula",
];

impl Query {
    /// Parses a query object by the key it is named with, so errors point at the right form.
    /// `Ok(None)`: the object is not one of the supported forms.
    fn from_object(
        value: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<Query>, serde_json::Error> {
        let Some(key) = QUERY_KEYS.iter().find(|k| value.contains_key(**k)) else {
            return Ok(None);
        };
        let value = serde_json::Value::Object(value.clone());
        Ok(Some(match *key {
            "nearest" => Query::Nearest(serde_json::from_value(value)?),
            "recommend" => Query::Recommend(serde_json::from_value(value)?),
            "order_by" => Query::OrderBy(serde_json::from_value(value)?),
            "fusion" => Query::Fusion(serde_json::from_value(value)?),
            "rrf" => Query::Rrf(serde_json::from_value(value)?),
            "sample" => Query::Sample(serde_json::from_value(value)?),
            "discover" => Query::Discover(serde_json::from_value(value)?),
            "context" => Query::Context(serde_json::from_value(value)?),
            _ => Query::Formula(serde_json::from_value(value)?),
        }))
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        let object = value
            .as_object()
            .ok_or_else(|| D::Error::custom("a query object was expected"))?;
        Query::from_object(object)
            .map_err(D::Error::custom)?
            .ok_or_else(|| {
                D::Error::custom(format!("unknown query, expected one of {QUERY_KEYS:?}"))
            })
    }
}

/// What `query` may hold: a bare vector or point id (nearest), or one of the query objects.
/// Forms Grape does not support (inference objects, relevance feedback...) parse as an
/// unsupported [`VectorInput`] and are refused with a message when the query runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QueryInterface {
    Query(Query),
    Nearest(VectorInput),
}

impl<'de> Deserialize<'de> for QueryInterface {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(object) = &value {
            if let Some(query) = Query::from_object(object).map_err(D::Error::custom)? {
                return Ok(QueryInterface::Query(query));
            }
        }
        Ok(QueryInterface::Nearest(VectorInput::from_json(value)))
    }
}

impl QueryInterface {
    /// The query in object form: a bare vector or id becomes `{"nearest": ...}`.
    pub fn into_query(self) -> Query {
        match self {
            QueryInterface::Query(q) => q,
            QueryInterface::Nearest(v) => Query::Nearest(NearestQuery {
                nearest: v,
                mmr: None,
            }),
        }
    }
}

/// Where vectors given by point id are looked up: another collection (and vector name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupLocation {
    pub collection: String,
    #[serde(default)]
    pub vector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
}

/// A sub-query whose results feed the enclosing query (rescoring or fusion).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefetch {
    #[serde(default, deserialize_with = "one_or_many")]
    pub prefetch: Vec<Prefetch>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
}

/// `POST /collections/{name}/points/query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub prefetch: Vec<Prefetch>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
}

/// `POST /collections/{name}/points/query/batch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequestBatch {
    pub searches: Vec<QueryRequest>,
}

/// The answer of a query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    pub points: Vec<ScoredPoint>,
}

/// `with_lookup` of a group request: a collection name, or `{collection, with_payload,
/// with_vectors}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithLookupInterface {
    Collection(String),
    Full(WithLookup),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithLookup {
    pub collection: String,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vector")]
    pub with_vectors: Option<WithVector>,
}

impl WithLookupInterface {
    pub fn to_lookup(&self) -> WithLookup {
        match self {
            WithLookupInterface::Collection(c) => WithLookup {
                collection: c.clone(),
                with_payload: None,
                with_vectors: None,
            },
            WithLookupInterface::Full(l) => l.clone(),
        }
    }
}

/// How results are grouped: by the values of a payload key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupParams {
    /// Payload key whose (keyword or integer) values name the groups.
    pub group_by: String,
    /// Maximal number of points per group.
    pub group_size: usize,
    /// Maximal number of groups.
    pub limit: usize,
    #[serde(default)]
    pub with_lookup: Option<WithLookupInterface>,
}

/// `POST /collections/{name}/points/query/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryGroupsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub prefetch: Vec<Prefetch>,
    #[serde(default)]
    pub query: Option<QueryInterface>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    pub group_by: String,
    #[serde(default = "default_group_size")]
    pub group_size: usize,
    #[serde(default = "default_query_limit")]
    pub limit: usize,
    #[serde(default)]
    pub with_lookup: Option<WithLookupInterface>,
}

impl QueryGroupsRequest {
    /// The query part (without grouping) and the grouping parameters.
    pub fn split(self) -> (QueryRequest, GroupParams) {
        let groups = GroupParams {
            group_by: self.group_by,
            group_size: self.group_size,
            limit: self.limit,
            with_lookup: self.with_lookup,
        };
        let query = QueryRequest {
            shard_key: self.shard_key,
            prefetch: self.prefetch,
            query: self.query,
            using: self.using,
            filter: self.filter,
            params: self.params,
            score_threshold: self.score_threshold,
            limit: None,
            offset: None,
            with_vector: self.with_vector,
            with_payload: self.with_payload,
            lookup_from: self.lookup_from,
        };
        (query, groups)
    }
}

/// `POST /collections/{name}/points/search/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchGroupsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    pub vector: NamedVector,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    pub group_by: String,
    pub group_size: usize,
    pub limit: usize,
    #[serde(default)]
    pub with_lookup: Option<WithLookupInterface>,
}

/// One group of results: its id (the payload value), best hits and the looked-up record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointGroup {
    pub hits: Vec<ScoredPoint>,
    pub id: GroupId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Record>,
}

/// A group's id: a keyword or integer payload value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GroupId {
    Integer(i64),
    Unsigned(u64),
    Keyword(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupsResult {
    pub groups: Vec<PointGroup>,
}

/// Example for the legacy recommend endpoints: a point id or a raw vector.
pub type RecommendExample = VectorInput;

/// `POST /collections/{name}/points/recommend`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub positive: Vec<RecommendExample>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub negative: Vec<RecommendExample>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default = "default_query_limit")]
    pub limit: usize,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
}

impl RecommendRequest {
    /// The same recommendation as a Query API request.
    pub fn into_query(self) -> QueryRequest {
        QueryRequest {
            shard_key: self.shard_key,
            prefetch: Vec::new(),
            query: Some(QueryInterface::Query(Query::Recommend(RecommendQuery {
                recommend: RecommendInput {
                    positive: self.positive,
                    negative: self.negative,
                    strategy: self.strategy,
                },
            }))),
            using: self.using,
            filter: self.filter,
            params: self.params,
            score_threshold: self.score_threshold,
            limit: Some(self.limit),
            offset: self.offset,
            with_vector: self.with_vector,
            with_payload: self.with_payload,
            lookup_from: self.lookup_from,
        }
    }
}

/// `POST /collections/{name}/points/recommend/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendGroupsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub positive: Vec<RecommendExample>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub negative: Vec<RecommendExample>,
    #[serde(default)]
    pub strategy: Option<RecommendStrategy>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub lookup_from: Option<LookupLocation>,
    pub group_by: String,
    pub group_size: usize,
    pub limit: usize,
    #[serde(default)]
    pub with_lookup: Option<WithLookupInterface>,
}

impl RecommendGroupsRequest {
    /// The recommendation (as a query) and the grouping parameters.
    pub fn split(self) -> (QueryRequest, GroupParams) {
        let groups = GroupParams {
            group_by: self.group_by,
            group_size: self.group_size,
            limit: self.limit,
            with_lookup: self.with_lookup,
        };
        let recommend = RecommendRequest {
            shard_key: self.shard_key,
            positive: self.positive,
            negative: self.negative,
            strategy: self.strategy,
            filter: self.filter,
            params: self.params,
            limit: groups.limit,
            offset: None,
            with_payload: self.with_payload,
            with_vector: self.with_vector,
            score_threshold: self.score_threshold,
            using: self.using,
            lookup_from: self.lookup_from,
        };
        (recommend.into_query(), groups)
    }
}

/// `POST /collections/{name}/points/recommend/batch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequestBatch {
    pub searches: Vec<RecommendRequest>,
}

/// `POST /collections/{name}/points/search/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequestBatch {
    pub searches: Vec<SearchRequest>,
}

/// `POST /collections/{name}/facet`: counts of the values of a payload key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacetRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    pub key: String,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Exact counts (default false: estimated from the indexes when a filter has conditions
    /// they cannot answer exactly).
    #[serde(default)]
    pub exact: Option<bool>,
}

/// A facet value: keyword, integer or bool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FacetValue {
    Bool(bool),
    Integer(i64),
    Keyword(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetValueHit {
    pub value: FacetValue,
    pub count: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FacetResponse {
    pub hits: Vec<FacetValueHit>,
}

fn default_query_limit() -> usize {
    DEFAULT_QUERY_LIMIT
}

fn default_group_size() -> usize {
    3
}

/// Accepts a single object or a list of them (and `null` for none).
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(Box<T>),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(one)) => vec![*one],
    })
}

/// Treats `null` as the type's default (the Python client sends `"negative": null`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(v: serde_json::Value) -> Query {
        serde_json::from_value::<QueryInterface>(v)
            .unwrap()
            .into_query()
    }

    #[test]
    fn query_forms_parse() {
        assert_eq!(
            query(json!([1, 2.5])),
            Query::Nearest(NearestQuery {
                nearest: VectorInput::Dense(vec![1.0, 2.5]),
                mmr: None
            })
        );
        assert!(matches!(
            query(json!(7)),
            Query::Nearest(NearestQuery {
                nearest: VectorInput::Id(PointId::Num(7)),
                ..
            })
        ));
        assert!(matches!(
            query(json!({"nearest": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"})),
            Query::Nearest(NearestQuery {
                nearest: VectorInput::Id(PointId::Uuid(_)),
                ..
            })
        ));
        match query(json!({"recommend": {"positive": [1, [0.5, 0.5]], "strategy": "best_score"}})) {
            Query::Recommend(r) => {
                assert_eq!(r.recommend.positive.len(), 2);
                assert_eq!(r.recommend.strategy, Some(RecommendStrategy::BestScore));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            query(json!({"order_by": "price"})),
            Query::OrderBy(_)
        ));
        assert!(matches!(
            query(json!({"order_by": {"key": "price", "direction": "desc", "start_from": 3}})),
            Query::OrderBy(_)
        ));
        assert!(matches!(query(json!({"fusion": "rrf"})), Query::Fusion(_)));
        assert!(matches!(query(json!({"rrf": {"k": 60}})), Query::Rrf(_)));
        assert!(matches!(
            query(json!({"sample": "random"})),
            Query::Sample(_)
        ));
        match query(
            json!({"discover": {"target": 1, "context": {"positive": 2, "negative": [0.5]}}}),
        ) {
            Query::Discover(d) => assert_eq!(d.discover.context.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            query(json!({"context": [{"positive": 2, "negative": 3}, {"positive": 4, "negative": 5}]})),
            Query::Context(c) if c.context.len() == 2
        ));
        match query(json!({"formula": {"sum": ["$score", 1]}, "defaults": {"x": 2}})) {
            Query::Formula(f) => assert_eq!(f.defaults.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(serde_json::from_value::<QueryInterface>(json!({"formula": {"nope": 1}})).is_err());
        // Unknown forms parse as unsupported vector input, to be refused with a message.
        assert!(matches!(
            query(json!({"relevance_feedback": {}})),
            Query::Nearest(NearestQuery {
                nearest: VectorInput::Unsupported(_),
                ..
            })
        ));
    }

    #[test]
    fn prefetch_is_one_or_many_and_unknown_fields_are_refused() {
        let one: QueryRequest =
            serde_json::from_value(json!({"prefetch": {"query": [1.0], "limit": 5}})).unwrap();
        assert_eq!(one.prefetch.len(), 1);
        let many: QueryRequest = serde_json::from_value(
            json!({"prefetch": [{"query": [1.0]}, {"prefetch": {"query": 3}}], "query": {"fusion": "rrf"}}),
        )
        .unwrap();
        assert_eq!(many.prefetch.len(), 2);
        assert_eq!(many.prefetch[1].prefetch.len(), 1);
        assert!(serde_json::from_value::<QueryRequest>(json!({"limt": 3})).is_err());
    }

    #[test]
    fn recommend_accepts_null_lists() {
        let r: RecommendRequest =
            serde_json::from_value(json!({"positive": [1], "negative": null, "limit": 3})).unwrap();
        assert!(r.negative.is_empty());
        assert_eq!(r.limit, 3);
    }
}
