"""Point writes and reads through the official client."""

import uuid

import numpy as np
import pytest
from qdrant_client import models

from helpers import DIM, make_vectors, payload, seed_collection


def test_upsert_points_and_batch_then_retrieve(client, collection_name):
    vectors = seed_collection(client, collection_name, n=10)
    point_uuid = str(uuid.uuid4())
    extra = make_vectors(2, seed=99)
    result = client.upsert(
        collection_name,
        points=models.Batch(ids=[100, point_uuid], vectors=extra.tolist(), payloads=[{"b": 1}, {"b": 2}]),
        wait=True,
    )
    assert result.status == models.UpdateStatus.COMPLETED
    assert client.count(collection_name, exact=True).count == 12

    records = client.retrieve(collection_name, ids=[3, 100, point_uuid, 12345], with_vectors=True)
    assert [r.id for r in records] == [3, 100, point_uuid]
    assert records[0].payload == payload(3)
    np.testing.assert_allclose(records[0].vector, vectors[3], rtol=1e-6)
    np.testing.assert_allclose(records[2].vector, extra[1], rtol=1e-6)
    assert records[1].payload == {"b": 1}

    # Upsert replaces.
    client.upsert(collection_name, points=[models.PointStruct(id=3, vector=[0.0] * DIM, payload={"new": True})])
    (record,) = client.retrieve(collection_name, ids=[3], with_vectors=True)
    assert record.payload == {"new": True}
    assert record.vector == [0.0] * DIM


def test_with_payload_variations(client, collection_name):
    # Include/exclude selection is done by grape::payload::select; the stub in place before
    # the payload module lands returns the whole payload, so this fails until then.
    seed_collection(client, collection_name, n=3)
    (r,) = client.retrieve(collection_name, ids=[1], with_payload=False)
    assert r.payload is None and r.vector is None
    (r,) = client.retrieve(collection_name, ids=[1], with_payload=["color", "i"])
    assert r.payload == {"color": "green", "i": 1}
    (r,) = client.retrieve(
        collection_name, ids=[1], with_payload=models.PayloadSelectorExclude(exclude=["color", "price"])
    )
    assert r.payload == {"i": 1, "even": False}
    (r,) = client.retrieve(collection_name, ids=[1], with_payload=models.PayloadSelectorInclude(include=["even"]))
    assert r.payload == {"even": False}


def test_scroll_pages_through_everything_in_id_order(client, collection_name):
    seed_collection(client, collection_name, n=35)
    seen, offset = [], None
    while True:
        points, offset = client.scroll(collection_name, limit=10, offset=offset, with_payload=True)
        assert len(points) <= 10
        seen += [p.id for p in points]
        assert all(p.payload == payload(p.id) for p in points)
        if offset is None:
            break
    assert seen == list(range(35))


def test_scroll_and_count_with_filter(client, collection_name):
    # Relies on the filter engine: every point would match before it lands.
    seed_collection(client, collection_name, n=30)
    red = models.Filter(must=[models.FieldCondition(key="color", match=models.MatchValue(value="red"))])
    assert client.count(collection_name, count_filter=red, exact=True).count == 10
    points, _ = client.scroll(collection_name, scroll_filter=red, limit=100)
    assert [p.id for p in points] == list(range(0, 30, 3))


def test_payload_set_overwrite_delete_clear(client, collection_name):
    seed_collection(client, collection_name, n=5)
    client.set_payload(collection_name, payload={"extra": [1, 2], "i": -1}, points=[1, 2], wait=True)
    (r,) = client.retrieve(collection_name, ids=[1])
    assert r.payload == {**payload(1), "extra": [1, 2], "i": -1}
    client.overwrite_payload(collection_name, payload={"only": "this"}, points=[1])
    assert client.retrieve(collection_name, ids=[1])[0].payload == {"only": "this"}
    client.delete_payload(collection_name, keys=["extra", "color"], points=[2])
    expected = {**payload(2), "i": -1}
    del expected["color"]
    assert client.retrieve(collection_name, ids=[2])[0].payload == expected
    client.clear_payload(collection_name, points_selector=[2, 3])
    assert [r.payload for r in client.retrieve(collection_name, ids=[2, 3])] == [{}, {}]
    # Untouched points keep their payload.
    assert client.retrieve(collection_name, ids=[4])[0].payload == payload(4)


def test_named_vectors_update_and_delete(client, collection_name):
    client.create_collection(
        collection_name,
        vectors_config={
            "a": models.VectorParams(size=2, distance=models.Distance.EUCLID),
            "b": models.VectorParams(size=3, distance=models.Distance.DOT),
        },
    )
    client.upsert(
        collection_name,
        points=[
            models.PointStruct(id=1, vector={"a": [1.0, 2.0], "b": [1.0, 0.0, 0.0]}),
            models.PointStruct(id=2, vector={"a": [0.0, 0.0]}),
        ],
    )
    client.update_vectors(collection_name, points=[models.PointVectors(id=2, vector={"b": [0.0, 1.0, 0.0]})])
    (r,) = client.retrieve(collection_name, ids=[2], with_vectors=True)
    assert r.vector == {"a": [0.0, 0.0], "b": [0.0, 1.0, 0.0]}
    client.delete_vectors(collection_name, vectors=["b"], points=[1])
    (r,) = client.retrieve(collection_name, ids=[1], with_vectors=True)
    assert r.vector == {"a": [1.0, 2.0]}
    (r,) = client.retrieve(collection_name, ids=[1], with_vectors=["a"])
    assert r.vector == {"a": [1.0, 2.0]}


def test_batch_update_points_applies_in_order(client, collection_name):
    seed_collection(client, collection_name, n=5)
    results = client.batch_update_points(
        collection_name,
        update_operations=[
            models.UpsertOperation(
                upsert=models.PointsList(points=[models.PointStruct(id=10, vector=[1.0] * DIM, payload={"n": 1})])
            ),
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"n": 2}, points=[10])),
            models.DeleteOperation(delete=models.PointIdsList(points=[0])),
            models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["color"], points=[1])),
            models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[2])),
            models.UpdateVectorsOperation(
                update_vectors=models.UpdateVectors(points=[models.PointVectors(id=3, vector=[2.0] * DIM)])
            ),
        ],
    )
    assert len(results) == 6
    by_id = {r.id: r for r in client.retrieve(collection_name, ids=[0, 1, 2, 3, 10], with_vectors=True)}
    assert set(by_id) == {1, 2, 3, 10}
    assert by_id[10].payload == {"n": 2}
    assert "color" not in by_id[1].payload
    assert by_id[2].payload == {}
    assert by_id[3].vector == [2.0] * DIM


def test_delete_by_ids_and_by_filter(client, collection_name):
    seed_collection(client, collection_name, n=12)
    client.delete(collection_name, points_selector=models.PointIdsList(points=[0, 1]))
    assert client.count(collection_name).count == 10
    # Relies on the filter engine: before it lands the filter matches every point.
    client.delete(
        collection_name,
        points_selector=models.FilterSelector(
            filter=models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=True))])
        ),
    )
    remaining, _ = client.scroll(collection_name, limit=100)
    assert [p.id for p in remaining] == [3, 5, 7, 9, 11]
