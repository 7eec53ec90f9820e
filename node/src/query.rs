//! Query features shared by the REST and gRPC servers: the Query API (nearest by vector or
//! point id, optionally re-ranked by MMR, recommend, order by, fusion or formula rescoring of
//! prefetches, random sample), the legacy recommend and batch endpoints, and grouping by a
//! payload key.
//!
//! Everything works on a [`Collection`] through its public read operations (search, retrieve,
//! scroll); the [`Engine`] is only used to find other collections (`lookup_from`,
//! `with_lookup`). Requests and answers are the types of [`crate::types::query`].
//!
//! Scores follow Qdrant: nearest queries keep the collection's convention (Cosine/Dot higher
//! is better, Euclid/Manhattan are distances); recommend `best_score`/`sum_scores`, fusion and
//! the rest are higher-is-better.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rand::seq::SliceRandom;

use crate::collection::Collection;
use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::filter::Filter;
use crate::payload::JsonPath;
use crate::shard::Projection;
use crate::types::*;

/// Page size used when a query must look at every matching point.
const SCAN_PAGE: usize = 1024;
/// Default `k` of reciprocal rank fusion, as in Qdrant.
pub const DEFAULT_RRF_K: usize = 2;

/// Runs a Query API request against collection `collection` (a name or alias).
pub fn query(
    engine: &Engine,
    collection: &str,
    request: QueryRequest,
    read: ReadConsistency,
) -> Result<Vec<ScoredPoint>> {
    Planner::new(engine, collection, read)?.query(request)
}

/// Runs several queries; the first failure fails the batch.
pub fn query_batch(
    engine: &Engine,
    collection: &str,
    requests: Vec<QueryRequest>,
    read: ReadConsistency,
) -> Result<Vec<Vec<ScoredPoint>>> {
    let planner = Planner::new(engine, collection, read)?;
    requests.into_iter().map(|r| planner.query(r)).collect()
}

/// Runs a query and groups its results by a payload key.
pub fn query_groups(
    engine: &Engine,
    collection: &str,
    request: QueryGroupsRequest,
    read: ReadConsistency,
) -> Result<GroupsResult> {
    let (query, groups) = request.split();
    Planner::new(engine, collection, read)?.groups(query, groups)
}

/// Several plain searches; the first failure fails the batch.
pub fn search_batch(
    engine: &Engine,
    collection: &str,
    requests: &[SearchRequest],
    read: ReadConsistency,
) -> Result<Vec<Vec<ScoredPoint>>> {
    let collection = engine.collection(collection)?;
    requests
        .iter()
        .map(|r| collection.search(r, read))
        .collect()
}

/// A plain search grouped by a payload key.
pub fn search_groups(
    engine: &Engine,
    collection: &str,
    request: SearchGroupsRequest,
    read: ReadConsistency,
) -> Result<GroupsResult> {
    let query = QueryRequest {
        query: Some(QueryInterface::Nearest(match &request.vector {
            NamedVector::Sparse { vector, .. } => VectorInput::Sparse(vector.clone()),
            NamedVector::Multi { vector, .. } => VectorInput::Multi(vector.clone()),
            dense => VectorInput::Dense(dense.dense().unwrap_or_default().to_vec()),
        })),
        using: Some(request.vector.name().to_string()),
        filter: request.filter,
        params: request.params,
        score_threshold: request.score_threshold,
        with_vector: request.with_vector,
        with_payload: request.with_payload,
        ..QueryRequest::default()
    };
    let groups = GroupParams {
        group_by: request.group_by,
        group_size: request.group_size,
        limit: request.limit,
        with_lookup: request.with_lookup,
    };
    Planner::new(engine, collection, read)?.groups(query, groups)
}

/// Legacy recommend: points close to the positive examples and far from the negative ones.
pub fn recommend(
    engine: &Engine,
    collection: &str,
    request: RecommendRequest,
    read: ReadConsistency,
) -> Result<Vec<ScoredPoint>> {
    Planner::new(engine, collection, read)?.query(request.into_query())
}

pub fn recommend_batch(
    engine: &Engine,
    collection: &str,
    requests: Vec<RecommendRequest>,
    read: ReadConsistency,
) -> Result<Vec<Vec<ScoredPoint>>> {
    let planner = Planner::new(engine, collection, read)?;
    requests
        .into_iter()
        .map(|r| planner.query(r.into_query()))
        .collect()
}

/// Legacy recommend, grouped by a payload key.
pub fn recommend_groups(
    engine: &Engine,
    collection: &str,
    request: RecommendGroupsRequest,
    read: ReadConsistency,
) -> Result<GroupsResult> {
    let (query, groups) = request.split();
    Planner::new(engine, collection, read)?.groups(query, groups)
}

/// An intermediate result: a point and its score, before payloads and vectors are attached.
#[derive(Debug, Clone)]
struct Hit {
    id: PointId,
    version: u64,
    score: f32,
    order_value: Option<OrderValue>,
}

/// Hits best first, and whether a higher score is better.
struct Ranked {
    hits: Vec<Hit>,
    higher_is_better: bool,
}

/// One level of a query: the top-level request or a prefetch.
struct Stage<'r> {
    prefetch: &'r [Prefetch],
    query: Option<Query>,
    using: &'r str,
    filter: Option<Filter>,
    params: Option<&'r SearchParams>,
    score_threshold: Option<f32>,
    lookup_from: Option<&'r LookupLocation>,
}

struct Planner<'e> {
    engine: &'e Engine,
    collection: Arc<Collection>,
    distances: BTreeMap<String, Distance>,
    /// Names of the sparse vectors.
    sparse: HashSet<String>,
    /// Names of the multivectors.
    multi: HashSet<String>,
    /// The consistency every read of the query asks of the shards.
    read: ReadConsistency,
}

impl<'e> Planner<'e> {
    fn new(engine: &'e Engine, collection: &str, read: ReadConsistency) -> Result<Self> {
        let collection = engine.collection(collection)?;
        let params = collection.config().params;
        let named = params.vectors.named();
        let distances = named
            .iter()
            .map(|(name, params)| (name.clone(), params.distance))
            .collect();
        let multi = named
            .into_iter()
            .filter(|(_, params)| params.multivector_config.is_some())
            .map(|(name, _)| name)
            .collect();
        let sparse = params
            .sparse_vectors
            .unwrap_or_default()
            .into_keys()
            .collect();
        Ok(Planner {
            engine,
            collection,
            distances,
            sparse,
            multi,
            read,
        })
    }

