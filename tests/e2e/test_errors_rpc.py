"""Every error a caller can meet, by code and by rich detail; and aborted calls leave no KV block
in use."""

from __future__ import annotations

import re
import time

import grpc
import pytest
from rpc_helpers import rich
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.v1 import (
    common_pb2,
    generation_pb2,
    generation_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)


def _gen(server) -> generation_pb2_grpc.GenerationServiceStub:
    return generation_pb2_grpc.GenerationServiceStub(server.channel())


def _long_generate(max_tokens: int = 3000) -> generation_pb2.GenerateRequest:
    return generation_pb2.GenerateRequest(prompt="Tell me a long story.", max_tokens=max_tokens,
                                          ignore_eos=True)


def _wait_idle(server, timeout: float = 10.0) -> None:
    """Until no KV block is held and nothing runs (aborts land between engine steps)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.blocks_in_use() == 0 and server.on_engine(lambda e: e.num_requests) == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{server.blocks_in_use()} KV blocks still in use")


def test_empty_job_description_names_the_field(server) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(screening_pb2.ScreenRequest(job_description="  ",
                                                resume=common_pb2.Document(text="x")))
    code, _, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "job_description" in fields


def test_prompt_too_long_says_its_token_count(server) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    resume = "experience " * 6000  # ~6000 tokens against a 4096-token context
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(screening_pb2.ScreenRequest(
            job_description="Engineer", resume=common_pb2.Document(text=resume)), timeout=60)
    code, _, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # "the prompt is N tokens" (generated answers) or "prompt has N tokens" (scored questions)
    found = re.search(r"prompt (?:is|has) (\d+) tokens", fields["resume"])
    assert found, fields["resume"]
    assert int(found.group(1)) > 4096
    assert "4096" in fields["resume"]


def test_bad_sampling_value_names_the_field(server) -> None:
    with pytest.raises(grpc.RpcError) as info:
        list(_gen(server).Generate(generation_pb2.GenerateRequest(
            prompt="hi", sampling=common_pb2.SamplingParams(temperature=-1.0))))
    code, _, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "sampling.temperature" in fields


def test_deadline_exceeded_aborts_and_frees_blocks(server) -> None:
    with pytest.raises(grpc.RpcError) as info:
        list(_gen(server).Generate(_long_generate(), timeout=0.5))
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _wait_idle(server)


def test_cancelled_stream_aborts_and_frees_blocks(server) -> None:
    stream = _gen(server).Generate(_long_generate())
    next(stream)
    next(stream)
    assert server.blocks_in_use() > 0
    stream.cancel()
    _wait_idle(server)


def test_generate_streams_text_and_reports_usage(server) -> None:
    messages = list(_gen(server).Generate(generation_pb2.GenerateRequest(
        prompt="Hello", max_tokens=16, ignore_eos=True), timeout=60))
    last = messages[-1]
    assert last.finish_reason == common_pb2.FINISH_REASON_LENGTH
    assert last.usage.generated_tokens == 16 and last.usage.prompt_tokens > 0
    assert "".join(m.text for m in messages)


def test_model_info(server) -> None:
    info = _gen(server).GetModelInfo(generation_pb2.GetModelInfoRequest())
    assert info.context_length == 4096 and info.dtype == "float32"
    assert info.tensor_parallel_size == 1 and info.attention_backend == "torch"
    assert info.build_version


def test_full_queue_is_resource_exhausted_with_a_retry_hint(tiny_chat) -> None:
    s = ServerThread(tiny_engine_args(tiny_chat, max_num_seqs=1, max_waiting=1),
                     ServerConfig(retry_after_s=2.5))
    try:
        stub = _gen(s)
        running = stub.Generate(_long_generate())
        next(running)
        waiting = stub.Generate(_long_generate())
        end = time.monotonic() + 10
        while s.on_engine(lambda e: e.scheduler.num_waiting) < 1:
            assert time.monotonic() < end, "the second request never queued"
            time.sleep(0.02)
        with pytest.raises(grpc.RpcError) as info:
            next(stub.Generate(_long_generate()))
        code, message, _, retry = rich(info.value)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry == 2.5
        assert "queue" in message.lower()
        running.cancel()
        waiting.cancel()
        _wait_idle(s)
    finally:
        s.stop()


def test_a_20_mib_document_reaches_the_document_limits(server) -> None:
    """gRPC's default 4 MiB limit would refuse it as RESOURCE_EXHAUSTED; our limit lets it in,
    and the document reader then judges it (here: far more characters than a resume has)."""
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    big = common_pb2.Document(data=b"a" * (20 * 2**20 - 1024), filename="long.txt")
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(screening_pb2.ScreenRequest(job_description="Engineer", resume=big),
                    timeout=60)
    code, message, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, message
    assert "characters" in fields["resume"]
