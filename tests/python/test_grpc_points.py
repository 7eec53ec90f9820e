"""Point writes and reads over gRPC (`prefer_grpc=True`): the transport-independent tests of
test_rest_points.py run again here, plus what differs on gRPC."""

import grpc
import pytest
from qdrant_client import models

from helpers import DIM, payload, seed_collection
from test_rest_points import (  # noqa: F401 - collected again, over gRPC
    test_batch_update_points_applies_in_order,
    test_delete_by_ids_and_by_filter,
    test_named_vectors_update_and_delete,
    test_payload_set_overwrite_delete_clear,
    test_scroll_and_count_with_filter,
    test_scroll_pages_through_everything_in_id_order,
    test_upsert_points_and_batch_then_retrieve,
)


@pytest.fixture(params=[pytest.param(True, id="grpc")])
def prefer_grpc(request) -> bool:
    return request.param


def test_with_payload_variations_over_grpc(client, collection_name):
    # gRPC has no "no payload" distinct from an empty map: the client shows {} (as with Qdrant).
    seed_collection(client, collection_name, n=3)
    (r,) = client.retrieve(collection_name, ids=[1], with_payload=False)
    assert r.payload == {} and r.vector is None
    (r,) = client.retrieve(collection_name, ids=[1], with_payload=["color", "i"])
    assert r.payload == {"color": "green", "i": 1}
    (r,) = client.retrieve(
        collection_name, ids=[1], with_payload=models.PayloadSelectorExclude(exclude=["color", "price"])
    )
    assert r.payload == {"i": 1, "even": False}


def test_write_errors_carry_grpc_codes_and_write_nothing(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    good = models.PointStruct(id=1, vector=[1.0] * DIM, payload=payload(1))
    bad = models.PointStruct(id=2, vector=[1.0, 2.0])
    with pytest.raises(grpc.RpcError) as bad_dim:
        client.upsert(collection_name, points=[good, bad])
    assert bad_dim.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dimension" in bad_dim.value.details()
    assert client.count(collection_name).count == 0

    with pytest.raises(grpc.RpcError) as missing_point:
        client.set_payload(collection_name, payload={"a": 1}, points=[42])
    assert missing_point.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.RpcError) as missing_collection:
        client.upsert(f"{collection_name}_missing", points=[good])
    assert missing_collection.value.code() == grpc.StatusCode.NOT_FOUND
    assert "doesn't exist" in missing_collection.value.details()