    fn query(&self, request: QueryRequest) -> Result<Vec<ScoredPoint>> {
        let limit = request.limit.unwrap_or(DEFAULT_QUERY_LIMIT);
        let offset = request.offset.unwrap_or(0);
        let ranked = self.run_request(&request, offset + limit)?;
        let hits: Vec<Hit> = ranked.hits.into_iter().skip(offset).take(limit).collect();
        self.project(
            hits,
            &request.with_payload.unwrap_or_default(),
            &request.with_vector.unwrap_or_default(),
        )
    }

    fn run_request(&self, request: &QueryRequest, top: usize) -> Result<Ranked> {
        let stage = Stage {
            prefetch: &request.prefetch,
            query: request.query.clone().map(QueryInterface::into_query),
            using: request.using.as_deref().unwrap_or(DEFAULT_VECTOR_NAME),
            filter: request.filter.clone(),
            params: request.params.as_ref(),
            score_threshold: request.score_threshold,
            lookup_from: request.lookup_from.as_ref(),
        };
        self.run(&stage, top)
    }

    /// Best `top` hits of one stage, prefetches first.
    fn run(&self, stage: &Stage, top: usize) -> Result<Ranked> {
        let ranked = if stage.prefetch.is_empty() {
            self.run_leaf(stage, top)?
        } else {
            let mut sources = Vec::with_capacity(stage.prefetch.len());
            for prefetch in stage.prefetch {
                let sub = Stage {
                    prefetch: &prefetch.prefetch,
                    query: prefetch.query.clone().map(QueryInterface::into_query),
                    using: prefetch.using.as_deref().unwrap_or(DEFAULT_VECTOR_NAME),
                    filter: merge_filters(stage.filter.as_ref(), prefetch.filter.as_ref())?,
                    params: prefetch.params.as_ref(),
                    score_threshold: prefetch.score_threshold,
                    lookup_from: prefetch.lookup_from.as_ref(),
                };
                sources.push(self.run(&sub, prefetch.limit.unwrap_or(DEFAULT_QUERY_LIMIT))?);
            }
            self.combine(stage, sources, top)?
        };
        Ok(apply_threshold(ranked, stage.score_threshold, top))
    }

    /// A stage without prefetches: searches or scans the collection.
    fn run_leaf(&self, stage: &Stage, top: usize) -> Result<Ranked> {
        match &stage.query {
            None => self.by_id_order(stage.filter.as_ref(), top),
            Some(Query::Nearest(nearest)) if self.sparse.contains(stage.using) => {
                reject_mmr(nearest)?;
                let (vector, exclude) = self.resolve_sparse(&nearest.nearest, stage)?;
                self.search_named(stage, self.named_sparse(stage, vector), &exclude, None, top)
            }
            Some(Query::Nearest(nearest)) if self.multi.contains(stage.using) => {
                reject_mmr(nearest)?;
                let (vector, exclude) = self.resolve_multi(&nearest.nearest, stage)?;
                self.search_named(stage, self.named_multi(stage, vector), &exclude, None, top)
            }
            Some(Query::Nearest(nearest)) => {
                let (vector, exclude) = self.resolve(&nearest.nearest, stage)?;
                match &nearest.mmr {
                    Some(mmr) => self.nearest_mmr(stage, vector, &exclude, mmr, top),
                    None => self.nearest(stage, vector, &exclude, top),
                }
            }
            Some(Query::Recommend(_) | Query::Discover(_) | Query::Context(_))
                if self.sparse.contains(stage.using) || self.multi.contains(stage.using) =>
            {
                Err(examples_unsupported())
            }
            Some(Query::Recommend(reco)) => {
                let strategy = reco.recommend.strategy.unwrap_or_default();
                let (positive, negative, exclude) = self.examples(&reco.recommend, stage)?;
                match strategy {
                    RecommendStrategy::AverageVector => {
                        let vector = average_vector(&positive, &negative)?;
                        self.nearest(stage, vector, &exclude, top)
                    }
                    _ => {
                        let scorer = RecommendScorer::new(
                            strategy,
                            self.distance(stage.using)?,
                            positive,
                            negative,
                        )?;
                        self.score_all(stage, &exclude, |v| scorer.score(v), top)
                    }
                }
            }
            Some(Query::Discover(DiscoverQuery { discover })) => {
                let (scorer, exclude) =
                    self.context_scorer(Some(&discover.target), &discover.context, stage)?;
                self.score_all(stage, &exclude, |v| scorer.score(v), top)
            }
            Some(Query::Context(ContextQuery { context })) => {
                let (scorer, exclude) = self.context_scorer(None, context, stage)?;
                self.score_all(stage, &exclude, |v| scorer.score(v), top)
            }
            Some(Query::OrderBy(order)) => {
                let order = order.order_by.to_order_by();
                self.require_order_index(&order.key)?;
                let mut records = Vec::new();
                self.scan(
                    stage.filter.as_ref(),
                    true,
                    &WithVector::Bool(false),
                    |record| records.push((record.id, record.payload.clone().unwrap_or_default())),
                )?;
                order_hits(records, &order, top)
            }
            Some(Query::Sample(_)) => {
                let mut ids = Vec::new();
                self.scan(
                    stage.filter.as_ref(),
                    false,
                    &WithVector::Bool(false),
                    |record| ids.push(record.id),
                )?;
                Ok(sample(ids, top))
            }
            Some(Query::Fusion(_)) | Some(Query::Rrf(_)) => Err(GrapeError::bad_input(
                "Fusion queries need at least one prefetch",
            )),
            Some(Query::Formula(_)) => Err(GrapeError::bad_input(
                "Formula queries need at least one prefetch",
            )),
        }
    }

    /// Combines the results of prefetches: fusion, or rescoring the union of their points.
    fn combine(&self, stage: &Stage, sources: Vec<Ranked>, top: usize) -> Result<Ranked> {
        match &stage.query {
            Some(Query::Fusion(FusionQuery {
                fusion: Fusion::Rrf,
            })) => Ok(rrf(sources, &Rrf::default(), top)),
            Some(Query::Rrf(RrfQuery { rrf: params })) => Ok(rrf(sources, params, top)),
            Some(Query::Fusion(FusionQuery {
                fusion: Fusion::Dbsf,
            })) => Ok(dbsf(sources, top)),
            Some(Query::Formula(formula)) => self.formula(formula, sources, top),
            None => {
                if sources.len() == 1 {
                    let mut only = sources.into_iter().next().expect("one source");
                    only.hits.truncate(top);
                    Ok(only)
                } else {
                    Err(GrapeError::bad_input(
                        "A query is needed to combine several prefetches (e.g. {\"fusion\": \"rrf\"})",
                    ))
                }
            }
            Some(query) => self.rescore(stage, query, union(sources), top),
        }
    }

