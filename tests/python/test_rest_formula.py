"""Formula rescoring of prefetches, checked against the formula computed here from the
payloads and the prefetch scores. test_grpc_formula.py runs every test again over gRPC."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from qdrant_client import models

from helpers import COLORS, DIM, make_vectors, payload, rejected, scores, seed_collection

N = 60
BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
ORIGIN = models.GeoPoint(lat=48.85, lon=2.35)
EARTH_RADIUS_M = 6371008.8


def formula_payload(i: int) -> dict:
    """`payload(i)` plus a date-time, a geo point and, on even points only, a `bonus`."""
    extra = {
        "at": (BASE_TIME + timedelta(hours=3 * i)).isoformat(),
        "loc": {"lat": 48.0 + (i % 10) * 0.07, "lon": 2.0 + (i // 10) * 0.13},
    }
    if i % 2 == 0:
        extra["bonus"] = i / 100
    return {**payload(i), **extra}


def seed(client, name: str, shard_number: int = 1) -> np.ndarray:
    return seed_collection(client, name, N, shard_number=shard_number, payload_of=formula_payload)


def prefetch_scores(vectors: np.ndarray, query: np.ndarray, limit: int) -> dict[int, float]:
    """The `limit` best points of a dot-product prefetch and their scores."""
    s = scores(vectors, query)
    best = sorted(range(len(vectors)), key=lambda i: (-s[i], i))[:limit]
    return {i: float(s[i]) for i in best}


def expected_ranking(values: dict[int, float], limit: int) -> list[tuple[int, float]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def assert_ranked(points, expected: list[tuple[int, float]]) -> None:
    assert [p.id for p in points] == [i for i, _ in expected]
    for p, (_, score) in zip(points, expected):
        assert p.score == pytest.approx(score, rel=1e-4, abs=1e-4)


def haversine_m(a: models.GeoPoint, lat: float, lon: float) -> float:
    lat1, lat2 = np.radians(a.lat), np.radians(lat)
    dlat, dlon = lat2 - lat1, np.radians(lon - a.lon)
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return float(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h)))


RED = models.FieldCondition(key="color", match=models.MatchValue(value="red"))


@pytest.mark.parametrize("shard_number", [1, 3])
def test_score_plus_condition_minus_price(client, collection_name, shard_number):
    vectors = seed(client, collection_name, shard_number)
    query = make_vectors(1, seed=11)[0]
    formula = models.FormulaQuery(
        formula=models.SumExpression(
            sum=[
                "$score",
                models.MultExpression(mult=[0.5, RED]),
                models.MultExpression(mult=[-0.001, "price"]),
            ]
        )
    )
    result = client.query_points(
        collection_name,
        prefetch=models.Prefetch(query=query.tolist(), limit=30),
        query=formula,
        limit=10,
        with_payload=True,
    )
    prefetched = prefetch_scores(vectors, query, 30)
    values = {
        i: s + 0.5 * (COLORS[i % 3] == "red") - 0.001 * payload(i)["price"] for i, s in prefetched.items()
    }
    assert_ranked(result.points, expected_ranking(values, 10))
    assert result.points[0].payload == formula_payload(result.points[0].id)


@pytest.mark.parametrize("shard_number", [1, 3])
def test_gauss_decay_on_a_datetime(client, collection_name, shard_number):
    seed(client, collection_name, shard_number)
    target = BASE_TIME + timedelta(days=2)
    scale = 86400.0
    formula = models.FormulaQuery(
        formula=models.GaussDecayExpression(
            gauss_decay=models.DecayParamsExpression(
                x=models.DatetimeKeyExpression(datetime_key="at"),
                target=models.DatetimeExpression(datetime=target.isoformat()),
                scale=scale,
                midpoint=0.25,
            )
        )
    )
    # A prefetch without a query: every point, in id order.
    result = client.query_points(
        collection_name, prefetch=models.Prefetch(limit=N), query=formula, limit=8, offset=2
    )
    values = {}
    for i in range(N):
        x = (BASE_TIME + timedelta(hours=3 * i)).timestamp()
        values[i] = float(np.exp(np.log(0.25) / scale**2 * (x - target.timestamp()) ** 2))
    assert_ranked(result.points, expected_ranking(values, 10)[2:])


def test_geo_distance_and_score_threshold(client, collection_name):
    seed(client, collection_name)
    formula = models.FormulaQuery(
        formula=models.NegExpression(neg=models.GeoDistance(geo_distance=models.GeoDistanceParams(origin=ORIGIN, to="loc")))
    )
    result = client.query_points(
        collection_name, prefetch=models.Prefetch(limit=N), query=formula, limit=N, score_threshold=-60_000.0
    )
    values = {i: -haversine_m(ORIGIN, p["loc"]["lat"], p["loc"]["lon"]) for i, p in ((i, formula_payload(i)) for i in range(N))}
    expected = [(i, v) for i, v in expected_ranking(values, N) if v >= -60_000.0]
    assert 0 < len(expected) < N
    assert_ranked(result.points, expected)


def test_defaults_fill_missing_keys_and_prefetch_scores(client, collection_name):
    vectors = seed(client, collection_name)
    q0, q1 = make_vectors(2, seed=12)
    formula = models.FormulaQuery(
        formula=models.SumExpression(sum=["$score[0]", models.MultExpression(mult=[2.0, "$score[1]"]), "bonus"]),
        defaults={"bonus": 0.25},
    )
    result = client.query_points(
        collection_name,
        prefetch=[models.Prefetch(query=q0.tolist(), limit=15), models.Prefetch(query=q1.tolist(), limit=15)],
        query=formula,
        limit=12,
    )
    s0, s1 = prefetch_scores(vectors, q0, 15), prefetch_scores(vectors, q1, 15)
    values = {}
    for i in set(s0) | set(s1):
        bonus = i / 100 if i % 2 == 0 else 0.25
        # A point absent from a prefetch has score 0 there.
        values[i] = s0.get(i, 0.0) + 2.0 * s1.get(i, 0.0) + bonus
    assert_ranked(result.points, expected_ranking(values, 12))


def test_missing_key_without_default_is_an_error(client, collection_name):
    seed(client, collection_name)
    formula = models.FormulaQuery(formula=models.SumExpression(sum=["$score", "bonus"]))
    message = rejected(lambda: client.query_points(collection_name, prefetch=models.Prefetch(limit=N), query=formula))
    assert "bonus" in message and "defaults" in message


def test_division_by_zero(client, collection_name):
    seed(client, collection_name)
    # Point 0 has price 0.
    with_default = models.FormulaQuery(
        formula=models.DivExpression(div=models.DivParams(left=1.0, right="price", by_zero_default=100.0))
    )
    result = client.query_points(collection_name, prefetch=models.Prefetch(limit=5), query=with_default, limit=5)
    values = {i: (1.0 / payload(i)["price"] if i else 100.0) for i in range(5)}
    assert_ranked(result.points, expected_ranking(values, 5))
    without = models.FormulaQuery(formula=models.DivExpression(div=models.DivParams(left=1.0, right="price")))
    message = rejected(lambda: client.query_points(collection_name, prefetch=models.Prefetch(limit=5), query=without))
    assert "non-finite" in message


def test_bad_formulas_are_refused(client, collection_name):
    seed(client, collection_name)
    prefetch = models.Prefetch(limit=5)
    bad_midpoint = models.FormulaQuery(
        formula=models.LinDecayExpression(lin_decay=models.DecayParamsExpression(x="price", midpoint=1.5))
    )
    assert "midpoint" in rejected(lambda: client.query_points(collection_name, prefetch=prefetch, query=bad_midpoint))
    not_a_number = models.FormulaQuery(formula="color")
    assert "color" in rejected(lambda: client.query_points(collection_name, prefetch=prefetch, query=not_a_number))
    sqrt_negative = models.FormulaQuery(formula=models.SqrtExpression(sqrt=models.NegExpression(neg="price")))
    assert "sqrt" in rejected(lambda: client.query_points(collection_name, prefetch=models.Prefetch(limit=5, filter=models.Filter(must=[models.HasIdCondition(has_id=[3])])), query=sqrt_negative))
    no_prefetch = models.FormulaQuery(formula="$score")
    assert "prefetch" in rejected(lambda: client.query_points(collection_name, query=no_prefetch))
