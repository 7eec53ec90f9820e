"""Fixtures that run a real grape-node and connect the official qdrant-client to it.

The binary comes from GRAPE_NODE_BIN (scripts/test sets it), else target/debug/grape-node
under CARGO_TARGET_DIR or the repository. Each node gets free ports and a temporary data
directory; tests use fresh collection names, so one node serves a whole session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

REPO = Path(__file__).resolve().parents[2]


def node_binary() -> str:
    candidates = [os.environ.get("GRAPE_NODE_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        candidates.append(str(Path(target) / "debug" / "grape-node"))
    candidates.append(str(REPO / "target" / "debug" / "grape-node"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.exit("grape-node binary not found: build it and set GRAPE_NODE_BIN", returncode=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GrapeNode:
    """A grape-node process on free ports with its own data directory."""

    def __init__(self, *extra_args: str, env: dict[str, str] | None = None):
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="grape-pytest-")
        self.log = open(Path(self.data_dir) / "node.log", "wb")
        self.command = [
            node_binary(),
            "--host", "127.0.0.1",
            "--http-port", str(self.http_port),
            "--grpc-port", str(self.grpc_port),
            "--data-dir", str(Path(self.data_dir) / "data"),
            *extra_args,
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPE_")}
        self.env.update(env or {})
        self.url = f"http://127.0.0.1:{self.http_port}"
        self._spawn()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        self._wait_ready()

    def restart(self, kill: bool = False) -> None:
        """Stops the process (SIGKILL when `kill`, else SIGTERM) and starts it again on the same
        data directory and ports."""
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=20)
        self._spawn()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"grape-node exited with {self.process.returncode}: {self.read_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"grape-node did not become ready: {self.read_log()}")

    def read_log(self) -> str:
        self.log.flush()
        return (Path(self.data_dir) / "node.log").read_text(errors="replace")[-4000:]

    def client(self, prefer_grpc: bool = False, **kwargs) -> QdrantClient:
        return QdrantClient(
            host="127.0.0.1",
            port=self.http_port,
            grpc_port=self.grpc_port,
            prefer_grpc=prefer_grpc,
            https=False,
            timeout=30,
            **kwargs,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def grape_node():
    node = GrapeNode()
    yield node
    node.stop()


@pytest.fixture
def start_node():
    """Starts extra nodes with custom flags (e.g. --api-key); stopped after the test."""
    nodes: list[GrapeNode] = []

    def start(*args: str, env: dict[str, str] | None = None) -> GrapeNode:
        node = GrapeNode(*args, env=env)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture(params=[pytest.param(False, id="rest")])
def prefer_grpc(request) -> bool:
    """The transport under test; gRPC tests add `pytest.param(True, id="grpc")`."""
    return request.param


@pytest.fixture
def client(grape_node, prefer_grpc):
    c = grape_node.client(prefer_grpc=prefer_grpc)
    yield c
    c.close()


@pytest.fixture
def rest_client(grape_node):
    """A REST client regardless of the transport parameter."""
    c = grape_node.client(prefer_grpc=False)
    yield c
    c.close()


@pytest.fixture
def collection_name(grape_node):
    """A fresh collection name; the collection is deleted after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    c = grape_node.client()
    c.delete_collection(name)
    c.close()