    /// Scores the candidates of prefetches with the stage's own query.
    fn rescore(
        &self,
        stage: &Stage,
        query: &Query,
        candidates: Vec<Hit>,
        top: usize,
    ) -> Result<Ranked> {
        let versions: HashMap<PointId, u64> =
            candidates.iter().map(|h| (h.id, h.version)).collect();
        let ids: Vec<PointId> = candidates.iter().map(|h| h.id).collect();
        match query {
            Query::Nearest(nearest) if self.sparse.contains(stage.using) => {
                reject_mmr(nearest)?;
                let (vector, exclude) = self.resolve_sparse(&nearest.nearest, stage)?;
                let named = self.named_sparse(stage, vector);
                self.search_named(stage, named, &exclude, Some(&ids), top)
            }
            Query::Nearest(nearest) if self.multi.contains(stage.using) => {
                reject_mmr(nearest)?;
                let (vector, exclude) = self.resolve_multi(&nearest.nearest, stage)?;
                let named = self.named_multi(stage, vector);
                self.search_named(stage, named, &exclude, Some(&ids), top)
            }
            Query::Recommend(_) | Query::Discover(_) | Query::Context(_)
                if self.sparse.contains(stage.using) || self.multi.contains(stage.using) =>
            {
                Err(examples_unsupported())
            }
            Query::Nearest(nearest) => {
                let distance = self.distance(stage.using)?;
                let (mut vector, exclude) = self.resolve(&nearest.nearest, stage)?;
                preprocess(distance, &mut vector);
                let records = self.with_vectors(&ids, stage.using)?;
                let hits = records
                    .iter()
                    .filter(|r| !exclude.contains(&r.id))
                    .filter_map(|r| {
                        let v = vector_of(r, stage.using)?;
                        Some(Hit {
                            version: versions.get(&r.id).copied().unwrap_or(0),
                            ..hit(r.id, score(distance, &vector, v))
                        })
                    })
                    .collect::<Vec<_>>();
                match &nearest.mmr {
                    Some(mmr) => {
                        let all = hits.len();
                        let ranked = rank(hits, distance.higher_is_better(), all);
                        self.rerank_mmr(stage, &vector, ranked, mmr, top)
                    }
                    None => Ok(rank(hits, distance.higher_is_better(), top)),
                }
            }
            Query::Recommend(reco) => {
                let strategy = reco.recommend.strategy.unwrap_or_default();
                let distance = self.distance(stage.using)?;
                let (positive, negative, exclude) = self.examples(&reco.recommend, stage)?;
                let records = self.with_vectors(&ids, stage.using)?;
                let hits: Vec<Hit>;
                let higher_is_better;
                if strategy == RecommendStrategy::AverageVector {
                    let mut vector = average_vector(&positive, &negative)?;
                    preprocess(distance, &mut vector);
                    higher_is_better = distance.higher_is_better();
                    hits = records
                        .iter()
                        .filter(|r| !exclude.contains(&r.id))
                        .filter_map(|r| {
                            Some(hit(
                                r.id,
                                score(distance, &vector, vector_of(r, stage.using)?),
                            ))
                        })
                        .collect();
                } else {
                    let scorer = RecommendScorer::new(strategy, distance, positive, negative)?;
                    higher_is_better = true;
                    hits = records
                        .iter()
                        .filter(|r| !exclude.contains(&r.id))
                        .filter_map(|r| Some(hit(r.id, scorer.score(vector_of(r, stage.using)?))))
                        .collect();
                }
                let hits = hits
                    .into_iter()
                    .map(|h| Hit {
                        version: versions.get(&h.id).copied().unwrap_or(0),
                        ..h
                    })
                    .collect();
                Ok(rank(hits, higher_is_better, top))
            }
            Query::OrderBy(order) => {
                let order = order.order_by.to_order_by();
                self.require_order_index(&order.key)?;
                let projection = Projection {
                    with_payload: WithPayload::Bool(true),
                    with_vector: WithVector::Bool(false),
                };
                let records = self
                    .collection
                    .retrieve(&ids, &projection, self.read)?
                    .into_iter()
                    .map(|r| (r.id, r.payload.unwrap_or_default()))
                    .collect();
                order_hits(records, &order, top)
            }
            Query::Sample(_) => Ok(sample(ids, top)),
            Query::Discover(DiscoverQuery { discover }) => {
                let (scorer, exclude) =
                    self.context_scorer(Some(&discover.target), &discover.context, stage)?;
                self.score_candidates(stage, &ids, &versions, &exclude, |v| scorer.score(v), top)
            }
            Query::Context(ContextQuery { context }) => {
                let (scorer, exclude) = self.context_scorer(None, context, stage)?;
                self.score_candidates(stage, &ids, &versions, &exclude, |v| scorer.score(v), top)
            }
            Query::Fusion(_) | Query::Rrf(_) | Query::Formula(_) => Err(GrapeError::Internal(
                "fusion and formula queries are combined, not rescored".to_string(),
            )),
        }
    }

    /// Nearest neighbours of `vector` in the stage's vector space, without the excluded ids.
    fn nearest(
        &self,
        stage: &Stage,
        vector: Vec<f32>,
        exclude: &HashSet<PointId>,
        top: usize,
    ) -> Result<Ranked> {
        let distance = self.distance(stage.using)?;
        let vector = if stage.using.is_empty() {
            NamedVector::Default(vector)
        } else {
            NamedVector::Named {
                name: stage.using.to_string(),
                vector,
            }
        };
        let filter = stage.filter.clone();
        self.ranked_search(
            stage,
            vector,
            filter,
            exclude,
            top,
            distance.higher_is_better(),
        )
    }

    /// The collection's `top` hits for `vector` under `filter`, leaving out the excluded ids.
    fn ranked_search(
        &self,
        stage: &Stage,
        vector: NamedVector,
        filter: Option<Filter>,
        exclude: &HashSet<PointId>,
        top: usize,
        higher_is_better: bool,
    ) -> Result<Ranked> {
        let request = SearchRequest {
            vector,
            filter,
            params: stage.params.cloned(),
            limit: top + exclude.len(),
            offset: None,
            with_payload: Some(WithPayload::Bool(false)),
            with_vector: Some(WithVector::Bool(false)),
            score_threshold: stage.score_threshold,
        };
        let hits = self
            .collection
            .search(&request, self.read)?
            .into_iter()
            .filter(|p| !exclude.contains(&p.id))
            .map(|p| Hit {
                id: p.id,
                version: p.version,
                score: p.score,
                order_value: None,
            })
            .take(top)
            .collect();
        Ok(Ranked {
            hits,
            higher_is_better,
        })
    }

    fn named_sparse(&self, stage: &Stage, vector: SparseVector) -> NamedVector {
        NamedVector::Sparse {
            name: stage.using.to_string(),
            vector,
        }
    }

