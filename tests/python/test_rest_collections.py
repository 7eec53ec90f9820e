"""Collections, aliases and payload indexes through the official client."""

import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from helpers import DIM, seed_collection


def test_create_get_list_update_delete(client, collection_name):
    assert not client.collection_exists(collection_name)
    assert client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64),
    )
    assert client.collection_exists(collection_name)
    info = client.get_collection(collection_name)
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 0
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert info.config.hnsw_config.m == 8
    assert collection_name in [c.name for c in client.get_collections().collections]

    assert client.update_collection(collection_name, hnsw_config=models.HnswConfigDiff(ef_construct=32))
    assert client.get_collection(collection_name).config.hnsw_config.ef_construct == 32

    assert client.delete_collection(collection_name)
    assert not client.collection_exists(collection_name)
    assert client.delete_collection(collection_name) is False


def test_named_vectors_config(client, collection_name):
    client.create_collection(
        collection_name,
        vectors_config={
            "image": models.VectorParams(size=4, distance=models.Distance.EUCLID),
            "text": models.VectorParams(size=3, distance=models.Distance.DOT),
        },
    )
    vectors = client.get_collection(collection_name).config.params.vectors
    assert vectors["image"].size == 4 and vectors["image"].distance == models.Distance.EUCLID
    assert vectors["text"].size == 3


def test_errors_raise_unexpected_response(client, collection_name):
    with pytest.raises(UnexpectedResponse) as missing:
        client.get_collection(collection_name)
    assert missing.value.status_code == 404
    client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    with pytest.raises(UnexpectedResponse) as exists:
        client.create_collection(collection_name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    assert exists.value.status_code == 409
    assert "already exists" in str(exists.value)
    with pytest.raises(UnexpectedResponse) as bad_dim:
        client.upsert(collection_name, points=[models.PointStruct(id=1, vector=[1.0, 2.0])])
    assert bad_dim.value.status_code == 400
    assert "dimension" in str(bad_dim.value)
    assert client.count(collection_name).count == 0


def test_aliases(client, collection_name):
    seed_collection(client, collection_name, n=5)
    alias = f"{collection_name}_alias"
    assert client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection_name, alias_name=alias))
        ]
    )
    aliases = client.get_collection_aliases(collection_name).aliases
    assert [(a.alias_name, a.collection_name) for a in aliases] == [(alias, collection_name)]
    assert (alias, collection_name) in [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases]
    # Reads through the alias see the collection.
    assert client.count(alias).count == 5

    renamed = f"{collection_name}_renamed"
    client.update_collection_aliases(
        change_aliases_operations=[
            models.RenameAliasOperation(rename_alias=models.RenameAlias(old_alias_name=alias, new_alias_name=renamed))
        ]
    )
    assert [a.alias_name for a in client.get_collection_aliases(collection_name).aliases] == [renamed]
    client.update_collection_aliases(
        change_aliases_operations=[models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=renamed))]
    )
    assert client.get_collection_aliases(collection_name).aliases == []


def test_payload_index_create_and_delete(client, collection_name):
    seed_collection(client, collection_name, n=10)
    result = client.create_payload_index(collection_name, "color", field_schema=models.PayloadSchemaType.KEYWORD)
    assert result.status == models.UpdateStatus.COMPLETED
    client.create_payload_index(
        collection_name, "i", field_schema=models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, range=True)
    )
    schema = client.get_collection(collection_name).payload_schema
    assert schema["color"].data_type == models.PayloadSchemaType.KEYWORD
    assert schema["color"].points == 10
    assert schema["i"].data_type == models.PayloadSchemaType.INTEGER
    client.delete_payload_index(collection_name, "color")
    assert set(client.get_collection(collection_name).payload_schema) == {"i"}
