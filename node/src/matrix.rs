//! The distance matrix: a random sample of the points matching a filter (and holding the
//! vector), and for each sampled point its `limit` nearest other sampled points, scored
//! exactly. Answered as pairs or as a sparse matrix of offsets into the sampled ids.

use rand::seq::SliceRandom;

use crate::collection::Collection;
use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::filter::{Condition, Filter};
use crate::index;
use crate::shard::Projection;
use crate::types::*;

/// Ids fetched per page while gathering the points to sample from.
const PAGE: usize = 4096;

pub fn pairs(
    engine: &Engine,
    collection: &str,
    request: SearchMatrixRequest,
    read: ReadConsistency,
) -> Result<SearchMatrixPairsResponse> {
    let collection = engine.collection(collection)?;
    let matrix = Matrix::compute(&collection, &request, read)?;
    let ids = &matrix.ids;
    let pairs = matrix
        .neighbours
        .iter()
        .enumerate()
        .flat_map(|(row, list)| {
            list.iter().map(move |&(col, score)| SearchMatrixPair {
                a: ids[row],
                b: ids[col],
                score,
            })
        })
        .collect();
    Ok(SearchMatrixPairsResponse { pairs })
}

pub fn offsets(
    engine: &Engine,
    collection: &str,
    request: SearchMatrixRequest,
    read: ReadConsistency,
) -> Result<SearchMatrixOffsetsResponse> {
    let collection = engine.collection(collection)?;
    let matrix = Matrix::compute(&collection, &request, read)?;
    let mut out = SearchMatrixOffsetsResponse::default();
    for (row, list) in matrix.neighbours.iter().enumerate() {
        for &(col, score) in list {
            out.offsets_row.push(row as u64);
            out.offsets_col.push(col as u64);
            out.scores.push(score);
        }
    }
    out.ids = matrix.ids;
    Ok(out)
}

/// Sampled ids and, per sampled point, its nearest other samples (index, score), best first.
struct Matrix {
    ids: Vec<PointId>,
    neighbours: Vec<Vec<(usize, f32)>>,
}

impl Matrix {
    fn compute(
        collection: &Collection,
        request: &SearchMatrixRequest,
        read: ReadConsistency,
    ) -> Result<Matrix> {
        let sample = request.sample.unwrap_or(DEFAULT_MATRIX_SAMPLE);
        let limit = request.limit.unwrap_or(DEFAULT_MATRIX_LIMIT);
        if sample < 2 || limit < 1 {
            return Err(GrapeError::bad_input(
                "Validation error: sample must be at least 2 and limit at least 1",
            ));
        }
        let using = request.using.clone().unwrap_or_default();
        let distance = collection
            .config()
            .params
            .vectors
            .named()
            .get(&using)
            .map(|p| p.distance)
            .ok_or_else(|| {
                GrapeError::bad_input(format!("Not existing vector name error: {using}"))
            })?;
        let mut ids = matching_ids(collection, request.filter.as_ref(), &using, read)?;
        ids.shuffle(&mut rand::thread_rng());
        ids.truncate(sample);
        let projection = Projection {
            with_payload: WithPayload::Bool(false),
            with_vector: WithVector::Names(vec![using.clone()]),
        };
        let records = collection.retrieve(&ids, &projection, read)?;
        let vectors: Vec<(PointId, Vec<f32>)> = records
            .into_iter()
            .filter_map(|r| {
                let vector = r.vector?.into_named().remove(&using)?;
                Some((r.id, vector.as_dense()?.to_vec()))
            })
            .collect();
        let higher_is_better = distance.higher_is_better();
        let neighbours = vectors
            .iter()
            .enumerate()
            .map(|(row, (_, a))| {
                let mut scored: Vec<(usize, f32)> = vectors
                    .iter()
                    .enumerate()
                    .filter(|&(col, _)| col != row)
                    .map(|(col, (_, b))| (col, index::score(distance, a, b)))
                    .collect();
                scored.sort_by(|x, y| {
                    let order = x.1.total_cmp(&y.1);
                    if higher_is_better {
                        order.reverse()
                    } else {
                        order
                    }
                    .then(x.0.cmp(&y.0))
                });
                scored.truncate(limit);
                scored
            })
            .collect();
        Ok(Matrix {
            ids: vectors.into_iter().map(|(id, _)| id).collect(),
            neighbours,
        })
    }
}

/// Every id matching the filter that holds the vector `using`.
fn matching_ids(
    collection: &Collection,
    filter: Option<&Filter>,
    using: &str,
    read: ReadConsistency,
) -> Result<Vec<PointId>> {
    let mut must = vec![Condition::HasVector {
        has_vector: using.to_string(),
    }];
    must.extend(filter.cloned().map(Condition::Filter));
    let filter = Filter {
        must: Some(must),
        ..Filter::default()
    };
    let mut ids = Vec::new();
    let mut offset = None;
    loop {
        let request = ScrollRequest {
            offset,
            limit: Some(PAGE),
            filter: Some(filter.clone()),
            with_payload: Some(WithPayload::Bool(false)),
            with_vector: None,
        };
        let page = collection.scroll(&request, read)?;
        ids.extend(page.points.iter().map(|r| r.id));
        match page.next_page_offset {
            Some(next) => offset = Some(next),
            None => return Ok(ids),
        }
    }
}
