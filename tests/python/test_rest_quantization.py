"""Quantization through the official client: each method configured per collection or per
vector, shown in collection info, searched with oversampling / rescore / ignore against a
brute-force reference, updated, refused when invalid, and kept across restarts."""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from qdrant_client import models

from helpers import ranking, rejected, scores

DIM = 16
N = 1500

# 127/128: exact in gRPC's float32, so the setting reads back equal over both APIs.
SCALAR = models.ScalarQuantization(
    scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.9921875, always_ram=True)
)
BINARY = models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=False))
TWO_BITS = models.BinaryQuantization(
    binary=models.BinaryQuantizationConfig(encoding=models.BinaryQuantizationEncoding.TWO_BITS)
)
ONE_AND_HALF_BITS = models.BinaryQuantization(
    binary=models.BinaryQuantizationConfig(encoding=models.BinaryQuantizationEncoding.ONE_AND_HALF_BITS)
)
EIGHT_BIT_QUERY = models.BinaryQuantization(
    binary=models.BinaryQuantizationConfig(query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR8BITS)
)
TWO_BITS_FOUR_BIT_QUERY = models.BinaryQuantization(
    binary=models.BinaryQuantizationConfig(
        encoding=models.BinaryQuantizationEncoding.TWO_BITS,
        query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR4BITS,
    )
)
PRODUCT = models.ProductQuantization(product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X8))
# Candidates re-scored per result: coarse codes need more (binary keeps 16 bits per vector).
METHODS = [
    pytest.param(SCALAR, 2.0, 0.9, id="int8"),
    pytest.param(BINARY, 8.0, 0.7, id="binary"),
    pytest.param(ONE_AND_HALF_BITS, 8.0, 0.85, id="binary-1.5bit"),
    pytest.param(TWO_BITS, 8.0, 0.9, id="binary-2bit"),
    pytest.param(EIGHT_BIT_QUERY, 8.0, 0.9, id="binary-q8"),
    pytest.param(TWO_BITS_FOUR_BIT_QUERY, 8.0, 0.95, id="binary-2bit-q4"),
    pytest.param(PRODUCT, 3.0, 0.85, id="pq"),
]


def clustered(n: int, seed: int) -> np.ndarray:
    """Points around 20 shared centres, like embeddings of a few topics."""
    centres = np.random.default_rng(99).uniform(-1, 1, size=(20, DIM))
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(0, 20, size=n)] + rng.normal(scale=0.3, size=(n, DIM))).astype(np.float32)


def create(client, name, quantization=None, distance=models.Distance.COSINE, vector_quantization=None):
    """A collection that walks its HNSW graph (tiny full-scan threshold), built on one thread
    so collections of the same points have the same graph."""
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=distance, quantization_config=vector_quantization),
        hnsw_config=models.HnswConfigDiff(full_scan_threshold=1, max_indexing_threads=1),
        quantization_config=quantization,
    )
    vectors = clustered(N, seed=1)
    client.upload_collection(name, vectors=vectors, ids=list(range(N)), batch_size=N, wait=True)
    return vectors


def params(**quantization):
    return models.SearchParams(hnsw_ef=64, quantization=models.QuantizationSearchParams(**quantization))


@pytest.mark.parametrize(
    "quantization",
    [SCALAR, BINARY, TWO_BITS_FOUR_BIT_QUERY, PRODUCT],
    ids=["int8", "binary", "binary-2bit-q4", "pq"],
)
def test_collection_info_shows_the_setting(client, collection_name, quantization):
    client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        quantization_config=quantization,
    )
    assert client.get_collection(collection_name).config.quantization_config == quantization


@pytest.mark.parametrize("quantization, oversampling, minimum", METHODS)
def test_search_finds_the_brute_force_neighbours(client, collection_name, quantization, oversampling, minimum):
    vectors = create(client, collection_name, quantization)
    queries = clustered(20, seed=2)
    hits = 0
    for query in queries:
        result = client.query_points(
            collection_name, query=query.tolist(), limit=10, search_params=params(oversampling=oversampling)
        )
        truth = ranking(vectors, query, models.Distance.COSINE)[:10]
        hits += len(set(truth) & {p.id for p in result.points})
        exact = scores(vectors, query, models.Distance.COSINE)
        for p in result.points:  # rescored: the original vectors' scores
            assert p.score == pytest.approx(float(exact[p.id]), abs=1e-5)
    assert hits / (10 * len(queries)) >= minimum


