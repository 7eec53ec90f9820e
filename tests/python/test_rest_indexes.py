"""Payload indexes through the official client: integer options, full text, geo, the planner's
filtered search, order_by and facets answered from indexes, and the distance matrix. Every
answer is checked against a reference computed here from the payloads."""

import json
import math
import random
import re
import urllib.error
import urllib.request
from collections import Counter

import numpy as np
import pytest
from qdrant_client import models

from helpers import DIM, make_vectors, ranking

WORDS = ["grape", "apple", "grapefruit", "juice", "red", "wine", "Green", "tea"]


def text_of(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(1 + i % 4)) + ("!" if i % 5 == 0 else "")


def geo_of(i: int) -> dict:
    return {"lon": -10.0 + (i * 37 % 200) / 10.0, "lat": 40.0 + (i * 53 % 150) / 10.0}


def rich_payload(i: int) -> dict:
    return {
        "n": i % 17,
        "price": round(i * 0.75, 2),
        "when": f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "kind": ["a", "b", "c", "d"][i % 4],
        "flag": i % 3 == 0,
        "text": text_of(i),
        "place": geo_of(i),
    }


def seed(client, name: str, n: int = 120) -> np.ndarray:
    vectors = make_vectors(n, seed=11)
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    client.upsert(
        name,
        points=[models.PointStruct(id=i, vector=vectors[i].tolist(), payload=rich_payload(i)) for i in range(n)],
        wait=True,
    )
    return vectors


def ids_matching(client, name: str, flt: models.Filter) -> list[int]:
    points, _ = client.scroll(name, scroll_filter=flt, limit=10_000)
    return sorted(p.id for p in points)


def field(key: str, **condition) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=key, **condition)])


def words(text: str, lowercase: bool = True) -> list[str]:
    """The `word` tokenizer: runs of alphanumeric characters."""
    tokens = [t for t in re.split(r"[^0-9A-Za-z]+", text) if t]
    return [t.lower() for t in tokens] if lowercase else tokens


