"""Fuzzing Generate on one live server: whatever the request fields hold (odd unicode, extreme
sampling values, stop strings, schemas valid, invalid and pathological, ignore_eos), each call
ends OK or with a clean INVALID_ARGUMENT / RESOURCE_EXHAUSTED (DEADLINE_EXCEEDED when it had a
short deadline), and afterwards the server is still SERVING with every KV block free."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.v1 import common_pb2, generation_pb2, generation_pb2_grpc

CLEAN = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
         grpc.StatusCode.RESOURCE_EXHAUSTED}

GOOD_SCHEMAS = [
    "", "",  # unconstrained
    '{"type": "boolean"}',  # with ignore_eos: killed the engine once
    '{"type": "integer", "minimum": -3, "maximum": 3}',
    '{"enum": ["met", "partial", "missing"]}',
    json.dumps({"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}},
                "required": ["name"]}),
    json.dumps({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 2}),
]
BAD_SCHEMAS = [
    '{"type": "foo"}',  # killed the engine once
    '{"maximum": 5}',  # ignored by the grammar engine without a type
    '{"type": "string", "pattern": "("}',  # a broken regex
    '{"type": "array", "items": [{"type": "integer"}]}',  # draft-07 tuple
    '{"$ref": "#/$defs/missing"}',
    json.dumps({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),  # endless
    json.dumps({"type": "string", "pattern": "^([a-z]{1,50}){1,50}$"}),  # minutes to compile
    "{", "null", "[]", "true", '"string"',
]
NAN, INF = float("nan"), float("inf")


def mostly(good: list, bad: list) -> st.SearchStrategy:
    """Three draws in four from `good`: enough requests get through to reach the engine."""
    return st.one_of(*[st.sampled_from(good)] * 3, st.sampled_from(bad))



prompts = st.one_of(
    st.text(min_size=1, max_size=120),
    st.text(min_size=1, max_size=120),
    st.sampled_from(["", "\x00\x01", "🙂" * 60, "\u202e\u0301\ufeff", "a" * 20000]),
)
chats = st.lists(
    st.builds(generation_pb2.ChatMessage,
              role=mostly(["system", "user", "assistant"], ["robot", ""]),
              content=st.text(max_size=60)),
    min_size=1, max_size=3,
).map(lambda msgs: generation_pb2.ChatMessages(messages=msgs))
sampling = st.builds(
    common_pb2.SamplingParams,
    temperature=mostly([0.0, 1e-30, 1e-5, 0.7, 1.0, 50.0, 1e30], [-1.0, INF, NAN]),
    top_p=mostly([1e-9, 0.3, 1.0], [0.0, 1.5, NAN]),
    top_k=mostly([-1, 0, 1, 40, 2**31 - 1], [-5]),
    min_p=mostly([0.0, 0.2, 1.0], [-0.1, NAN]),
    repetition_penalty=mostly([1.0, 1.3, 1e-30, 1e30], [0.0, NAN, -INF]),
    seed=st.sampled_from([0, 1, 2**64 - 1]),
)


@st.composite
def requests(draw):
    fields = {
        "max_tokens": draw(st.sampled_from([0, 1, 2, 7, 24, 48])),
        "ignore_eos": draw(st.booleans()),
        "stop": draw(st.lists(st.text(max_size=4), max_size=3)),
        "json_schema": draw(st.one_of(mostly(GOOD_SCHEMAS, BAD_SCHEMAS),
                                      st.text(max_size=30))),
    }
    if draw(st.booleans()):
        fields["sampling"] = draw(sampling)
        if draw(st.booleans()):  # proto3 optional: leave some fields unset
            fields["sampling"].ClearField(draw(st.sampled_from(
                ["temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed"])))
    if draw(st.integers(0, 4)):
        fields["prompt"] = draw(prompts)
    else:
        fields["chat"] = draw(chats)
    return generation_pb2.GenerateRequest(**fields), draw(st.sampled_from([None, None, 0.3]))


@pytest.fixture(scope="module")
def live(tiny_chat):
    s = ServerThread(tiny_engine_args(tiny_chat, num_kv_blocks=256),
                     ServerConfig(schema_compile_timeout_s=3.0, default_max_tokens=32))
    yield s
    s.stop()


@pytest.mark.slow
def test_no_request_kills_the_server(live) -> None:
    stub = generation_pb2_grpc.GenerationServiceStub(live.channel())
    seen: dict[str, int] = {}

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(requests())
    def one_call(case) -> None:
        request, deadline = case
        try:
            replies = list(stub.Generate(request, timeout=deadline or 240))
            code = grpc.StatusCode.OK
            assert replies and replies[-1].finish_reason != common_pb2.FINISH_REASON_UNSPECIFIED
        except grpc.RpcError as err:
            code = err.code()
            allowed = CLEAN | ({grpc.StatusCode.DEADLINE_EXCEEDED} if deadline else set())
            assert code in allowed, f"{code}: {err.details()}"
        seen[code.name] = seen.get(code.name, 0) + 1
        assert live.app is not None and live.app.exit_code is None, "the server stopped"

    one_call()
    assert seen.get("OK") and seen.get("INVALID_ARGUMENT"), seen  # both paths were exercised
    health = health_pb2_grpc.HealthStub(live.channel())
    assert health.Check(health_pb2.HealthCheckRequest()).status == \
        health_pb2.HealthCheckResponse.SERVING
    end = time.monotonic() + 10  # an abort after a client deadline lands a step later
    while live.blocks_in_use() and time.monotonic() < end:
        time.sleep(0.05)
    assert live.blocks_in_use() == 0
