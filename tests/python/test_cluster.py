"""A three-node cluster through the official client: every node, over REST and gRPC, serves
the same replicated collection, and the cluster endpoints parse as the client's models."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qdrant_client import models

from conftest import GrapeNode, free_port
from helpers import DIM, make_vectors, payload, scores


def start_member(bootstrap: str | None = None) -> GrapeNode:
    p2p = free_port()
    args = ["--p2p-port", str(p2p), "--uri", f"http://127.0.0.1:{p2p}"]
    if bootstrap:
        args += ["--bootstrap", bootstrap]
    node = GrapeNode(*args)
    node.p2p_uri = f"http://127.0.0.1:{p2p}"
    return node


@pytest.fixture(scope="module")
def cluster():
    first = start_member()
    nodes = [first, start_member(first.p2p_uri), start_member(first.p2p_uri)]
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture(params=[pytest.param(False, id="rest"), pytest.param(True, id="grpc")])
def clients(cluster, request):
    made = [node.client(prefer_grpc=request.param) for node in cluster]
    yield made
    for c in made:
        c.close()


def wait_until(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_every_node_lists_every_peer(cluster):
    rest = [node.client() for node in cluster]
    statuses = [c.http.distributed_api.cluster_status().result for c in rest]
    peer_ids = {s.peer_id for s in statuses}
    assert len(peer_ids) == 3
    for status in statuses:
        assert status.status == "enabled"
        assert set(int(p) for p in status.peers) == peer_ids
        assert status.raft_info.leader in peer_ids
    assert sum(s.raft_info.role == models.StateRole.LEADER for s in statuses) == 1


def test_a_replicated_collection_is_one_collection_through_any_node(clients, request):
    name = f"cluster_{request.node.callspec.id}"
    first, second, third = clients
    first.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        shard_number=3,
        replication_factor=3,
    )
    vectors = make_vectors(90)
    points = [models.PointStruct(id=i, vector=vectors[i].tolist(), payload=payload(i)) for i in range(90)]
    second.upsert(name, points=points[:45], wait=True)
    third.upsert(name, points=points[45:], wait=True)

    for c in clients:
        assert c.collection_exists(name)
        # A default read is served by the node's own replica, which applies the log a
        # moment after the leader acknowledged the write: it converges.
        wait_until(lambda: c.count(name, exact=True).count == 90, "every write on every node")
        info = c.get_collection(name)
        assert info.config.params.shard_number == 3
        assert info.config.params.replication_factor == 3

    query = make_vectors(1, seed=99)[0]
    expected = list(np.argsort(-scores(vectors, query))[:10])
    for c in clients:
        hits = c.query_points(
            name,
            query=query.tolist(),
            limit=10,
            consistency=models.ReadConsistencyType.MAJORITY,
        ).points
        assert [h.id for h in hits] == expected
    record = third.retrieve(name, ids=[7], with_payload=True)[0]
    assert record.payload == payload(7)
    first.delete_collection(name)
    wait_until(lambda: not any(c.collection_exists(name) for c in clients), "the delete everywhere")


def test_collection_cluster_info_shows_every_replica(cluster):
    c = cluster[1].client()
    name = "cluster_info"
    c.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        shard_number=2,
        replication_factor=2,
    )

    def all_active():
        info = c.http.distributed_api.collection_cluster_info(name).result
        replicas = [s.state for s in info.local_shards] + [s.state for s in info.remote_shards]
        return info if len(replicas) == 4 and all(s == models.ReplicaState.ACTIVE for s in replicas) else None

    info = wait_until(all_active, "every replica active")
    assert info.shard_count == 2
    assert info.peer_id == c.http.distributed_api.cluster_status().result.peer_id
    c.delete_collection(name)


def test_a_shard_moves_and_replicates_through_the_client(cluster, clients, request):
    name = f"cluster_move_{request.node.callspec.id}"
    first, second, _ = clients
    first.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        shard_number=1,
        replication_factor=1,
    )
    vectors = make_vectors(200)
    points = [models.PointStruct(id=i, vector=vectors[i].tolist(), payload=payload(i)) for i in range(200)]
    first.upsert(name, points=points, wait=True)
    peers = {n.client().cluster_status().peer_id for n in cluster}

    def holders():
        info = second.collection_cluster_info(name)
        local = {info.peer_id} if info.local_shards else set()
        placed = local | {s.peer_id for s in info.remote_shards}
        return placed, info

    def settled(expected):
        placed, info = holders()
        return not info.shard_transfers and placed == expected

    (source,), _ = holders()
    target = min(peers - {source})
    moved = second.cluster_collection_update(
        name,
        cluster_operation=models.MoveShardOperation(
            move_shard=models.MoveShard(shard_id=0, from_peer_id=source, to_peer_id=target)
        ),
    )
    assert moved is True
    wait_until(lambda: settled({target}), "the move")
    assert first.count(name, exact=True).count == 200

    third_peer = max(peers - {target})
    second.cluster_collection_update(
        name,
        cluster_operation=models.ReplicateShardOperation(
            replicate_shard=models.ReplicateShard(shard_id=0, from_peer_id=target, to_peer_id=third_peer)
        ),
    )
    wait_until(lambda: settled({target, third_peer}), "the replication")
    second.cluster_collection_update(
        name,
        cluster_operation=models.DropReplicaOperation(
            drop_replica=models.Replica(shard_id=0, peer_id=target)
        ),
    )
    wait_until(lambda: settled({third_peer}), "the drop")
    for c in clients:
        assert c.count(name, exact=True).count == 200
        assert c.retrieve(name, ids=[17], with_payload=True)[0].payload == payload(17)

    # The last replica cannot go; a transfer from a peer without the shard is refused.
    with pytest.raises(Exception) as refused:
        first.cluster_collection_update(
            name,
            cluster_operation=models.DropReplicaOperation(
                drop_replica=models.Replica(shard_id=0, peer_id=third_peer)
            ),
        )
    assert "last replica" in str(refused.value)
    with pytest.raises(Exception) as refused:
        first.cluster_collection_update(
            name,
            cluster_operation=models.MoveShardOperation(
                move_shard=models.MoveShard(shard_id=0, from_peer_id=target, to_peer_id=source)
            ),
        )
    assert "no replica on peer" in str(refused.value)
    first.delete_collection(name)


def test_a_write_is_visible_on_every_node_at_once(clients, request):
    # As with Qdrant, wait=true answers once every live replica applied the write: the next
    # read at the default consistency sees it through any node, with no retry.
    name = f"cluster_visible_{request.node.callspec.id}"
    first = clients[0]
    first.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        shard_number=1,
        replication_factor=3,
    )
    for i in range(30):
        writer = clients[i % 3]
        writer.upsert(name, points=[models.PointStruct(id=i, vector=[float(i)] * DIM)], wait=True)
        for reader in clients:
            assert reader.count(name, exact=True).count == i + 1
            assert [p.id for p in reader.retrieve(name, ids=[i])] == [i]
    first.delete_collection(name)


def test_removing_a_peer_that_holds_replicas_needs_force(cluster):
    c = cluster[0].client()
    name = "cluster_remove"
    c.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        shard_number=1,
        replication_factor=3,
    )
    third = cluster[2].client()  # held: a client closes its connections when collected
    peer = third.http.distributed_api.cluster_status().result.peer_id
    with pytest.raises(Exception) as refused:
        c.http.distributed_api.remove_peer(peer, force=False)
    assert "shards on it" in str(refused.value)
    assert len(c.http.distributed_api.cluster_status().result.peers) == 3

    # Forced, the peer goes with its replicas; the others still serve the collection.
    c.upsert(name, points=[models.PointStruct(id=1, vector=[1.0] * DIM)], wait=True)
    assert c.http.distributed_api.remove_peer(peer, force=True).result is True
    assert len(c.http.distributed_api.cluster_status().result.peers) == 2
    info = c.http.distributed_api.collection_cluster_info(name).result
    holders = {s.peer_id for s in info.remote_shards} | {info.peer_id}
    assert peer not in holders
    assert c.count(name, exact=True).count == 1
    c.upsert(name, points=[models.PointStruct(id=2, vector=[2.0] * DIM)], wait=True)
    assert cluster[1].client().count(name, exact=True).count == 2