def recall(client, name, vectors, queries, oversampling):
    hits = 0
    for query in queries:
        result = client.query_points(name, query=query.tolist(), limit=10, search_params=params(oversampling=oversampling))
        truth = ranking(vectors, query, models.Distance.COSINE)[:10]
        hits += len(set(truth) & {p.id for p in result.points})
    return hits / (10 * len(queries))


def test_more_bits_find_more_of_the_neighbours(client, collection_name):
    """At a small oversampling the candidates come from the codes alone: each finer binary
    code (and a query kept as integers) must rank more of the true neighbours among them."""
    queries = clustered(50, seed=2)
    found = {}
    for label, quantization in [
        ("1 bit", BINARY),
        ("1.5 bits", ONE_AND_HALF_BITS),
        ("2 bits", TWO_BITS),
        ("2 bits, 4-bit query", TWO_BITS_FOUR_BIT_QUERY),
        ("1 bit, 8-bit query", EIGHT_BIT_QUERY),
    ]:
        vectors = create(client, collection_name, quantization)
        found[label] = recall(client, collection_name, vectors, queries, oversampling=2.0)
        client.delete_collection(collection_name)
    chain = [found[k] for k in ["1 bit", "1.5 bits", "2 bits", "2 bits, 4-bit query"]]
    assert chain == sorted(set(chain)), found
    assert found["1 bit, 8-bit query"] > found["1 bit"], found


def test_rescore_off_returns_the_codes_approximate_scores(client, collection_name):
    vectors = create(client, collection_name, SCALAR, distance=models.Distance.EUCLID)
    query = clustered(1, seed=3)[0]
    exact = scores(vectors, query, models.Distance.EUCLID)
    result = client.query_points(collection_name, query=query.tolist(), limit=10, search_params=params(rescore=False))
    errors = [abs(p.score - float(exact[p.id])) for p in result.points]
    assert max(errors) > 1e-4, "scores come from the codes"
    assert max(errors) < 0.2, "and are close to the exact ones"


def test_ignore_searches_the_original_vectors(client, collection_name):
    plain = f"{collection_name}_plain"
    create(client, plain)
    create(client, collection_name, BINARY)
    try:
        for query in clustered(5, seed=4):
            ignored = client.query_points(collection_name, query=query.tolist(), limit=10, search_params=params(ignore=True))
            expected = client.query_points(plain, query=query.tolist(), limit=10, search_params=params())
            assert [(p.id, p.score) for p in ignored.points] == [(p.id, p.score) for p in expected.points]
    finally:
        client.delete_collection(plain)


def test_recommend_and_prefetch_accept_quantization_params(client, collection_name):
    vectors = create(client, collection_name, SCALAR)
    recommended = client.query_points(
        collection_name,
        query=models.RecommendQuery(recommend=models.RecommendInput(positive=[3])),
        limit=5,
        search_params=params(oversampling=4.0),
    )
    expected = [i for i in ranking(vectors, vectors[3], models.Distance.COSINE) if i != 3][:5]
    assert [p.id for p in recommended.points] == expected
    prefetched = client.query_points(
        collection_name,
        prefetch=models.Prefetch(query=vectors[7].tolist(), limit=20, params=params(rescore=True)),
        query=vectors[7].tolist(),
        limit=5,
    )
    assert [p.id for p in prefetched.points] == ranking(vectors, vectors[7], models.Distance.COSINE)[:5]


