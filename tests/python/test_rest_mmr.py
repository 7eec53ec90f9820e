"""Nearest queries re-ranked by maximal marginal relevance, checked against a brute-force MMR
computed here. test_grpc_mmr.py runs every test again over gRPC."""

import numpy as np
import pytest
from qdrant_client import models

from helpers import DIM, make_vectors, ranking, rejected, scores, seed_collection

N = 80


def seed(client, name: str, distance, shard_number: int = 1) -> np.ndarray:
    return seed_collection(
        client, name, N, distance, shard_number=shard_number, payload_of=lambda i: None, vector_seed=21
    )


def similarities(a: np.ndarray, b: np.ndarray, distance) -> np.ndarray:
    """Qdrant's internal higher-is-better similarities between the rows of `a` and `b`."""
    if distance == models.Distance.COSINE:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
    if distance == models.Distance.EUCLID:
        return -((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    return a @ b.T


def brute_force_mmr(vectors, query, distance, diversity: float, candidates: int, limit: int) -> list[int]:
    ids = ranking(vectors, query, distance)[:candidates]
    points = vectors[ids]
    relevance = similarities(query[None, :], points, distance)[0]
    pairwise = similarities(points, points, distance)
    picked, pending = [0], list(range(1, len(ids)))
    while len(picked) < limit and pending:
        mmr = [(1 - diversity) * relevance[i] - diversity * pairwise[i, picked].max() for i in pending]
        picked.append(pending.pop(int(np.argmax(mmr))))
    return [ids[i] for i in picked]


@pytest.mark.parametrize(
    "distance,shard_number",
    [(models.Distance.DOT, 1), (models.Distance.COSINE, 1), (models.Distance.COSINE, 3), (models.Distance.EUCLID, 1)],
)
def test_mmr_matches_brute_force(client, collection_name, distance, shard_number):
    vectors = seed(client, collection_name, distance, shard_number)
    query = make_vectors(1, seed=22)[0]
    for diversity in (0.3, 0.7):
        result = client.query_points(
            collection_name,
            query=models.NearestQuery(nearest=query.tolist(), mmr=models.Mmr(diversity=diversity, candidates_limit=40)),
            limit=10,
        )
        expected = brute_force_mmr(vectors, query, distance, diversity, 40, 10)
        assert [p.id for p in result.points] == expected
        assert expected != ranking(vectors, query, distance)[:10]
        # The points keep their similarity scores (Qdrant's convention), in MMR order.
        s = scores(vectors, query, distance)
        for p in result.points:
            assert p.score == pytest.approx(float(s[p.id]), rel=1e-4, abs=1e-5)


def test_mmr_defaults_and_offset(client, collection_name):
    vectors = seed(client, collection_name, models.Distance.DOT)
    query = make_vectors(1, seed=23)[0]
    # Default diversity 0.5; default candidates: the limit (here offset + limit).
    default = client.query_points(collection_name, query=models.NearestQuery(nearest=query.tolist(), mmr=models.Mmr()), limit=8)
    assert [p.id for p in default.points] == brute_force_mmr(vectors, query, models.Distance.DOT, 0.5, 8, 8)
    page = client.query_points(
        collection_name,
        query=models.NearestQuery(nearest=query.tolist(), mmr=models.Mmr(diversity=0.6, candidates_limit=30)),
        limit=5,
        offset=3,
    )
    assert [p.id for p in page.points] == brute_force_mmr(vectors, query, models.Distance.DOT, 0.6, 30, 8)[3:]


def test_mmr_rescores_a_prefetch(client, collection_name):
    vectors = seed(client, collection_name, models.Distance.DOT)
    query = make_vectors(1, seed=24)[0]
    result = client.query_points(
        collection_name,
        prefetch=models.Prefetch(query=query.tolist(), limit=25),
        query=models.NearestQuery(nearest=query.tolist(), mmr=models.Mmr(diversity=0.5, candidates_limit=25)),
        limit=6,
    )
    assert [p.id for p in result.points] == brute_force_mmr(vectors, query, models.Distance.DOT, 0.5, 25, 6)


def test_bad_mmr_requests_are_refused(client, collection_name):
    client.create_collection(
        collection_name,
        vectors_config={"d": models.VectorParams(size=DIM, distance=models.Distance.DOT)},
        sparse_vectors_config={"text": models.SparseVectorParams()},
    )
    query = make_vectors(1, seed=25)[0].tolist()
    too_diverse = models.NearestQuery(nearest=query, mmr=models.Mmr(diversity=1.5))
    assert "diversity" in rejected(lambda: client.query_points(collection_name, query=too_diverse, using="d"))
    too_many = models.NearestQuery(nearest=query, mmr=models.Mmr(candidates_limit=20000))
    assert "candidates_limit" in rejected(lambda: client.query_points(collection_name, query=too_many, using="d"))
    sparse = models.NearestQuery(nearest=models.SparseVector(indices=[1], values=[0.5]), mmr=models.Mmr())
    assert "mmr" in rejected(lambda: client.query_points(collection_name, query=sparse, using="text"))
