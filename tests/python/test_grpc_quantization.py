"""Quantization over gRPC (`prefer_grpc=True`): every test of test_rest_quantization.py runs
again here, so settings, collection info, search parameters and refusals (InvalidArgument)
go through the gRPC conversions."""

import pytest

from test_rest_quantization import *  # noqa: F401,F403 - collected again, over gRPC


@pytest.fixture(params=[pytest.param(True, id="grpc")])
def prefer_grpc(request) -> bool:
    return request.param