def haversine(a: dict, b: dict) -> float:
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat, dlon = lat2 - lat1, math.radians(b["lon"] - a["lon"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def raw(node, method: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        node.url + path, data=json.dumps(body).encode(), method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_integer_index_options_and_payload_schema(client, collection_name):
    n = 120
    seed(client, collection_name, n)
    client.create_payload_index(
        collection_name, "n", field_schema=models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=False)
    )
    client.create_payload_index(collection_name, "text", field_schema=models.TextIndexParams(type="text"))
    client.create_payload_index(collection_name, "place", field_schema=models.PayloadSchemaType.GEO)
    schema = client.get_collection(collection_name).payload_schema
    assert schema["n"].data_type == models.PayloadSchemaType.INTEGER
    assert schema["n"].params.lookup is False
    assert {k: schema[k].points for k in ["n", "text", "place"]} == {"n": n, "text": n, "place": n}
    # Without lookup the filter is still answered (checked on each point), with range too.
    assert ids_matching(client, collection_name, field("n", match=models.MatchValue(value=3))) == [
        i for i in range(n) if i % 17 == 3
    ]
    assert ids_matching(client, collection_name, field("n", range=models.Range(gt=2, lte=4))) == [
        i for i in range(n) if 2 < i % 17 <= 4
    ]
    client.delete_payload_index(collection_name, "place")
    assert "place" not in client.get_collection(collection_name).payload_schema


@pytest.mark.parametrize(
    "tokenizer,query,reference",
    [
        (models.TokenizerType.WORD, "GRAPE juice", lambda t, q: set(words(q)) <= set(words(t))),
        (models.TokenizerType.WHITESPACE, "juice", lambda t, q: q in t.lower().split()),
        (
            models.TokenizerType.PREFIX,
            "gra ju",
            lambda t, q: all(any(w.startswith(p) for w in words(t)) for p in words(q)),
        ),
    ],
)
def test_full_text_match_uses_tokens(client, collection_name, tokenizer, query, reference):
    n = 120
    seed(client, collection_name, n)
    texts = {i: text_of(i) for i in range(n)}
    substring = ids_matching(client, collection_name, field("text", match=models.MatchText(text="grape")))
    assert substring == [i for i in range(n) if "grape" in texts[i]], "unindexed: substring"
    client.create_payload_index(
        collection_name, "text", field_schema=models.TextIndexParams(type="text", tokenizer=tokenizer, lowercase=True)
    )
    found = ids_matching(client, collection_name, field("text", match=models.MatchText(text=query)))
    expected = [i for i in range(n) if reference(texts[i], query)]
    assert found == expected and found
    assert client.count(collection_name, count_filter=field("text", match=models.MatchText(text=query))).count == len(
        expected
    )


def test_text_any_phrase_and_token_options(client, collection_name):
    n = 120
    seed(client, collection_name, n)
    texts = {i: text_of(i) for i in range(n)}
    client.create_payload_index(
        collection_name,
        "text",
        field_schema=models.TextIndexParams(type="text", tokenizer="word", lowercase=False, min_token_len=4),
    )
    any_of = ids_matching(client, collection_name, field("text", match=models.MatchTextAny(text_any="wine Green tea")))
    kept = lambda t: [w for w in words(t, lowercase=False) if len(w) >= 4]  # noqa: E731
    assert any_of == [i for i in range(n) if {"wine", "Green"} & set(kept(texts[i]))]
    assert ids_matching(client, collection_name, field("text", match=models.MatchText(text="green"))) == [], "case kept"

    def holds(phrase: list[str], text: str) -> bool:
        tokens = kept(text)
        return any(tokens[k : k + len(phrase)] == phrase for k in range(len(tokens)))

    # With tokens of 4 characters or more, "juice red wine" holds the phrase "juice wine".
    for phrase in [["juice", "wine"], ["wine", "juice"]]:
        query = field("text", match=models.MatchPhrase(phrase=" ".join(phrase)))
        found = ids_matching(client, collection_name, query)
        assert found == [i for i in range(n) if holds(phrase, texts[i])] and found


def test_multilingual_tokenizer_segments_unicode_words(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    texts = ["Größe und Gewicht", "東京タワーの高さ", "the tower's height", "Grösse"]
    client.upsert(
        collection_name,
        points=[models.PointStruct(id=i, vector=[1.0, 0.0], payload={"t": t}) for i, t in enumerate(texts)],
    )
    client.create_payload_index(
        collection_name, "t", field_schema=models.TextIndexParams(type="text", tokenizer="multilingual")
    )
    assert ids_matching(client, collection_name, field("t", match=models.MatchText(text="GRÖSSE"))) == [3]
    assert ids_matching(client, collection_name, field("t", match=models.MatchText(text="größe"))) == [0]
    assert ids_matching(client, collection_name, field("t", match=models.MatchText(text="東京"))) == [1]
    assert ids_matching(client, collection_name, field("t", match=models.MatchText(text="tower's"))) == [2]


def test_geo_index_answers_radius_box_and_polygon(client, collection_name):
    n = 200
    seed(client, collection_name, n)
    places = {i: geo_of(i) for i in range(n)}
    center = {"lon": 0.0, "lat": 45.0}
    radius = field("place", geo_radius=models.GeoRadius(center=models.GeoPoint(**center), radius=400_000.0))
    box = field(
        "place",
        geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lon=-5.0, lat=50.0), bottom_right=models.GeoPoint(lon=3.0, lat=42.0)
        ),
    )
    ring = [(-8.0, 41.0), (6.0, 41.0), (6.0, 52.0), (-8.0, 41.0)]
    polygon = field(
        "place",
        geo_polygon=models.GeoPolygon(
            exterior=models.GeoLineString(points=[models.GeoPoint(lon=x, lat=y) for x, y in ring])
        ),
    )
    before = [ids_matching(client, collection_name, f) for f in (radius, box, polygon)]
    client.create_payload_index(collection_name, "place", field_schema=models.PayloadSchemaType.GEO)
    after = [ids_matching(client, collection_name, f) for f in (radius, box, polygon)]
    assert after == before, "the index changes how points are found, not which"
    assert after[0] == [i for i in range(n) if haversine(center, places[i]) <= 400_000.0] and after[0]
    assert after[1] == [i for i in range(n) if -5 <= places[i]["lon"] <= 3 and 42 <= places[i]["lat"] <= 50]
    assert after[2] and len(after[2]) < n


def test_bad_index_requests_get_qdrant_errors(grape_node, rest_client, collection_name):
    seed(rest_client, collection_name, 10)
    for schema in [
        {"type": "text", "tokenizer": "camel"},
        {"type": "integer", "lookup": False, "range": False},
        "vector",
    ]:
        status, body = raw(grape_node, "PUT", f"/collections/{collection_name}/index", {
            "field_name": "text", "field_schema": schema})
        assert status == 400, body
        assert "field_schema" in body["status"]["error"]
    status, body = raw(grape_node, "POST", f"/collections/{collection_name}/points/scroll", {
        "order_by": "price"})
    assert status == 400 and "No range index for `order_by` key" in body["status"]["error"]
    assert "text" not in rest_client.get_collection(collection_name).payload_schema


def test_filtered_search_plans_match_brute_force(client, collection_name):
    n = 5000
    vectors = make_vectors(n, seed=5)
    # 10 KB of 8-d vectors is 320 points: above it, searches are planned by cost. Each `tag`
    # value holds 2,500 points, enough for value graphs.
    client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        hnsw_config=models.HnswConfigDiff(full_scan_threshold=10),
    )
    client.upsert(
        collection_name,
        points=[
            models.PointStruct(id=i, vector=vectors[i].tolist(), payload={"g": i % 100, "tag": f"t{i % 2}"})
            for i in range(n)
        ],
        wait=True,
    )
    client.create_payload_index(collection_name, "g", field_schema=models.PayloadSchemaType.INTEGER)
    client.create_payload_index(collection_name, "tag", field_schema=models.PayloadSchemaType.KEYWORD)
    filters = {
        "selective": (field("g", match=models.MatchValue(value=7)), lambda i: i % 100 == 7),
        "range": (field("g", range=models.Range(lt=30)), lambda i: i % 100 < 30),
        "keyword": (field("tag", match=models.MatchValue(value="t1")), lambda i: i % 2 == 1),
        "must_not": (
            models.Filter(must_not=[models.FieldCondition(key="g", range=models.Range(gte=10))]),
            lambda i: i % 100 < 10,
        ),
        "should": (
            models.Filter(
                should=[
                    models.FieldCondition(key="g", match=models.MatchValue(value=3)),
                    models.FieldCondition(key="g", match=models.MatchAny(any=[1, 2])),
                ]
            ),
            lambda i: i % 100 in (1, 2, 3),
        ),
    }
    queries = make_vectors(20, seed=9)
    for name, (flt, keep) in filters.items():
        allowed = {i for i in range(n) if keep(i)}
        hits, wanted = 0, 0
        for q in queries:
            expected = ranking(vectors, q, allowed=allowed)[:10]
            exact = client.query_points(
                collection_name, query=q.tolist(), query_filter=flt, limit=10,
                search_params=models.SearchParams(exact=True),
            )
            assert [p.id for p in exact.points] == expected, name
            found = client.query_points(
                collection_name, query=q.tolist(), query_filter=flt, limit=10,
                search_params=models.SearchParams(hnsw_ef=32),
            )
            assert all(keep(p.id) for p in found.points), name
            hits += len(set(p.id for p in found.points) & set(expected))
            wanted += len(expected)
        assert hits / wanted >= 0.95, f"{name}: recall {hits / wanted}"
        assert client.count(collection_name, count_filter=flt).count == len(allowed), name