    fn named_multi(&self, stage: &Stage, vector: Vec<Vec<f32>>) -> NamedVector {
        NamedVector::Multi {
            name: stage.using.to_string(),
            vector,
        }
    }

    /// Points by a sparse vector's dot product (only those sharing a dimension with it) or a
    /// multivector's MaxSim — both higher-is-better — without the excluded ids, and among
    /// `within` when given (rescoring prefetches).
    fn search_named(
        &self,
        stage: &Stage,
        vector: NamedVector,
        exclude: &HashSet<PointId>,
        within: Option<&[PointId]>,
        top: usize,
    ) -> Result<Ranked> {
        let filter = match within {
            Some(ids) => merge_filters(stage.filter.as_ref(), Some(&has_id(ids)?))?,
            None => stage.filter.clone(),
        };
        self.ranked_search(stage, vector, filter, exclude, top, true)
    }

    /// The sparse query vector of a nearest query on a sparse vector, and the ids to leave
    /// out (as for dense vectors).
    fn resolve_sparse(
        &self,
        input: &VectorInput,
        stage: &Stage,
    ) -> Result<(SparseVector, HashSet<PointId>)> {
        let mut exclude = HashSet::new();
        let vector = match input {
            VectorInput::Sparse(v) => v.clone(),
            VectorInput::Id(id) => {
                let (collection, name) = match stage.lookup_from {
                    Some(lookup) => (
                        self.engine.collection(&lookup.collection)?,
                        lookup.vector.as_deref().unwrap_or(stage.using),
                    ),
                    None => {
                        exclude.insert(*id);
                        (self.collection.clone(), stage.using)
                    }
                };
                stored_sparse_vector(&collection, *id, name, self.read)?
            }
            VectorInput::Dense(_) | VectorInput::Multi(_) => {
                return Err(GrapeError::bad_input(format!(
                    "Wrong vector type: `{}` is a sparse vector, a dense one was given",
                    stage.using
                )))
            }
            VectorInput::Unsupported(value) => return Err(unsupported_input(value)),
        };
        Ok((vector, exclude))
    }

    /// Scores every matching point with a vector in the stage's space (higher is better).
    fn score_all(
        &self,
        stage: &Stage,
        exclude: &HashSet<PointId>,
        score: impl Fn(&[f32]) -> f32,
        top: usize,
    ) -> Result<Ranked> {
        let mut hits = Vec::new();
        self.scan(
            stage.filter.as_ref(),
            false,
            &WithVector::Names(vec![stage.using.to_string()]),
            |record| {
                if exclude.contains(&record.id) {
                    return;
                }
                if let Some(v) = vector_of(record, stage.using) {
                    hits.push(hit(record.id, score(v)));
                }
            },
        )?;
        Ok(rank(hits, true, top))
    }

    /// Scores the candidates of prefetches (higher is better).
    fn score_candidates(
        &self,
        stage: &Stage,
        ids: &[PointId],
        versions: &HashMap<PointId, u64>,
        exclude: &HashSet<PointId>,
        score: impl Fn(&[f32]) -> f32,
        top: usize,
    ) -> Result<Ranked> {
        let records = self.with_vectors(ids, stage.using)?;
        let hits = records
            .iter()
            .filter(|r| !exclude.contains(&r.id))
            .filter_map(|r| {
                Some(Hit {
                    version: versions.get(&r.id).copied().unwrap_or(0),
                    ..hit(r.id, score(vector_of(r, stage.using)?))
                })
            })
            .collect();
        Ok(rank(hits, true, top))
    }

