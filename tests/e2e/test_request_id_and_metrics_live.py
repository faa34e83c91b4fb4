"""Operations over a live server: every call returns its request id in the trailing metadata
(the caller's own when well-formed), and /metrics, bound to 127.0.0.1 by default, carries the
process metrics an SRE's dashboards expect."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rpc_helpers import rich

from hireserve.v1 import generation_pb2, generation_pb2_grpc


def _rid(metadata) -> str | None:
    return dict(metadata or ()).get("x-request-id")


def test_success_carries_a_fresh_request_id(server) -> None:
    stub = generation_pb2_grpc.GenerationServiceStub(server.channel())
    _, call = stub.GetModelInfo.with_call(generation_pb2.GetModelInfoRequest(), timeout=30)
    first = _rid(call.trailing_metadata())
    _, call = stub.GetModelInfo.with_call(generation_pb2.GetModelInfoRequest(), timeout=30)
    assert first and _rid(call.trailing_metadata()) not in (None, first)


def test_a_stream_echoes_the_callers_request_id(server) -> None:
    stub = generation_pb2_grpc.GenerationServiceStub(server.channel())
    stream = stub.Generate(generation_pb2.GenerateRequest(prompt="Hi", max_tokens=3),
                           metadata=[("x-request-id", "batch-7.resume:42")], timeout=60)
    assert list(stream)
    assert _rid(stream.trailing_metadata()) == "batch-7.resume:42"


@pytest.mark.parametrize("sent", ["has spaces", "x" * 65, "../etc/passwd", "-leading-dash"])
def test_an_error_carries_the_request_id_and_a_malformed_one_is_replaced(server, sent) -> None:
    stub = generation_pb2_grpc.GenerationServiceStub(server.channel())
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Generate(generation_pb2.GenerateRequest(prompt=""),  # empty: refused
                           metadata=[("x-request-id", sent)], timeout=30))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rid = _rid(info.value.trailing_metadata())
    assert rid and rid != sent and len(rid) <= 64
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Generate(generation_pb2.GenerateRequest(prompt=""),
                           metadata=[("x-request-id", "ok-id-1")], timeout=30))
    assert _rid(info.value.trailing_metadata()) == "ok-id-1"
    assert "prompt" in rich(info.value)[2]  # the rich details survive next to the id


def test_metrics_listen_locally_with_process_metrics(server) -> None:
    assert server.app is not None and server.app.metrics_port
    host = server.app.metrics._http[0].server_address[0]
    assert host == "127.0.0.1"
    url = f"http://127.0.0.1:{server.app.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["process_resident_memory_bytes"] > 10 * 2**20
    assert samples["process_cpu_seconds_total"] > 0
    assert samples["process_open_fds"] > 0
    assert "python_info" in samples