@pytest.mark.parametrize("key,kind", [("n", "integer"), ("price", "float"), ("when", "datetime")])
def test_scroll_order_by_reads_the_index(client, collection_name, key, kind):
    n = 120
    seed(client, collection_name, n)
    client.create_payload_index(collection_name, key, field_schema=kind)
    payloads = {i: rich_payload(i) for i in range(n)}
    value = lambda i: payloads[i][key]  # noqa: E731
    flag = field("flag", match=models.MatchValue(value=True))
    for direction in ["asc", "desc"]:
        desc = direction == "desc"
        ordered = sorted(range(n), key=lambda i: (value(i), i) if not desc else (_neg(value(i)), i))
        points, next_offset = client.scroll(collection_name, order_by=models.OrderBy(key=key, direction=direction), limit=15)
        assert [p.id for p in points] == ordered[:15] and next_offset is None
        assert points[0].order_value is not None
        start = value(ordered[40])
        points, _ = client.scroll(
            collection_name,
            order_by=models.OrderBy(key=key, direction=direction, start_from=start),
            scroll_filter=flag,
            limit=10,
        )
        kept = [i for i in ordered if payloads[i]["flag"] and ((value(i) >= start) != desc or value(i) == start)]
        assert [p.id for p in points] == kept[:10]


