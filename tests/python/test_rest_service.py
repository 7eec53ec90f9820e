"""Service endpoints, the client's version check, API keys and error handling."""

import importlib.metadata
import urllib.request
import warnings

import pytest
from qdrant_client import models
from qdrant_client.common.version_check import is_compatible
from qdrant_client.http.exceptions import UnexpectedResponse
from qdrant_client.qdrant_remote import QdrantRemote

from helpers import DIM


def test_info_and_version_check(client, grape_node):
    info = client.info()
    assert info.title == "grape"
    assert info.version == "1.18.3"
    assert is_compatible(importlib.metadata.version("qdrant-client"), info.version)
    # The check the client runs in a background thread at start-up, run here: no warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        QdrantRemote._check_compatibility(grape_node.url, {}, None, 5)
    assert [str(w.message) for w in caught] == []


def test_health_and_metrics(grape_node):
    for path in ("/healthz", "/livez", "/readyz"):
        with urllib.request.urlopen(grape_node.url + path) as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/plain")
    text = urllib.request.urlopen(grape_node.url + "/metrics").read().decode()
    assert "rest_responses_total" in text and "collections_total" in text


def test_api_key(start_node):
    node = start_node("--api-key", "s3cret")
    with pytest.raises(UnexpectedResponse) as denied:
        node.client().get_collections()
    assert denied.value.status_code == 401
    authorized = node.client(api_key="s3cret")
    authorized.create_collection("keyed", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    assert [c.name for c in authorized.get_collections().collections] == ["keyed"]


def test_bad_requests_are_4xx(client, collection_name):
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    with pytest.raises(UnexpectedResponse) as e:
        client.query_points(collection_name, query=[1.0, 2.0])
    assert e.value.status_code == 400
    with pytest.raises(UnexpectedResponse) as e:
        client.query_points(collection_name, query=42)
    assert e.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as e:
        client.scroll(f"{collection_name}_missing")
    assert e.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as e:
        client.facet(collection_name, key="unindexed")
    assert e.value.status_code == 400