def test_per_vector_settings_override_the_collections(client, collection_name):
    client.create_collection(
        collection_name,
        vectors_config={
            "a": models.VectorParams(size=DIM, distance=models.Distance.DOT, quantization_config=BINARY),
            "b": models.VectorParams(size=DIM, distance=models.Distance.DOT),
        },
        quantization_config=SCALAR,
    )
    config = client.get_collection(collection_name).config
    assert config.params.vectors["a"].quantization_config == BINARY
    assert config.params.vectors["b"].quantization_config is None
    assert config.quantization_config == SCALAR


def test_update_changes_and_disables_the_setting(client, collection_name):
    vectors = create(client, collection_name, SCALAR, vector_quantization=PRODUCT)
    client.update_collection(collection_name, quantization_config=BINARY)
    client.update_collection(
        collection_name, vectors_config={"": models.VectorParamsDiff(quantization_config=models.Disabled.DISABLED)}
    )
    config = client.get_collection(collection_name).config
    assert config.quantization_config == BINARY
    assert config.params.vectors.quantization_config is None
    query = clustered(1, seed=5)[0]
    # Binary codes (the collection's setting now) score 16 bits: without rescoring, ties abound.
    coarse = client.query_points(collection_name, query=query.tolist(), limit=10, search_params=params(rescore=False))
    exact = scores(vectors, query, models.Distance.COSINE)
    assert any(abs(p.score - float(exact[p.id])) > 1e-3 for p in coarse.points)
    client.update_collection(collection_name, quantization_config=models.Disabled.DISABLED)
    assert client.get_collection(collection_name).config.quantization_config is None
    plain = client.query_points(collection_name, query=query.tolist(), limit=10, search_params=params(rescore=False))
    for p in plain.points:  # no codes left: scores are exact whatever `rescore` says
        assert p.score == pytest.approx(float(exact[p.id]), abs=1e-5)


def test_invalid_settings_are_refused(client, collection_name):
    low_quantile = models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.3)
    )
    message = rejected(
        lambda: client.create_collection(
            collection_name,
            vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
            quantization_config=low_quantile,
        )
    )
    assert "quantile" in message
    assert not client.collection_exists(collection_name)
    create(client, collection_name, SCALAR)
    rejected(lambda: client.update_collection(collection_name, quantization_config=low_quantile))
    assert client.get_collection(collection_name).config.quantization_config == SCALAR
    assert "oversampling" in rejected(
        lambda: client.query_points(collection_name, query=[0.1] * DIM, search_params=params(oversampling=0.5))
    )


def test_unknown_methods_and_ratios_are_a_400(grape_node, collection_name):
    """Shapes the client's models cannot express, sent as raw REST JSON."""

    def put(body):
        request = urllib.request.Request(
            f"{grape_node.url}/collections/{collection_name}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request)
        assert error.value.code == 400
        return json.loads(error.value.read())["status"]["error"]

    vectors = {"size": DIM, "distance": "Dot"}
    assert "x3" in put({"vectors": vectors, "quantization_config": {"product": {"compression": "x3"}}})
    assert put({"vectors": vectors, "quantization_config": {"scalar": {"type": "int4"}}})
    assert put({"vectors": vectors, "quantization_config": {"turbo": {}}})
    assert "three_bits" in put({"vectors": vectors, "quantization_config": {"binary": {"encoding": "three_bits"}}})


@pytest.mark.parametrize("quantization", [PRODUCT, TWO_BITS], ids=["pq", "binary-2bit"])
@pytest.mark.parametrize("kill", [True, False], ids=["wal-replay", "checkpoint"])
def test_codes_survive_a_restart(start_node, prefer_grpc, kill, quantization):
    node = start_node()
    client = node.client(prefer_grpc=prefer_grpc)
    create(client, "persisted", quantization)
    query = clustered(1, seed=6)[0].tolist()
    before = client.query_points("persisted", query=query, limit=10, search_params=params(rescore=False))
    node.restart(kill=kill)
    client = node.client(prefer_grpc=prefer_grpc)
    assert client.get_collection("persisted").config.quantization_config == quantization
    after = client.query_points("persisted", query=query, limit=10, search_params=params(rescore=False))
    assert [(p.id, p.score) for p in after.points] == [(p.id, p.score) for p in before.points]