    /// The scorer of a discover (with a target) or context query, and the example ids to
    /// leave out of results.
    fn context_scorer(
        &self,
        target: Option<&VectorInput>,
        pairs: &[ContextPair],
        stage: &Stage,
    ) -> Result<(ContextScorer, HashSet<PointId>)> {
        let mut exclude = HashSet::new();
        let target = target
            .map(|t| self.vector_input(t, stage, &mut exclude))
            .transpose()?;
        let pairs = pairs
            .iter()
            .map(|pair| {
                Ok((
                    self.vector_input(&pair.positive, stage, &mut exclude)?,
                    self.vector_input(&pair.negative, stage, &mut exclude)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if target.is_none() && pairs.is_empty() {
            return Err(GrapeError::bad_input(
                "Bad request: a context query needs at least one pair",
            ));
        }
        let scorer = ContextScorer {
            distance: self.distance(stage.using)?,
            target,
            pairs,
        };
        Ok((scorer, exclude))
    }

    /// The multivector of a nearest query on a multivector (a single dense vector counts as
    /// a multivector of one), and the ids to leave out.
    fn resolve_multi(
        &self,
        input: &VectorInput,
        stage: &Stage,
    ) -> Result<(Vec<Vec<f32>>, HashSet<PointId>)> {
        let mut exclude = HashSet::new();
        let vector = match input {
            VectorInput::Multi(v) => v.clone(),
            VectorInput::Dense(v) => vec![v.clone()],
            VectorInput::Id(id) => {
                let (collection, name) = match stage.lookup_from {
                    Some(lookup) => (
                        self.engine.collection(&lookup.collection)?,
                        lookup.vector.as_deref().unwrap_or(stage.using),
                    ),
                    None => {
                        exclude.insert(*id);
                        (self.collection.clone(), stage.using)
                    }
                };
                stored_multivector(&collection, *id, name, self.read)?
            }
            VectorInput::Sparse(_) => {
                return Err(GrapeError::bad_input(format!(
                    "Wrong vector type: {} is a multivector, a sparse one was given",
                    shown_name(stage.using)
                )))
            }
            VectorInput::Unsupported(value) => return Err(unsupported_input(value)),
        };
        Ok((vector, exclude))
    }

    /// Points in id order (a query without `query`), scored 0.
    fn by_id_order(&self, filter: Option<&Filter>, top: usize) -> Result<Ranked> {
        let page = self.collection.scroll(
            &ScrollRequest {
                offset: None,
                limit: Some(top),
                filter: filter.cloned(),
                with_payload: Some(WithPayload::Bool(false)),
                with_vector: Some(WithVector::Bool(false)),
            },
            self.read,
        )?;
        Ok(Ranked {
            hits: page.points.into_iter().map(|r| hit(r.id, 0.0)).collect(),
            higher_is_better: true,
        })
    }

    /// The query vector of a nearest query, and the ids to leave out of its results (a point
    /// given by id is not its own neighbour, unless it was looked up in another collection).
    fn resolve(&self, input: &VectorInput, stage: &Stage) -> Result<(Vec<f32>, HashSet<PointId>)> {
        let mut exclude = HashSet::new();
        let vector = self.vector_input(input, stage, &mut exclude)?;
        Ok((vector, exclude))
    }

    /// Example vectors of a recommendation, and the example ids to leave out of results.
    #[allow(clippy::type_complexity)]
    fn examples(
        &self,
        input: &RecommendInput,
        stage: &Stage,
    ) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>, HashSet<PointId>)> {
        let mut exclude = HashSet::new();
        let positive = input
            .positive
            .iter()
            .map(|v| self.vector_input(v, stage, &mut exclude))
            .collect::<Result<Vec<_>>>()?;
        let negative = input
            .negative
            .iter()
            .map(|v| self.vector_input(v, stage, &mut exclude))
            .collect::<Result<Vec<_>>>()?;
        Ok((positive, negative, exclude))
    }

    fn vector_input(
        &self,
        input: &VectorInput,
        stage: &Stage,
        exclude: &mut HashSet<PointId>,
    ) -> Result<Vec<f32>> {
        match input {
            VectorInput::Dense(v) => {
                let mut v = v.clone();
                if let Ok(distance) = self.distance(stage.using) {
                    preprocess(distance, &mut v);
                }
                Ok(v)
            }
            VectorInput::Id(id) => match stage.lookup_from {
                Some(lookup) => {
                    let other = self.engine.collection(&lookup.collection)?;
                    let name = lookup.vector.as_deref().unwrap_or(stage.using);
                    stored_vector(&other, *id, name, self.read)
                }
                None => {
                    exclude.insert(*id);
                    stored_vector(&self.collection, *id, stage.using, self.read)
                }
            },
            VectorInput::Sparse(_) => Err(GrapeError::bad_input(format!(
                "Wrong vector type: {} is not a sparse vector, a sparse one was given",
                shown_name(stage.using)
            ))),
            VectorInput::Multi(_) => Err(GrapeError::bad_input(format!(
                "Wrong vector type: {} is not a multivector, a multivector was given",
                shown_name(stage.using)
            ))),
            VectorInput::Unsupported(value) => Err(unsupported_input(value)),
        }
    }

    fn distance(&self, using: &str) -> Result<Distance> {
        self.distances.get(using).copied().ok_or_else(|| {
            GrapeError::bad_input(format!(
                "Not existing vector name error: {}",
                shown_name(using)
            ))
        })
    }

    fn with_vectors(&self, ids: &[PointId], using: &str) -> Result<Vec<Record>> {
        self.collection.retrieve(
            ids,
            &Projection {
                with_payload: WithPayload::Bool(false),
                with_vector: WithVector::Names(vec![using.to_string()]),
            },
            self.read,
        )
    }

    /// Calls `f` on every point matching `filter`, in id order, page by page.
    fn scan(
        &self,
        filter: Option<&Filter>,
        with_payload: bool,
        with_vector: &WithVector,
        mut f: impl FnMut(&Record),
    ) -> Result<()> {
        let mut offset = None;
        loop {
            let page = self.collection.scroll(
                &ScrollRequest {
                    offset,
                    limit: Some(SCAN_PAGE),
                    filter: filter.cloned(),
                    with_payload: Some(WithPayload::Bool(with_payload)),
                    with_vector: Some(with_vector.clone()),
                },
                self.read,
            )?;
            page.points.iter().for_each(&mut f);
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Attaches payloads and vectors as asked.
    fn project(
        &self,
        hits: Vec<Hit>,
        with_payload: &WithPayload,
        with_vector: &WithVector,
    ) -> Result<Vec<ScoredPoint>> {
        let wants_payload = !matches!(with_payload, WithPayload::Bool(false));
        let wants_vector = !matches!(with_vector, WithVector::Bool(false));
        let mut records: HashMap<PointId, Record> = if wants_payload || wants_vector {
            let ids: Vec<PointId> = hits.iter().map(|h| h.id).collect();
            let projection = Projection {
                with_payload: with_payload.clone(),
                with_vector: with_vector.clone(),
            };
            self.collection
                .retrieve(&ids, &projection, self.read)?
                .into_iter()
                .map(|r| (r.id, r))
                .collect()
        } else {
            HashMap::new()
        };
        Ok(hits
            .into_iter()
            .map(|h| {
                let record = records.remove(&h.id);
                ScoredPoint {
                    id: h.id,
                    version: h.version,
                    score: h.score,
                    payload: record.as_ref().and_then(|r| r.payload.clone()),
                    vector: record.and_then(|r| r.vector),
                    order_value: h.order_value,
                }
            })
            .collect())
    }

    fn require_order_index(&self, key: &str) -> Result<()> {
        crate::order_by::require_range_index(&self.collection, key).map(|_| ())
    }

    /// Runs `query` with growing limits until `limit` groups of `group_size` are filled or
    /// the results run out; groups are ordered by their best hit.
    fn groups(&self, query: QueryRequest, params: GroupParams) -> Result<GroupsResult> {
        if params.group_size == 0 || params.limit == 0 {
            return Err(GrapeError::bad_input(
                "Validation error: group_size and limit must be at least 1",
            ));
        }
        let path = parse_path(&params.group_by)?;
        let total = self.collection.points_count()?.max(1);
        let mut top = (params.limit * params.group_size * 2).max(DEFAULT_QUERY_LIMIT);
        let groups = loop {
            let ranked = self.run_request(&query, top)?;
            let exhausted = ranked.hits.len() < top || top >= total;
            let groups = self.group_hits(ranked.hits, &path, &params)?;
            let full = groups.len() >= params.limit
                && groups
                    .iter()
                    .all(|(_, hits)| hits.len() >= params.group_size);
            if full || exhausted {
                break groups;
            }
            top = top.saturating_mul(4).min(total);
        };
        let with_payload = query.with_payload.clone().unwrap_or_default();
        let with_vector = query.with_vector.clone().unwrap_or_default();
        let lookup = params
            .with_lookup
            .as_ref()
            .map(WithLookupInterface::to_lookup);
        let lookup_collection = match &lookup {
            Some(l) => Some(self.engine.collection(&l.collection)?),
            None => None,
        };
        let groups = groups
            .into_iter()
            .map(|(id, hits)| {
                let lookup_record = match (&lookup, &lookup_collection, group_point_id(&id)) {
                    (Some(l), Some(c), Some(pid)) => {
                        let projection = Projection {
                            with_payload: l.with_payload.clone().unwrap_or(WithPayload::Bool(true)),
                            with_vector: l.with_vectors.clone().unwrap_or_default(),
                        };
                        c.retrieve(&[pid], &projection, self.read)?
                            .into_iter()
                            .next()
                    }
                    _ => None,
                };
                Ok(PointGroup {
                    hits: self.project(hits, &with_payload, &with_vector)?,
                    id,
                    lookup: lookup_record,
                })
            })
            .collect::<Result<_>>()?;
        Ok(GroupsResult { groups })
    }

    /// Assigns hits (best first) to the groups named by their payload values.
    fn group_hits(
        &self,
        hits: Vec<Hit>,
        path: &JsonPath,
        params: &GroupParams,
    ) -> Result<Vec<(GroupId, Vec<Hit>)>> {
        let ids: Vec<PointId> = hits.iter().map(|h| h.id).collect();
        let projection = Projection {
            with_payload: WithPayload::Bool(true),
            with_vector: WithVector::Bool(false),
        };
        let payloads: HashMap<PointId, Payload> = self
            .collection
            .retrieve(&ids, &projection, self.read)?
            .into_iter()
            .map(|r| (r.id, r.payload.unwrap_or_default()))
            .collect();
        let mut groups: Vec<(GroupId, Vec<Hit>)> = Vec::new();
        let mut index: HashMap<GroupId, usize> = HashMap::new();
        for hit in hits {
            let Some(payload) = payloads.get(&hit.id) else {
                continue;
            };
            let mut seen = HashSet::new();
            for value in flat_values(path, payload) {
                let Some(group) = group_id(value) else {
                    continue;
                };
                if !seen.insert(group.clone()) {
                    continue;
                }
                let slot = match index.get(&group) {
                    Some(&i) => i,
                    None => {
                        if groups.len() >= params.limit {
                            continue;
                        }
                        index.insert(group.clone(), groups.len());
                        groups.push((group, Vec::new()));
                        groups.len() - 1
                    }
                };
                if groups[slot].1.len() < params.group_size {
                    groups[slot].1.push(hit.clone());
                }
            }
        }
        Ok(groups)
    }
}

fn hit(id: PointId, score: f32) -> Hit {
    Hit {
        id,
        version: 0,
        score,
        order_value: None,
    }
}

/// Sorts best first and keeps `top`.
/// The points of all prefetches, each once (as first seen, with that prefetch's score).
fn union(sources: Vec<Ranked>) -> Vec<Hit> {
    let mut seen = HashSet::new();
    sources
        .into_iter()
        .flat_map(|s| s.hits)
        .filter(|h| seen.insert(h.id))
        .collect()
}

fn rank(mut hits: Vec<Hit>, higher_is_better: bool, top: usize) -> Ranked {
    if higher_is_better {
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    } else {
        hits.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.id.cmp(&b.id)));
    }
    hits.truncate(top);
    Ranked {
        hits,
        higher_is_better,
    }
}

fn apply_threshold(mut ranked: Ranked, threshold: Option<f32>, top: usize) -> Ranked {
    if let Some(t) = threshold {
        let higher = ranked.higher_is_better;
        ranked
            .hits
            .retain(|h| if higher { h.score >= t } else { h.score <= t });
    }
    ranked.hits.truncate(top);
    ranked
}

/// Reciprocal rank fusion: the point at 0-based position `p` of a source with weight `w`
/// gets `1 / ((p + 1) / w + k - 1)` (`1 / (k + p)` for `w = 1`; nothing for `w <= 0`), summed
/// over sources, as Qdrant scores it.
fn rrf(sources: Vec<Ranked>, params: &Rrf, top: usize) -> Ranked {
    let k = params.k.unwrap_or(DEFAULT_RRF_K) as f32;
    let mut fused = Fused::default();
    for (i, source) in sources.into_iter().enumerate() {
        let weight = params
            .weights
            .as_ref()
            .and_then(|w| w.get(i).copied())
            .unwrap_or(1.0);
        for (position, h) in source.hits.into_iter().enumerate() {
            fused.add(h, rrf_score(position, weight, k));
        }
    }
    rank(fused.hits, true, top)
}

pub fn rrf_score(position: usize, weight: f32, k: f32) -> f32 {
    if weight <= 0.0 {
        return 0.0;
    }
    1.0 / ((position as f32 + 1.0) / weight + k - 1.0)
}

/// Distribution-based score fusion: each source's scores are normalized with its mean ± 3
/// sample standard deviations mapped to 0 and 1 (a lone score, or equal ones, become 0.5;
/// distances are negated first), then summed per point.
fn dbsf(sources: Vec<Ranked>, top: usize) -> Ranked {
    let mut fused = Fused::default();
    for source in sources {
        let sign = if source.higher_is_better { 1.0 } else { -1.0 };
        let scores: Vec<f32> = source.hits.iter().map(|h| sign * h.score).collect();
        for (h, s) in source.hits.into_iter().zip(dbsf_normalize(&scores)) {
            fused.add(h, s);
        }
    }
    rank(fused.hits, true, top)
}

pub fn dbsf_normalize(scores: &[f32]) -> Vec<f32> {
    let n = scores.len();
    if n < 2 {
        return vec![0.5; n];
    }
    let mean = scores.iter().sum::<f32>() / n as f32;
    let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / (n - 1) as f32;
    if variance == 0.0 {
        return vec![0.5; n];
    }
    let std = variance.sqrt();
    let low = mean - 3.0 * std;
    scores.iter().map(|s| (s - low) / (6.0 * std)).collect()
}

/// Points of several sources with their summed fusion scores, in order of first sight.
#[derive(Default)]
struct Fused {
    hits: Vec<Hit>,
    index: HashMap<PointId, usize>,
}

impl Fused {
    fn add(&mut self, hit: Hit, score: f32) {
        match self.index.get(&hit.id) {
            Some(&j) => self.hits[j].score += score,
            None => {
                self.index.insert(hit.id, self.hits.len());
                self.hits.push(Hit {
                    score,
                    order_value: None,
                    ..hit
                });
            }
        }
    }
}

fn sample(mut ids: Vec<PointId>, top: usize) -> Ranked {
    ids.shuffle(&mut rand::thread_rng());
    ids.truncate(top);
    Ranked {
        hits: ids.into_iter().map(|id| hit(id, 0.0)).collect(),
        higher_is_better: true,
    }
}

/// Orders points by a numeric or date-time payload value. A point with several values is
/// placed by its smallest (ascending) or largest (descending); points without one are left
/// out, as are those before `start_from`.
fn order_hits(records: Vec<(PointId, Payload)>, order: &OrderBy, top: usize) -> Result<Ranked> {
    let path = parse_path(&order.key)?;
    let descending = order.direction == Some(Direction::Desc);
    let start = order.start_from.as_ref().map(start_value).transpose()?;
    let mut keyed: Vec<(f64, OrderValue, PointId)> = Vec::new();
    for (id, payload) in records {
        let values = flat_values(&path, &payload)
            .filter_map(order_value)
            .filter(|(key, _)| match start {
                Some(s) if descending => *key <= s,
                Some(s) => *key >= s,
                None => true,
            });
        let best = if descending {
            values.max_by(|a, b| a.0.total_cmp(&b.0))
        } else {
            values.min_by(|a, b| a.0.total_cmp(&b.0))
        };
        if let Some((key, value)) = best {
            keyed.push((key, value, id));
        }
    }
    keyed.sort_by(|a, b| {
        let by_key = a.0.total_cmp(&b.0);
        if descending { by_key.reverse() } else { by_key }.then(a.2.cmp(&b.2))
    });
    keyed.truncate(top);
    Ok(Ranked {
        hits: keyed
            .into_iter()
            .map(|(_, value, id)| Hit {
                order_value: Some(value),
                ..hit(id, 0.0)
            })
            .collect(),
        higher_is_better: true,
    })
}

/// A payload value as an order key: numbers, and RFC 3339 date-times (as epoch seconds).
fn order_value(value: &serde_json::Value) -> Option<(f64, OrderValue)> {
    match value {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Some((i as f64, OrderValue::Int(i))),
            None => n.as_f64().map(|f| (f, OrderValue::Float(f))),
        },
        serde_json::Value::String(s) => {
            let t = parse_datetime(s)?;
            Some((t, OrderValue::Float(t)))
        }
        _ => None,
    }
}

fn start_value(start: &StartFrom) -> Result<f64> {
    match start {
        StartFrom::Integer(i) => Ok(*i as f64),
        StartFrom::Float(f) => Ok(*f),
        StartFrom::Datetime(s) => parse_datetime(s)
            .ok_or_else(|| GrapeError::bad_input(format!("invalid date-time in start_from: {s}"))),
    }
}

/// Seconds since the epoch of an RFC 3339 date-time (or a date-time without zone, taken as
/// UTC, or a plain date).
fn parse_datetime(s: &str) -> Option<f64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_micros() as f64 / 1e6);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp() as f64)
}

