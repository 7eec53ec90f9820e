"""Search through the Query API (what the official client uses), checked against brute force."""

import numpy as np
import pytest
from qdrant_client import models

from helpers import COLORS, DIM, make_vectors, payload, ranking, scores, seed_collection

N = 80


@pytest.mark.parametrize(
    "distance", [models.Distance.DOT, models.Distance.COSINE, models.Distance.EUCLID, models.Distance.MANHATTAN]
)
def test_query_nearest_matches_brute_force(client, collection_name, distance):
    vectors = seed_collection(client, collection_name, n=N, distance=distance)
    query = make_vectors(1, seed=1)[0]
    result = client.query_points(collection_name, query=query.tolist(), limit=10, with_payload=True)
    expected = ranking(vectors, query, distance)[:10]
    assert [p.id for p in result.points] == expected
    s = scores(vectors, query, distance)
    for p in result.points:
        assert p.score == pytest.approx(float(s[p.id]), rel=1e-4, abs=1e-5)
        assert p.payload == payload(p.id)
        assert p.vector is None


def test_offset_threshold_and_vectors(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    query = make_vectors(1, seed=2)[0]
    expected = ranking(vectors, query)
    page = client.query_points(collection_name, query=query, limit=5, offset=5, with_vectors=True)
    assert [p.id for p in page.points] == expected[5:10]
    np.testing.assert_allclose(page.points[0].vector, vectors[expected[5]], rtol=1e-6)
    s = scores(vectors, query)
    threshold = float(s[expected[7]])
    above = client.query_points(collection_name, query=query, limit=50, score_threshold=threshold)
    assert [p.id for p in above.points] == [i for i in expected if s[i] >= threshold]


def test_query_with_filter(client, collection_name):
    # Relies on the filter engine: before it lands every point matches.
    vectors = seed_collection(client, collection_name, n=N)
    query = make_vectors(1, seed=3)[0]
    flt = models.Filter(
        must=[models.FieldCondition(key="color", match=models.MatchValue(value="blue"))],
        must_not=[models.FieldCondition(key="price", range=models.Range(gt=60.0))],
    )
    allowed = {i for i in range(N) if COLORS[i % 3] == "blue" and i * 1.5 <= 60.0}
    result = client.query_points(collection_name, query=query, query_filter=flt, limit=10)
    assert [p.id for p in result.points] == ranking(vectors, query, allowed=allowed)[:10]


def test_query_by_point_id_excludes_it(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    result = client.query_points(collection_name, query=17, limit=5)
    expected = [i for i in ranking(vectors, vectors[17]) if i != 17][:5]
    assert [p.id for p in result.points] == expected


def test_recommend_average_vector_and_best_score(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    pos, neg = [3, 9], [20]
    avg_pos = vectors[pos].mean(axis=0)
    target = avg_pos + (avg_pos - vectors[neg].mean(axis=0))
    result = client.query_points(
        collection_name, query=models.RecommendQuery(recommend=models.RecommendInput(positive=pos, negative=neg)), limit=6
    )
    expected = [i for i in ranking(vectors, target) if i not in pos + neg][:6]
    assert [p.id for p in result.points] == expected

    def sigmoid(x):
        return 0.5 * (x / (1.0 + abs(x)) + 1.0)

    def best(i):
        p = max(float(vectors[j] @ vectors[i]) for j in pos)
        n = max(float(vectors[j] @ vectors[i]) for j in neg)
        return sigmoid(p) if p > n else -sigmoid(n)

    result = client.query_points(
        collection_name,
        query=models.RecommendQuery(
            recommend=models.RecommendInput(positive=pos, negative=neg, strategy=models.RecommendStrategy.BEST_SCORE)
        ),
        limit=6,
    )
    candidates = [i for i in range(N) if i not in pos + neg]
    expected = sorted(candidates, key=lambda i: (-best(i), i))[:6]
    assert [p.id for p in result.points] == expected
    for p in result.points:
        assert p.score == pytest.approx(best(p.id), rel=1e-4)


def test_query_batch(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    q1, q2 = make_vectors(2, seed=4)
    results = client.query_batch_points(
        collection_name,
        requests=[models.QueryRequest(query=q1.tolist(), limit=3), models.QueryRequest(query=q2.tolist(), limit=4)],
    )
    assert [[p.id for p in r.points] for r in results] == [ranking(vectors, q1)[:3], ranking(vectors, q2)[:4]]


def test_prefetch_rescoring_and_rrf_fusion(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    a, b = make_vectors(2, seed=5)
    rescored = client.query_points(
        collection_name, prefetch=models.Prefetch(query=a.tolist(), limit=20), query=b.tolist(), limit=5
    )
    candidates = set(ranking(vectors, a)[:20])
    assert [p.id for p in rescored.points] == ranking(vectors, b, allowed=candidates)[:5]

    fused = client.query_points(
        collection_name,
        prefetch=[models.Prefetch(query=a.tolist(), limit=10), models.Prefetch(query=b.tolist(), limit=10)],
        query=models.FusionQuery(fusion=models.Fusion.RRF),
        limit=5,
    )
    la, lb = ranking(vectors, a)[:10], ranking(vectors, b)[:10]

    def rrf(i):  # Qdrant's RRF (as the client's local mode): sum of 1 / (k + position), k = 2, positions from 0.
        return sum(1.0 / (2 + l.index(i)) for l in (la, lb) if i in l)

    union = sorted(set(la) | set(lb), key=lambda i: (-rrf(i), i))
    assert [p.id for p in fused.points] == union[:5]
    for p in fused.points:
        assert p.score == pytest.approx(rrf(p.id), rel=1e-5)


def test_order_by_and_sample(client, collection_name):
    seed_collection(client, collection_name, n=N)
    client.create_payload_index(collection_name, "price", field_schema=models.PayloadSchemaType.FLOAT)
    result = client.query_points(
        collection_name, query=models.OrderByQuery(order_by=models.OrderBy(key="price", direction="desc")), limit=3
    )
    assert [p.id for p in result.points] == [N - 1, N - 2, N - 3]
    assert result.points[0].order_value == pytest.approx((N - 1) * 1.5)
    points, _ = client.scroll(collection_name, order_by=models.OrderBy(key="price", start_from=30.0), limit=3)
    assert [p.id for p in points] == [20, 21, 22]
    sample = client.query_points(collection_name, query=models.SampleQuery(sample=models.Sample.RANDOM), limit=10)
    ids = [p.id for p in sample.points]
    assert len(ids) == len(set(ids)) == 10 and all(0 <= i < N for i in ids)


def test_query_groups(client, collection_name):
    vectors = seed_collection(client, collection_name, n=N)
    query = make_vectors(1, seed=6)[0]
    result = client.query_points_groups(
        collection_name, group_by="color", query=query.tolist(), limit=2, group_size=3, with_payload=True
    )
    expected: dict[str, list[int]] = {}
    for i in ranking(vectors, query):
        color = COLORS[i % 3]
        if color in expected:
            if len(expected[color]) < 3:
                expected[color].append(i)
        elif len(expected) < 2:
            expected[color] = [i]
    assert [(g.id, [h.id for h in g.hits]) for g in result.groups] == list(expected.items())
    assert result.groups[0].hits[0].payload["color"] == result.groups[0].id


def test_query_groups_with_lookup(client, collection_name):
    seed_collection(client, collection_name, n=12)
    owners = f"{collection_name}_owners"
    client.create_collection(owners, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    try:
        client.upsert(owners, points=[models.PointStruct(id=i, vector=[1.0, 0.0], payload={"owner": i}) for i in range(3)])
        for i in range(12):
            client.set_payload(collection_name, payload={"owner_id": i % 3}, points=[i])
        result = client.query_points_groups(
            collection_name,
            group_by="owner_id",
            query=[1.0] * DIM,
            limit=3,
            group_size=2,
            with_lookup=models.WithLookup(collection=owners, with_payload=True),
        )
        assert len(result.groups) == 3
        for group in result.groups:
            assert group.lookup.id == group.id
            assert group.lookup.payload == {"owner": group.id}
    finally:
        client.delete_collection(owners)


def test_facet(client, collection_name):
    seed_collection(client, collection_name, n=31)
    client.create_payload_index(collection_name, "color", field_schema=models.PayloadSchemaType.KEYWORD)
    client.create_payload_index(collection_name, "even", field_schema=models.PayloadSchemaType.BOOL)
    result = client.facet(collection_name, key="color")
    assert [(h.value, h.count) for h in result.hits] == [("red", 11), ("blue", 10), ("green", 10)]
    result = client.facet(collection_name, key="even", limit=1)
    assert [(h.value, h.count) for h in result.hits] == [(True, 16)]


def test_facet_with_filter(client, collection_name):
    # Relies on the filter engine: before it lands the filter matches every point.
    seed_collection(client, collection_name, n=30)
    client.create_payload_index(collection_name, "color", field_schema=models.PayloadSchemaType.KEYWORD)
    even = models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=True))])
    result = client.facet(collection_name, key="color", facet_filter=even)
    assert sorted((h.value, h.count) for h in result.hits) == [("blue", 5), ("green", 5), ("red", 5)]
