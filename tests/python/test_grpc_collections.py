"""Collections, aliases, payload indexes, snapshots, the health check and API keys over gRPC
(`prefer_grpc=True`)."""

import importlib.metadata
import urllib.request

import grpc
import pytest
from qdrant_client import models
from qdrant_client.common.version_check import is_compatible

from helpers import DIM, seed_collection
from test_rest_collections import (  # noqa: F401 - collected again, over gRPC
    test_aliases,
    test_create_get_list_update_delete,
    test_named_vectors_config,
    test_payload_index_create_and_delete,
)


@pytest.fixture(params=[pytest.param(True, id="grpc")])
def prefer_grpc(request) -> bool:
    return request.param


def test_info_reports_the_qdrant_api_version(client):
    info = client.info()
    assert info.title == "grape"
    assert info.version == "1.18.3"
    assert is_compatible(importlib.metadata.version("qdrant-client"), info.version)


def test_collection_errors_carry_grpc_codes(client, collection_name):
    with pytest.raises(grpc.RpcError) as missing:
        client.get_collection(collection_name)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert collection_name in missing.value.details()
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    with pytest.raises(grpc.RpcError) as exists:
        client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "already exists" in exists.value.details()
    with pytest.raises(grpc.RpcError) as clash:
        client.create_collection(
            f"{collection_name}_clash",
            vectors_config={"s": models.VectorParams(size=DIM, distance=models.Distance.DOT)},
            sparse_vectors_config={"s": models.SparseVectorParams()},
        )
    assert clash.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not client.collection_exists(f"{collection_name}_clash")


def test_snapshots_are_created_listed_and_deleted(client, grape_node, collection_name):
    seed_collection(client, collection_name, n=20)
    description = client.create_snapshot(collection_name)
    assert description.size > 0
    assert [s.name for s in client.list_snapshots(collection_name)] == [description.name]
    # The file made through gRPC is served by REST.
    url = f"{grape_node.url}/collections/{collection_name}/snapshots/{description.name}"
    assert len(urllib.request.urlopen(url).read()) == description.size
    assert client.delete_snapshot(collection_name, description.name) is not False
    assert client.list_snapshots(collection_name) == []


def test_api_keys_over_grpc(start_node):
    node = start_node("--api-key", "s3cret", "--read-only-api-key", "reader")
    admin = node.client(prefer_grpc=True, api_key="s3cret")
    admin.create_collection("keyed", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    with pytest.raises(grpc.RpcError) as denied:
        node.client(prefer_grpc=True).get_collections()
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reader = node.client(prefer_grpc=True, api_key="reader")
    assert [c.name for c in reader.get_collections().collections] == ["keyed"]
    with pytest.raises(grpc.RpcError) as read_only:
        reader.delete_collection("keyed")
    assert read_only.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert admin.collection_exists("keyed")
