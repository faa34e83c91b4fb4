"""The metrics against a real LLMEngine (tiny random Llama on CPU): the scheduler attributes they
read exist, and the numbers agree with the traffic the test sent."""

from __future__ import annotations

import time

import pytest

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.llm_engine import LLMEngine
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.engine.step import StepResult
from hireserve.server.metrics import Metrics
from tests.observability.helpers import value

MAX_TOKENS = 5
PARAMS = SamplingParams(temperature=0.0, max_tokens=MAX_TOKENS, ignore_eos=True)
PREFIX = list(range(100, 148))  # 48 tokens: three full blocks every prompt shares


def _engine(path, **kw) -> LLMEngine:
    args = dict(model=str(path), dtype="float32", device="cpu", block_size=16,
                num_kv_blocks=256, max_num_batched_tokens=64, max_num_seqs=16)
    args.update(kw)
    return LLMEngine(EngineArgs(**args))


def _run(engine: LLMEngine, metrics: Metrics) -> list:
    finished = []
    while engine.has_unfinished():
        result = engine.step()  # what AsyncEngine does, then on_step on the same thread
        metrics.on_step(result)
        finished += [o for o in result.outputs if o.finished]
    return finished


def test_shared_prefix_traffic(tiny_chat) -> None:
    engine, metrics = _engine(tiny_chat), Metrics()
    prompts = [PREFIX + [200 + 10 * i + j for j in range(10)] for i in range(6)]
    for i, p in enumerate(prompts):
        engine.add_request(f"r{i}", p, PARAMS)
    finished = _run(engine, metrics)
    text = metrics.exposition()
    n = len(prompts)
    assert len(finished) == n
    assert value(text, "hireserve_prompt_tokens_total") == sum(map(len, prompts))
    assert value(text, "hireserve_generation_tokens_total") == n * MAX_TOKENS
    assert value(text, "hireserve_requests_finished_total", finish_reason="length") == n
    for name in ("time_to_first_token", "request_queue_time", "request_prefill_time",
                 "e2e_request_latency", "request_decode_time"):
        assert value(text, f"hireserve_{name}_seconds_count") == n, name
    assert value(text, "hireserve_inter_token_latency_seconds_count") == n * (MAX_TOKENS - 1)
    # Each request was admitted once (no preemption here), so the prefix cache was queried
    # with every prompt token, and its hits are the cached tokens each request reports.
    assert value(text, "hireserve_preemptions_total") == 0
    assert value(text, "hireserve_prefix_cache_query_tokens_total") == sum(map(len, prompts))
    cached = sum(o.num_cached_tokens for o in finished)
    assert cached >= len(PREFIX)  # at least one later prompt reused the shared prefix
    assert value(text, "hireserve_prefix_cache_hit_tokens_total") == cached
    assert value(text, "hireserve_cached_prompt_tokens_total") == cached
    # Phases add up: queue + prefill = TTFT, TTFT + decode = end to end.
    s = {k: value(text, f"hireserve_{k}_seconds_sum") for k in (
        "request_queue_time", "request_prefill_time", "time_to_first_token",
        "request_decode_time", "e2e_request_latency")}
    assert s["request_queue_time"] + s["request_prefill_time"] == pytest.approx(
        s["time_to_first_token"])
    assert s["time_to_first_token"] + s["request_decode_time"] == pytest.approx(
        s["e2e_request_latency"])
    # idle afterwards
    assert value(text, "hireserve_requests_running") == 0
    assert value(text, "hireserve_requests_waiting") == 0
    assert value(text, "hireserve_kv_cache_usage_ratio") == 0


def test_preemption_deadline_and_cancel(tiny_chat) -> None:
    # 6 blocks of 16 = 96 slots for 4 prompts of 40 tokens: they cannot all run at once.
    engine = _engine(tiny_chat, num_kv_blocks=6, enable_prefix_caching=False)
    metrics = Metrics()
    params = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
    for i in range(4):
        engine.add_request(f"p{i}", [300 + 40 * i + j for j in range(40)], params)
    engine.add_request("late", [5, 6, 7], PARAMS, deadline=time.monotonic() - 1.0)
    engine.add_request("gone", [8, 9, 10], PARAMS)
    out = engine.abort_request("gone", "cancelled")
    # AsyncEngine reports an abort between steps as a StepResult of its own
    metrics.on_step(StepResult([out], engine.scheduler.stats()))
    finished = _run(engine, metrics)
    text = metrics.exposition()
    assert value(text, "hireserve_requests_aborted_total", reason="deadline") == 1
    assert value(text, "hireserve_requests_aborted_total", reason="cancelled") == 1
    assert value(text, "hireserve_requests_finished_total", finish_reason="abort") == 2
    assert value(text, "hireserve_requests_finished_total", finish_reason="length") == 4
    assert engine.scheduler.num_preemptions > 0
    assert value(text, "hireserve_preemptions_total") == engine.scheduler.num_preemptions
    assert value(text, "hireserve_generation_tokens_total") == 4 * 12
    assert sum(o.num_output_tokens for o in finished) == 4 * 12