/// The values at `path`, with arrays flattened one level.
fn flat_values<'a>(
    path: &JsonPath,
    payload: &'a Payload,
) -> impl Iterator<Item = &'a serde_json::Value> {
    path.values(payload).into_iter().flat_map(|v| match v {
        serde_json::Value::Array(items) => items.iter().collect::<Vec<_>>(),
        other => vec![other],
    })
}

fn group_id(value: &serde_json::Value) -> Option<GroupId> {
    match value {
        serde_json::Value::String(s) => Some(GroupId::Keyword(s.clone())),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Some(GroupId::Integer(i)),
            None => n.as_u64().map(GroupId::Unsigned),
        },
        _ => None,
    }
}

/// The point a group id names in a `with_lookup` collection.
fn group_point_id(id: &GroupId) -> Option<PointId> {
    match id {
        GroupId::Integer(i) => u64::try_from(*i).ok().map(PointId::Num),
        GroupId::Unsigned(u) => Some(PointId::Num(*u)),
        GroupId::Keyword(s) => s.parse::<uuid::Uuid>().ok().map(PointId::Uuid),
    }
}

fn parse_path(key: &str) -> Result<JsonPath> {
    JsonPath::parse(key)
        .map_err(|e| GrapeError::bad_input(format!("invalid payload key `{key}`: {e}")))
}

