"""Search, the Query API, recommend, groups and facets over gRPC (`prefer_grpc=True`): every
test of test_rest_search.py runs again here, plus gRPC error codes."""

import grpc
import pytest
from qdrant_client import models

from helpers import DIM
from test_rest_search import *  # noqa: F401,F403 - collected again, over gRPC


@pytest.fixture(params=[pytest.param(True, id="grpc")])
def prefer_grpc(request) -> bool:
    return request.param


def test_query_errors_carry_grpc_codes(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    with pytest.raises(grpc.RpcError) as wrong_dim:
        client.query_points(collection_name, query=[1.0, 2.0])
    assert wrong_dim.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing_point:
        client.query_points(collection_name, query=42)
    assert missing_point.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as unindexed:
        client.facet(collection_name, key="unindexed")
    assert unindexed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as sparse:
        client.query_points(collection_name, query=models.SparseVector(indices=[1], values=[0.5]))
    assert sparse.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sparse" in sparse.value.details()
