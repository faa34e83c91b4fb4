"""A caller's JSON schema over real gRPC: the two schemas that used to kill the server, keywords
the grammar engine would ignore, and a schema whose compile runs away (the child process that
compiles it is killed; the server keeps serving)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rpc_helpers import rich
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.v1 import common_pb2, generation_pb2, generation_pb2_grpc

SLOW_SCHEMA = json.dumps({"type": "string", "pattern": "^([a-z]{1,50}){1,50}$"})  # 250 s here
TIMEOUT = 240  # the first schema starts the compiler process (imports xgrammar, torch)


@pytest.fixture(scope="module")
def live(tiny_chat):
    s = ServerThread(tiny_engine_args(tiny_chat), ServerConfig(schema_compile_timeout_s=3.0))
    yield s
    s.stop()


def _generate(live, **fields):
    stub = generation_pb2_grpc.GenerationServiceStub(live.channel())
    return list(stub.Generate(generation_pb2.GenerateRequest(prompt="Answer:", **fields),
                              timeout=TIMEOUT))


def _refusal(live, schema: str):
    with pytest.raises(grpc.RpcError) as info:
        _generate(live, max_tokens=8, json_schema=schema)
    code, message, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "json_schema" in fields
    return message


def _assert_serving(live) -> None:
    health = health_pb2_grpc.HealthStub(live.channel())
    assert health.Check(health_pb2.HealthCheckRequest()).status == \
        health_pb2.HealthCheckResponse.SERVING
    assert live.app is not None and live.app.exit_code is None
    assert live.blocks_in_use() == 0


def test_an_unknown_type_is_invalid_argument_not_a_dead_server(live) -> None:
    assert "type" in _refusal(live, '{"type": "foo"}')
    _assert_serving(live)


def test_boolean_with_ignore_eos_ends_with_the_json(live) -> None:
    replies = _generate(live, max_tokens=20, ignore_eos=True,
                        json_schema='{"type": "boolean"}',
                        sampling=common_pb2.SamplingParams(temperature=1.0, seed=5))
    assert replies[-1].finish_reason == common_pb2.FINISH_REASON_EOS
    assert json.loads("".join(r.text for r in replies)) in (True, False)
    _assert_serving(live)


@pytest.mark.parametrize("schema, named", [
    ({"maximum": 5}, "/: maximum"),
    ({"type": "object", "properties": {"n": {"allOf": [{"type": "integer"}]}}},
     "/properties/n: allOf"),
    ({"type": "string", "format": "regex"}, "format"),
])
def test_keywords_the_grammar_would_ignore_are_named(live, schema, named) -> None:
    assert named in _refusal(live, json.dumps(schema))


def test_callers_sending_one_new_schema_at_once_share_its_compile(live) -> None:
    schema = json.dumps({"type": "object", "properties": {"ok": {"type": "boolean"}},
                         "required": ["ok"]})
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda seed: _generate(
            live, max_tokens=20, json_schema=schema,
            sampling=common_pb2.SamplingParams(temperature=1.0, seed=seed)), range(4)))
    for replies in answers:
        assert json.loads("".join(r.text for r in replies))["ok"] in (True, False)
    _assert_serving(live)


@pytest.mark.slow
def test_a_runaway_compile_is_cut_off_and_remembered(live) -> None:
    started = time.monotonic()
    assert "longer than 3 s" in _refusal(live, SLOW_SCHEMA)
    first = time.monotonic() - started
    started = time.monotonic()
    assert "longer than 3 s" in _refusal(live, SLOW_SCHEMA)  # refused from memory
    assert time.monotonic() - started < min(first, 2.0)
    # The killed compiler restarts for the next schema, which constrains as asked.
    replies = _generate(live, max_tokens=30, json_schema=json.dumps(
        {"type": "integer", "minimum": 10, "maximum": 99}),
        sampling=common_pb2.SamplingParams(temperature=1.0, seed=1))
    assert 10 <= json.loads("".join(r.text for r in replies)) <= 99
    _assert_serving(live)
