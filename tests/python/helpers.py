"""Data and brute-force references shared by the tests."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

DIM = 8
COLORS = ["red", "green", "blue"]


def make_vectors(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def payload(i: int) -> dict:
    return {"i": i, "color": COLORS[i % 3], "even": i % 2 == 0, "price": float(i) * 1.5}


def seed_collection(
    client: QdrantClient,
    name: str,
    n: int = 60,
    distance=models.Distance.DOT,
    shard_number: int = 1,
    payload_of=payload,
    vector_seed: int = 7,
) -> np.ndarray:
    """Creates `name` with `n` points (ids 0..n, payload from `payload_of`) and returns the
    vectors."""
    vectors = make_vectors(n, vector_seed)
    client.create_collection(
        name, vectors_config=models.VectorParams(size=DIM, distance=distance), shard_number=shard_number
    )
    client.upsert(
        name,
        points=[
            models.PointStruct(id=i, vector=vectors[i].tolist(), payload=payload_of(i)) for i in range(n)
        ],
        wait=True,
    )
    return vectors


def scores(vectors: np.ndarray, query: np.ndarray, distance=models.Distance.DOT) -> np.ndarray:
    """Qdrant-convention scores of every stored vector against `query`."""
    if distance == models.Distance.DOT:
        return vectors @ query
    if distance == models.Distance.COSINE:
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return v @ (query / np.linalg.norm(query))
    if distance == models.Distance.EUCLID:
        return np.linalg.norm(vectors - query, axis=1)
    return np.abs(vectors - query).sum(axis=1)


def ranking(vectors: np.ndarray, query: np.ndarray, distance=models.Distance.DOT, allowed=None) -> list[int]:
    """Point ids best first (ties by id), optionally restricted to `allowed` ids."""
    s = scores(vectors, query, distance)
    ids = [i for i in range(len(vectors)) if allowed is None or i in allowed]
    higher_is_better = distance in (models.Distance.DOT, models.Distance.COSINE)
    return sorted(ids, key=lambda i: (-s[i] if higher_is_better else s[i], i))


def rejected(call) -> str:
    """Runs `call`, which must fail with HTTP 400 or gRPC InvalidArgument; returns the message."""
    with pytest.raises((UnexpectedResponse, grpc.RpcError)) as error:
        call()
    if isinstance(error.value, UnexpectedResponse):
        assert error.value.status_code == 400
        return error.value.content.decode()
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return error.value.details()