/// Combines an outer filter with an inner one (both must hold).
fn merge_filters(outer: Option<&Filter>, inner: Option<&Filter>) -> Result<Option<Filter>> {
    match (outer, inner) {
        (None, None) => Ok(None),
        (Some(f), None) | (None, Some(f)) => Ok(Some(f.clone())),
        (Some(a), Some(b)) => {
            let to_json = |f: &Filter| {
                serde_json::to_value(f)
                    .map_err(|e| GrapeError::Internal(format!("encode filter: {e}")))
            };
            let merged = serde_json::json!({"must": [to_json(a)?, to_json(b)?]});
            serde_json::from_value(merged)
                .map(Some)
                .map_err(|e| GrapeError::Internal(format!("merge filters: {e}")))
        }
    }
}

/// Grape re-ranks by MMR on dense vectors only.
fn reject_mmr(nearest: &NearestQuery) -> Result<()> {
    match nearest.mmr {
        Some(_) => Err(GrapeError::bad_input(
            "Grape does not support maximal marginal relevance (mmr) on sparse vectors and multivectors yet",
        )),
        None => Ok(()),
    }
}

fn unsupported_input(value: &serde_json::Value) -> GrapeError {
    let what = match value {
        serde_json::Value::String(s) => {
            return GrapeError::bad_input(format!(
                "Unable to parse point id `{s}`: a point id is an unsigned integer or a UUID"
            ))
        }
        serde_json::Value::Array(_) => "this vector form".to_string(),
        serde_json::Value::Object(map) if map.contains_key("indices") => {
            return GrapeError::bad_input(
                "Unable to parse the sparse vector: expected {\"indices\": [unsigned integers], \"values\": [numbers]}",
            )
        }
        serde_json::Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            format!("queries of the form {{{}}}", keys.join(", "))
        }
        other => format!("query input {other}"),
    };
    GrapeError::bad_input(format!("Grape does not support {what} yet"))
}

/// The named vector `name` of point `id` in `collection`.
fn stored_vector(
    collection: &Collection,
    id: PointId,
    name: &str,
    read: ReadConsistency,
) -> Result<Vec<f32>> {
    let records = collection.retrieve(
        &[id],
        &Projection {
            with_payload: WithPayload::Bool(false),
            with_vector: WithVector::Names(vec![name.to_string()]),
        },
        read,
    )?;
    let record = records.first().ok_or(GrapeError::PointNotFound(id))?;
    vector_of(record, name)
        .map(<[f32]>::to_vec)
        .ok_or_else(|| GrapeError::bad_input(format!("Point {id} has no vector named `{name}`")))
}

/// The sparse vector `name` of point `id` in `collection`.
fn stored_sparse_vector(
    collection: &Collection,
    id: PointId,
    name: &str,
    read: ReadConsistency,
) -> Result<SparseVector> {
    let records = collection.retrieve(
        &[id],
        &Projection {
            with_payload: WithPayload::Bool(false),
            with_vector: WithVector::Names(vec![name.to_string()]),
        },
        read,
    )?;
    let record = records.first().ok_or(GrapeError::PointNotFound(id))?;
    match record.vector.as_ref() {
        Some(VectorStruct::Named(map)) => map.get(name).and_then(Vector::as_sparse).cloned(),
        _ => None,
    }
    .ok_or_else(|| GrapeError::bad_input(format!("Point {id} has no sparse vector named `{name}`")))
}

