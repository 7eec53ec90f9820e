"""MMR over gRPC (`prefer_grpc=True`): every test of test_rest_mmr.py runs again here."""

import pytest

from test_rest_mmr import *  # noqa: F401,F403 - collected again, over gRPC


@pytest.fixture(params=[pytest.param(True, id="grpc")])
def prefer_grpc(request) -> bool:
    return request.param
