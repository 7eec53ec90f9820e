"""Sparse vectors and hybrid queries through the official client, against brute force and the
fusion formulas computed here. test_grpc_vectors.py runs every test again over gRPC."""

import math

import numpy as np
import pytest
from qdrant_client import models

N = 60
DIM = 4
SPARSE_DIMS = 40


def sparse_vectors(n: int, seed: int = 11) -> list[models.SparseVector]:
    """Each point gets 3–6 distinct dimensions (sorted) with random positive values."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(3, 7))
        indices = sorted(rng.choice(SPARSE_DIMS, size=k, replace=False).tolist())
        values = rng.uniform(0.1, 2.0, size=k).round(4).tolist()
        out.append(models.SparseVector(indices=indices, values=values))
    return out


def assert_same_sparse(got: models.SparseVector, expected: models.SparseVector) -> None:
    """Equal up to the f32 precision values are stored with."""
    assert got.indices == expected.indices
    assert got.values == pytest.approx(expected.values, rel=1e-6)


def dense_vectors(n: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def idf(dim: int, docs: list[models.SparseVector]) -> float:
    n = sum(1 for d in docs if dim in d.indices)
    return math.log((len(docs) - n + 0.5) / (n + 0.5) + 1.0)


def sparse_scores(query: models.SparseVector, docs: dict[int, models.SparseVector], with_idf=False):
    """{id: score} of the points sharing a dimension with the query (IDF over `docs`)."""
    weights = {d: idf(d, list(docs.values())) if with_idf else 1.0 for d in query.indices}
    out = {}
    for i, doc in docs.items():
        entries = dict(zip(doc.indices, doc.values))
        shared = [d for d in query.indices if d in entries]
        if shared:
            q = dict(zip(query.indices, query.values))
            out[i] = sum(q[d] * weights[d] * entries[d] for d in shared)
    return out


def best(scores: dict[int, float], limit: int) -> list[int]:
    return sorted(scores, key=lambda i: (-scores[i], i))[:limit]


def create_hybrid(client, name: str, n: int = N):
    """Collection with dense `d` (dot), sparse `text` and sparse `bm25` (idf); payload `i`."""
    client.create_collection(
        name,
        vectors_config={"d": models.VectorParams(size=DIM, distance=models.Distance.DOT)},
        sparse_vectors_config={
            "text": models.SparseVectorParams(index=models.SparseIndexParams(on_disk=False)),
            "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF),
        },
    )
    dense, sparse = dense_vectors(n), sparse_vectors(n)
    client.upsert(
        name,
        points=[
            models.PointStruct(
                id=i,
                vector={"d": dense[i].tolist(), "text": sparse[i], "bm25": sparse[i]},
                payload={"i": i},
            )
            for i in range(n)
        ],
    )
    return dense, {i: sparse[i] for i in range(n)}


QUERY = models.SparseVector(indices=[1, 5, 9, 17, 33], values=[0.7, 1.2, 0.4, 2.0, 1.1])


def test_sparse_config_is_shown_in_collection_info(client, collection_name):
    create_hybrid(client, collection_name, n=3)
    info = client.get_collection(collection_name)
    sparse = info.config.params.sparse_vectors
    assert set(sparse) == {"text", "bm25"}
    assert sparse["bm25"].modifier == models.Modifier.IDF
    assert sparse["text"].modifier in (None, models.Modifier.NONE)
    assert info.points_count == 3


def test_sparse_vectors_are_returned_as_stored(client, collection_name):
    dense, sparse = create_hybrid(client, collection_name, n=5)
    records = client.retrieve(collection_name, ids=[0, 3], with_vectors=True)
    for record in records:
        assert_same_sparse(record.vector["text"], sparse[record.id])
        assert_same_sparse(record.vector["bm25"], sparse[record.id])
        np.testing.assert_allclose(record.vector["d"], dense[record.id], rtol=1e-6)
    only = client.retrieve(collection_name, ids=[1], with_vectors=["text"])[0]
    assert set(only.vector) == {"text"}
    # Unsorted input comes back sorted by index, with values following their index.
    client.upsert(
        collection_name,
        points=[models.PointStruct(id=9, vector={"text": models.SparseVector(indices=[7, 2], values=[0.5, 1.5])})],
    )
    again = client.retrieve(collection_name, ids=[9], with_vectors=True)[0]
    assert again.vector == {"text": models.SparseVector(indices=[2, 7], values=[1.5, 0.5])}


@pytest.mark.parametrize("using,with_idf", [("text", False), ("bm25", True)])
def test_sparse_query_matches_brute_force(client, collection_name, using, with_idf):
    _, sparse = create_hybrid(client, collection_name)
    expected = sparse_scores(QUERY, sparse, with_idf)
    result = client.query_points(collection_name, query=QUERY, using=using, limit=10)
    assert [p.id for p in result.points] == best(expected, 10)
    for p in result.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4)
    # Filter and score threshold.
    threshold = expected[best(expected, 15)[-1]]
    flt = models.Filter(must=[models.FieldCondition(key="i", range=models.Range(gte=20))])
    result = client.query_points(
        collection_name, query=QUERY, using=using, query_filter=flt, score_threshold=threshold, limit=100
    )
    allowed = {i: s for i, s in expected.items() if i >= 20 and s >= threshold}
    assert [p.id for p in result.points] == best(allowed, 100)


def test_query_by_point_id_uses_its_sparse_vector(client, collection_name):
    _, sparse = create_hybrid(client, collection_name)
    result = client.query_points(collection_name, query=4, using="text", limit=5)
    expected = sparse_scores(sparse[4], sparse)
    del expected[4]
    assert [p.id for p in result.points] == best(expected, 5)


def test_idf_follows_writes(client, collection_name):
    _, sparse = create_hybrid(client, collection_name)
    client.delete(collection_name, points_selector=models.PointIdsList(points=list(range(30))))
    remaining = {i: v for i, v in sparse.items() if i >= 30}
    expected = sparse_scores(QUERY, remaining, with_idf=True)
    result = client.query_points(collection_name, query=QUERY, using="bm25", limit=8)
    assert [p.id for p in result.points] == best(expected, 8)
    for p in result.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4)


@pytest.mark.parametrize(
    "vector,message",
    [
        (models.SparseVector(indices=[1, 2, 3], values=[0.5, 1.0]), "same length"),
        (models.SparseVector(indices=[4, 1, 4], values=[0.5, 1.0, 2.0]), "unique"),
    ],
)
def test_malformed_sparse_vectors_are_refused(client, collection_name, vector, message):
    create_hybrid(client, collection_name, n=2)
    with pytest.raises(Exception) as upsert:
        client.upsert(collection_name, points=[models.PointStruct(id=7, vector={"text": vector})])
    assert message in str(upsert.value)
    assert_bad_request(upsert.value)
    with pytest.raises(Exception) as query:
        client.query_points(collection_name, query=vector, using="text")
    assert message in str(query.value)
    assert_bad_request(query.value)
    assert client.count(collection_name).count == 2


def assert_bad_request(error: Exception) -> None:
    """REST: HTTP 400; gRPC: INVALID_ARGUMENT."""
    status = getattr(error, "status_code", None)
    if status is not None:
        assert status == 400
    else:
        import grpc

        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_wrong_vector_types_are_refused(client, collection_name):
    create_hybrid(client, collection_name, n=2)
    with pytest.raises(Exception) as dense_into_sparse:
        client.upsert(collection_name, points=[models.PointStruct(id=7, vector={"text": [0.1] * DIM})])
    assert_bad_request(dense_into_sparse.value)
    with pytest.raises(Exception) as sparse_query_on_dense:
        client.query_points(collection_name, query=QUERY, using="d")
    assert_bad_request(sparse_query_on_dense.value)


def rrf_reference(lists: list[list[int]], k: int = 2) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for pos, i in enumerate(ranked):
            scores[i] = scores.get(i, 0.0) + 1.0 / (k + pos)
    return scores


def dbsf_reference(lists: list[dict[int, float]]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for scores in lists:
        values = np.array(list(scores.values()), dtype=np.float64)
        mean, std = values.mean(), values.std(ddof=1)
        low, high = mean - 3 * std, mean + 3 * std
        for i, s in scores.items():
            fused[i] = fused.get(i, 0.0) + (s - low) / (high - low)
    return fused


def test_hybrid_rrf_and_dbsf_follow_the_formulas(client, collection_name):
    dense, sparse = create_hybrid(client, collection_name)
    dense_query = np.array([0.5, -1.0, 0.3, 0.8], dtype=np.float32)
    sparse_top = best(sparse_scores(QUERY, sparse), 12)
    dense_scores = {i: float(dense[i] @ dense_query) for i in range(N)}
    dense_top = best(dense_scores, 12)
    prefetch = [
        models.Prefetch(query=QUERY, using="text", limit=12),
        models.Prefetch(query=dense_query.tolist(), using="d", limit=12),
    ]
    rrf = client.query_points(
        collection_name, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF), limit=6
    )
    expected = rrf_reference([sparse_top, dense_top])
    assert [p.id for p in rrf.points] == best(expected, 6)
    for p in rrf.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-5)

    dbsf = client.query_points(
        collection_name, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=6
    )
    all_sparse = sparse_scores(QUERY, sparse)
    expected = dbsf_reference(
        [{i: all_sparse[i] for i in sparse_top}, {i: dense_scores[i] for i in dense_top}]
    )
    assert [p.id for p in dbsf.points] == best(expected, 6)
    for p in dbsf.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4)


def test_rrf_with_k_and_weights(client, collection_name):
    dense, sparse = create_hybrid(client, collection_name)
    dense_query = [1.0, 0.0, -0.5, 0.2]
    sparse_top = best(sparse_scores(QUERY, sparse), 10)
    dense_top = best({i: float(dense[i] @ np.array(dense_query, dtype=np.float32)) for i in range(N)}, 10)
    result = client.query_points(
        collection_name,
        prefetch=[
            models.Prefetch(query=QUERY, using="text", limit=10),
            models.Prefetch(query=dense_query, using="d", limit=10),
        ],
        query=models.RrfQuery(rrf=models.Rrf(k=10, weights=[1.0, 3.0])),
        limit=5,
    )
    expected: dict[int, float] = {}
    for ranked, weight in [(sparse_top, 1.0), (dense_top, 3.0)]:
        for pos, i in enumerate(ranked):
            expected[i] = expected.get(i, 0.0) + 1.0 / ((pos + 1) / weight + 10 - 1)
    assert [p.id for p in result.points] == best(expected, 5)


def test_nested_prefetch_rescoring_sparse_then_dense(client, collection_name):
    dense, sparse = create_hybrid(client, collection_name)
    dense_query = np.array([0.2, 0.9, -0.4, 0.1], dtype=np.float32)
    # Innermost: 20 best by sparse; then the 10 best of those by dense; then RRF with a
    # second sparse (idf) list.
    inner = best(sparse_scores(QUERY, sparse), 20)
    middle = sorted(inner, key=lambda i: (-float(dense[i] @ dense_query), i))[:10]
    other = best(sparse_scores(QUERY, sparse, with_idf=True), 10)
    result = client.query_points(
        collection_name,
        prefetch=[
            models.Prefetch(
                prefetch=models.Prefetch(query=QUERY, using="text", limit=20),
                query=dense_query.tolist(),
                using="d",
                limit=10,
            ),
            models.Prefetch(query=QUERY, using="bm25", limit=10),
        ],
        query=models.FusionQuery(fusion=models.Fusion.RRF),
        limit=8,
    )
    expected = rrf_reference([middle, other])
    assert [p.id for p in result.points] == best(expected, 8)
    # Dense candidates rescored by a sparse query keep only those sharing a dimension.
    dense_top = best({i: float(dense[i] @ dense_query) for i in range(N)}, 15)
    rescored = client.query_points(
        collection_name,
        prefetch=models.Prefetch(query=dense_query.tolist(), using="d", limit=15),
        query=QUERY,
        using="text",
        limit=15,
    )
    all_sparse = sparse_scores(QUERY, sparse)
    assert [p.id for p in rescored.points] == best({i: all_sparse[i] for i in dense_top if i in all_sparse}, 15)


def test_sparse_vectors_survive_restart(start_node, prefer_grpc):
    node = start_node()
    client = node.client(prefer_grpc=prefer_grpc)
    _, sparse = create_hybrid(client, "persisted")
    expected = best(sparse_scores(QUERY, sparse, with_idf=True), 10)
    for kill in (True, False):  # WAL replay after kill -9, then the shutdown checkpoint
        node.restart(kill=kill)
        client = node.client(prefer_grpc=prefer_grpc)
        result = client.query_points("persisted", query=QUERY, using="bm25", limit=10)
        assert [p.id for p in result.points] == expected
        assert_same_sparse(client.retrieve("persisted", ids=[3], with_vectors=["text"])[0].vector["text"], sparse[3])
        assert client.get_collection("persisted").config.params.sparse_vectors["bm25"].modifier == models.Modifier.IDF


def fast_sigmoid(x: float) -> float:
    return x / (1.0 + abs(x))


def scaled_fast_sigmoid(x: float) -> float:
    return 0.5 * (fast_sigmoid(x) + 1.0)


def test_discover_and_context_follow_qdrant_scoring(client, collection_name):
    dense, _ = create_hybrid(client, collection_name)
    sim = lambda a, b: float(np.float32(dense[a] @ dense[b]))  # noqa: E731
    pairs = [(3, 8), (11, 20)]
    examples = {3, 8, 11, 20, 5}
    candidates = [i for i in range(N) if i not in examples]

    def discover_score(i: int) -> float:
        rank = sum((sim(p, i) > sim(n, i)) - (sim(p, i) < sim(n, i)) for p, n in pairs)
        return rank + scaled_fast_sigmoid(sim(5, i))

    def context_score(i: int) -> float:
        return sum(fast_sigmoid(min(sim(p, i) - sim(n, i) - 1.1920929e-7, 0.0)) for p, n in pairs)

    context = [models.ContextPair(positive=p, negative=n) for p, n in pairs]
    discover = client.query_points(
        collection_name,
        query=models.DiscoverQuery(discover=models.DiscoverInput(target=5, context=context)),
        using="d",
        limit=8,
    )
    expected = {i: discover_score(i) for i in candidates}
    assert [p.id for p in discover.points] == best(expected, 8)
    for p in discover.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4, abs=1e-5)

    result = client.query_points(
        collection_name, query=models.ContextQuery(context=context), using="d", limit=60
    )
    candidates = [i for i in range(N) if i not in {3, 8, 11, 20}]
    expected = {i: context_score(i) for i in candidates}
    got = {p.id: p.score for p in result.points}
    assert set(got) == set(candidates)
    for i, score in got.items():
        assert score == pytest.approx(expected[i], rel=1e-4, abs=1e-5)


def test_recommend_best_score_follows_qdrant_scoring(client, collection_name):
    dense, _ = create_hybrid(client, collection_name)
    sim = lambda a, b: float(np.float32(dense[a] @ dense[b]))  # noqa: E731
    positive, negative = [1, 2], [7]

    def score(i: int) -> float:
        pos = max(sim(p, i) for p in positive)
        neg = max(sim(n, i) for n in negative)
        return scaled_fast_sigmoid(pos) if pos > neg else -scaled_fast_sigmoid(neg)

    result = client.query_points(
        collection_name,
        query=models.RecommendQuery(
            recommend=models.RecommendInput(
                positive=positive, negative=negative, strategy=models.RecommendStrategy.BEST_SCORE
            )
        ),
        using="d",
        limit=10,
    )
    expected = {i: score(i) for i in range(N) if i not in {1, 2, 7}}
    assert [p.id for p in result.points] == best(expected, 10)
    for p in result.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4, abs=1e-5)


def max_sim(query: np.ndarray, doc: np.ndarray) -> float:
    return float((query @ doc.T).max(axis=1).sum())


def test_multivectors_are_scored_by_max_sim(client, collection_name):
    rng = np.random.default_rng(3)
    client.create_collection(
        collection_name,
        vectors_config={
            "colbert": models.VectorParams(
                size=DIM,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
            ),
            "d": models.VectorParams(size=DIM, distance=models.Distance.DOT),
        },
    )
    docs = {i: rng.normal(size=(int(rng.integers(1, 5)), DIM)).astype(np.float32) for i in range(N)}
    client.upsert(
        collection_name,
        points=[
            models.PointStruct(id=i, vector={"colbert": docs[i].tolist(), "d": docs[i][0].tolist()}, payload={"i": i})
            for i in range(N)
        ],
    )
    info = client.get_collection(collection_name)
    assert info.config.params.vectors["colbert"].multivector_config.comparator == models.MultiVectorComparator.MAX_SIM
    stored = client.retrieve(collection_name, ids=[5], with_vectors=["colbert"])[0].vector["colbert"]
    np.testing.assert_allclose(np.array(stored), docs[5], rtol=1e-6)

    query = rng.normal(size=(3, DIM)).astype(np.float32)
    expected = {i: max_sim(query, docs[i]) for i in range(N)}
    result = client.query_points(collection_name, query=query.tolist(), using="colbert", limit=10)
    assert [p.id for p in result.points] == best(expected, 10)
    for p in result.points:
        assert p.score == pytest.approx(expected[p.id], rel=1e-4, abs=1e-5)
    # Filtered, and as the rescoring stage of a dense prefetch.
    flt = models.Filter(must=[models.FieldCondition(key="i", range=models.Range(lt=30))])
    result = client.query_points(collection_name, query=query.tolist(), using="colbert", query_filter=flt, limit=5)
    assert [p.id for p in result.points] == best({i: s for i, s in expected.items() if i < 30}, 5)
    dense_query = query[0]
    candidates = best({i: float(docs[i][0] @ dense_query) for i in range(N)}, 20)
    result = client.query_points(
        collection_name,
        prefetch=models.Prefetch(query=dense_query.tolist(), using="d", limit=20),
        query=query.tolist(),
        using="colbert",
        limit=5,
    )
    assert [p.id for p in result.points] == best({i: expected[i] for i in candidates}, 5)
    # A multivector of the wrong dimension is refused.
    with pytest.raises(Exception) as wrong:
        client.upsert(collection_name, points=[models.PointStruct(id=99, vector={"colbert": [[1.0, 2.0]]})])
    assert_bad_request(wrong.value)