fn vector_of<'a>(record: &'a Record, name: &str) -> Option<&'a [f32]> {
    match record.vector.as_ref()? {
        VectorStruct::Single(v) if name == DEFAULT_VECTOR_NAME => Some(v),
        VectorStruct::Single(_) => None,
        VectorStruct::Named(map) => map.get(name).and_then(Vector::as_dense),
    }
}

/// A vector name as errors show it.
fn shown_name(name: &str) -> &str {
    if name.is_empty() {
        "(default vector)"
    } else {
        name
    }
}

/// A filter keeping only the given points.
fn has_id(ids: &[PointId]) -> Result<Filter> {
    serde_json::from_value(serde_json::json!({"must": [{"has_id": ids}]}))
        .map_err(|e| GrapeError::Internal(format!("build has_id filter: {e}")))
}

fn examples_unsupported() -> GrapeError {
    GrapeError::bad_input(
        "Grape does not support recommend, discover and context queries on sparse vectors and multivectors yet",
    )
}

/// The multivector `name` of point `id` in `collection`.
fn stored_multivector(
    collection: &Collection,
    id: PointId,
    name: &str,
    read: ReadConsistency,
) -> Result<Vec<Vec<f32>>> {
    let records = collection.retrieve(
        &[id],
        &Projection {
            with_payload: WithPayload::Bool(false),
            with_vector: WithVector::Names(vec![name.to_string()]),
        },
        read,
    )?;
    let record = records.first().ok_or(GrapeError::PointNotFound(id))?;
    match record.vector.as_ref() {
        Some(VectorStruct::Named(map)) => {
            map.get(name).and_then(Vector::as_multi).map(<[_]>::to_vec)
        }
        _ => None,
    }
    .ok_or_else(|| GrapeError::bad_input(format!("Point {id} has no multivector named `{name}`")))
}

/// `avg(pos) + avg(pos) - avg(neg)`, or `avg(pos)` without negatives.
fn average_vector(positive: &[Vec<f32>], negative: &[Vec<f32>]) -> Result<Vec<f32>> {
    let avg_pos = mean(positive)
        .ok_or_else(|| GrapeError::bad_input("Bad request: No positive examples given"))?;
    match mean(negative) {
        None => Ok(avg_pos),
        Some(avg_neg) => Ok(avg_pos
            .iter()
            .zip(&avg_neg)
            .map(|(p, n)| p + p - n)
            .collect()),
    }
}

fn mean(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut sum = vec![0.0f32; first.len()];
    for v in vectors {
        if v.len() != sum.len() {
            return None;
        }
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    let n = vectors.len() as f32;
    Some(sum.into_iter().map(|s| s / n).collect())
}

/// Scores points against examples for `best_score` and `sum_scores`.
struct RecommendScorer {
    strategy: RecommendStrategy,
    distance: Distance,
    positive: Vec<Vec<f32>>,
    negative: Vec<Vec<f32>>,
}

impl RecommendScorer {
    fn new(
        strategy: RecommendStrategy,
        distance: Distance,
        positive: Vec<Vec<f32>>,
        negative: Vec<Vec<f32>>,
    ) -> Result<Self> {
        if positive.is_empty() && negative.is_empty() {
            return Err(GrapeError::bad_input(
                "Bad request: At least one positive or negative example is needed",
            ));
        }
        Ok(RecommendScorer {
            strategy,
            distance,
            positive,
            negative,
        })
    }

    /// Higher is better. `best_score`: the sigmoid-scaled best similarity to a positive, or
    /// minus the one to a negative when a negative is closer. `sum_scores`: Σ pos − Σ neg.
    fn score(&self, v: &[f32]) -> f32 {
        let sim = |e: &Vec<f32>| similarity(self.distance, e, v);
        match self.strategy {
            RecommendStrategy::SumScores => {
                self.positive.iter().map(sim).sum::<f32>()
                    - self.negative.iter().map(sim).sum::<f32>()
            }
            _ => {
                let best = |examples: &[Vec<f32>]| {
                    examples.iter().map(sim).fold(f32::NEG_INFINITY, f32::max)
                };
                let (pos, neg) = (best(&self.positive), best(&self.negative));
                if pos > neg {
                    scaled_fast_sigmoid(pos)
                } else {
                    -scaled_fast_sigmoid(neg)
                }
            }
        }
    }
}

/// Scores points for discover and context queries, as Qdrant does.
struct ContextScorer {
    distance: Distance,
    target: Option<Vec<f32>>,
    /// (positive, negative) examples.
    pairs: Vec<(Vec<f32>, Vec<f32>)>,
}

impl ContextScorer {
    /// Discover: Σ over pairs of +1 / 0 / −1 (closer to the positive, as close, closer to the
    /// negative), plus the sigmoid-scaled similarity to the target, so the pairs rank first
    /// and the target orders within a rank. Context: Σ over pairs of
    /// `sigmoid(min(sim(pos) − sim(neg) − ε, 0))`, 0 when every pair is satisfied.
    fn score(&self, v: &[f32]) -> f32 {
        let sim = |e: &[f32]| similarity(self.distance, e, v);
        match &self.target {
            Some(target) => {
                let rank: f32 = self
                    .pairs
                    .iter()
                    .map(|(p, n)| match sim(p).total_cmp(&sim(n)) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.0,
                        std::cmp::Ordering::Less => -1.0,
                    })
                    .sum();
                rank + scaled_fast_sigmoid(sim(target))
            }
            None => self
                .pairs
                .iter()
                .map(|(p, n)| fast_sigmoid((sim(p) - sim(n) - f32::EPSILON).min(0.0)))
                .sum(),
        }
    }
}

fn fast_sigmoid(x: f32) -> f32 {
    x / (1.0 + x.abs())
}

fn scaled_fast_sigmoid(x: f32) -> f32 {
    0.5 * (fast_sigmoid(x) + 1.0)
}

/// The score in the collection's convention (distance for Euclid and Manhattan).
pub fn score(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        Distance::Euclid => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
        Distance::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
    }
}

/// A higher-is-better similarity as Qdrant computes it internally for example-based
/// queries: the score for Cosine and Dot, the negated squared distance for Euclid, the
/// negated distance for Manhattan.
fn similarity(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot | Distance::Manhattan => {
            let s = score(distance, a, b);
            if distance.higher_is_better() {
                s
            } else {
                -s
            }
        }
        Distance::Euclid => -a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>(),
    }
}

/// Cosine vectors are compared normalized.
fn preprocess(distance: Distance, v: &mut [f32]) {
    if distance == Distance::Cosine {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

mod formula;
mod mmr;
#[cfg(test)]
mod tests;