def _neg(value):
    return -value if isinstance(value, (int, float)) else tuple(-ord(c) for c in value)


def test_facets_count_from_the_index(client, collection_name):
    n = 120
    seed(client, collection_name, n)
    for key, schema in [("kind", "keyword"), ("n", "integer"), ("flag", "bool"), ("text", "text")]:
        client.create_payload_index(collection_name, key, field_schema=schema)
    payloads = [rich_payload(i) for i in range(n)]

    def reference(key, keep=lambda p: True, limit=10):
        counts = Counter(p[key] for p in payloads if keep(p))
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    hits = lambda r: [(h.value, h.count) for h in r.hits]  # noqa: E731
    assert hits(client.facet(collection_name, key="kind")) == reference("kind")
    assert hits(client.facet(collection_name, key="n", limit=5)) == reference("n", limit=5)
    cheap = field("price", range=models.Range(lt=40))
    expected = reference("kind", lambda p: p["price"] < 40)
    assert hits(client.facet(collection_name, key="kind", facet_filter=cheap, exact=True)) == expected
    flagged = field("flag", match=models.MatchValue(value=True))
    assert hits(client.facet(collection_name, key="n", facet_filter=flagged)) == reference(
        "n", lambda p: p["flag"]
    ), "a filter the indexes answer exactly gives exact counts even when approximate"
    approximate = hits(client.facet(collection_name, key="kind", facet_filter=cheap, exact=False))
    assert {v for v, _ in approximate} == {v for v, _ in expected}
    assert hits(client.facet(collection_name, key="flag")) == reference("flag")
    with pytest.raises(Exception) as error:
        client.facet(collection_name, key="text")
    assert "Index required" in str(error.value) or "INVALID_ARGUMENT" in str(error.value)


def test_search_matrix_pairs_and_offsets(client, collection_name):
    n = 30
    vectors = seed(client, collection_name, n)
    flt = field("flag", match=models.MatchValue(value=False))
    allowed = [i for i in range(n) if not rich_payload(i)["flag"]]
    pairs = client.search_matrix_pairs(collection_name, query_filter=flt, sample=len(allowed), limit=3)
    by_a: dict[int, list] = {}
    for pair in pairs.pairs:
        by_a.setdefault(pair.a, []).append(pair)
    assert sorted(by_a) == allowed
    for a, row in by_a.items():
        others = [i for i in allowed if i != a]
        expected = ranking(vectors, vectors[a], allowed=set(others))[:3]
        assert [p.b for p in row] == expected
        for p in row:
            assert p.score == pytest.approx(float(vectors[a] @ vectors[p.b]), rel=1e-4, abs=1e-5)
    offsets = client.search_matrix_offsets(collection_name, sample=5, limit=2)
    assert len(set(offsets.ids)) == 5
    assert len(offsets.offsets_row) == len(offsets.offsets_col) == len(offsets.scores) == 10
    for row, col, score in zip(offsets.offsets_row, offsets.offsets_col, offsets.scores):
        a, b = offsets.ids[row], offsets.ids[col]
        assert a != b and score == pytest.approx(float(vectors[a] @ vectors[b]), rel=1e-4, abs=1e-5)
