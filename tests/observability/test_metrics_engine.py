"""Engine metrics from hand-built StepResults: every expected value below is worked out from
the traffic by hand, then read back from the parsed exposition."""

from __future__ import annotations

from typing import Any

import pytest

from hireserve.server.engine.outputs import RequestMetrics, RequestOutput
from hireserve.server.engine.step import SchedulerStats, StepResult, StepStats
from hireserve.server.metrics import Metrics
from tests.observability.helpers import bucket_counts, value


def _scheduler(**kw: Any) -> SchedulerStats:
    state: dict[str, Any] = dict(num_running=0, num_waiting=0, kv_usage=0.0, num_preemptions=0,
                                 num_forced_tokens=0, prefix_cache_query_tokens=0,
                                 prefix_cache_hit_tokens=0)
    state.update(kw)
    return SchedulerStats(**state)


def _out(rid: str, m: RequestMetrics, new: list[int], n_out: int, *, prompt: int = 10,
         cached: int = 0, finish: str | None = None, abort: str | None = None) -> RequestOutput:
    return RequestOutput(rid, new, "", finish is not None, finish, prompt, cached, n_out,
                         abort_reason=abort, metrics=m)


def _traffic(metrics: Metrics) -> None:
    """A: 3 tokens, stops. B: 1 token, then its deadline. C: cancelled while waiting.
    D: aborted for a reason the metrics do not know."""
    sched = _scheduler(num_running=2, num_waiting=3, kv_usage=0.25,
                       prefix_cache_query_tokens=100, prefix_cache_hit_tokens=64)
    a = RequestMetrics(arrival_time=10.0, first_scheduled_time=10.5)
    b = RequestMetrics(arrival_time=10.0, first_scheduled_time=10.2)
    # step 1: A's first token at 11.0
    a.first_token_time = a.last_token_time = 11.0
    metrics.on_step(StepResult([_out("req-A", a, [5], 1, prompt=100, cached=64)], sched))
    # step 2: A's second token at 11.1; B's first at 12.0 (after a preemption)
    a.inter_token_latencies.append(0.1)
    a.last_token_time = 11.1
    b.first_token_time = b.last_token_time = 12.0
    sched = _scheduler(num_running=2, num_waiting=3, kv_usage=0.25, num_preemptions=2,
                       prefix_cache_query_tokens=250, prefix_cache_hit_tokens=96)
    metrics.on_step(StepResult([_out("req-A", a, [6], 2, prompt=100, cached=64),
                                _out("req-B", b, [7], 1, prompt=50)], sched))
    # step 3: A's last token at 11.3, it stops; B hits its deadline at 13.0
    a.inter_token_latencies.append(0.2)
    a.last_token_time = a.finished_time = 11.3
    b.finished_time = 13.0
    sched = _scheduler(num_running=0, num_waiting=1, kv_usage=0.125, num_preemptions=3,
                       prefix_cache_query_tokens=250, prefix_cache_hit_tokens=96)
    metrics.on_step(StepResult([_out("req-A", a, [8], 3, prompt=100, cached=64, finish="stop"),
                                _out("req-B", b, [], 1, prompt=50, finish="abort",
                                     abort="deadline")], sched))
    # between steps: C cancelled before it was ever scheduled, D aborted for "gremlins"
    c = RequestMetrics(arrival_time=10.0, finished_time=14.0)
    d = RequestMetrics(arrival_time=10.0, finished_time=14.0)
    metrics.on_step(StepResult([_out("req-C", c, [], 0, finish="abort", abort="cancelled")],
                               sched))
    metrics.on_step(StepResult([_out("req-D", d, [], 0, finish="abort", abort="gremlins")],
                               sched))


@pytest.fixture(scope="module")
def exposition() -> bytes:
    metrics = Metrics()
    _traffic(metrics)
    return metrics.exposition()


def test_token_counters(exposition: bytes) -> None:
    assert value(exposition, "hireserve_generation_tokens_total") == 4  # A 3, B 1
    assert value(exposition, "hireserve_prompt_tokens_total") == 150  # A 100, B 50
    assert value(exposition, "hireserve_cached_prompt_tokens_total") == 64


def test_finish_and_abort_reasons(exposition: bytes) -> None:
    fin = "hireserve_requests_finished_total"
    assert value(exposition, fin, finish_reason="stop") == 1
    assert value(exposition, fin, finish_reason="length") == 0
    assert value(exposition, fin, finish_reason="abort") == 3
    ab = "hireserve_requests_aborted_total"
    assert value(exposition, ab, reason="deadline") == 1
    assert value(exposition, ab, reason="cancelled") == 1
    assert value(exposition, ab, reason="other") == 1
    assert value(exposition, ab, reason="shutdown") == 0
    assert b"gremlins" not in exposition
    assert b"req-" not in exposition  # no per-request labels


@pytest.mark.parametrize(
    ("name", "count", "total"),
    [
        ("hireserve_time_to_first_token_seconds", 2, 1.0 + 2.0),
        ("hireserve_request_queue_time_seconds", 2, 0.5 + 0.2),
        ("hireserve_request_prefill_time_seconds", 2, 0.5 + 1.8),
        ("hireserve_inter_token_latency_seconds", 2, 0.1 + 0.2),
        ("hireserve_e2e_request_latency_seconds", 1, 1.3),  # aborted requests stay out
        ("hireserve_request_decode_time_seconds", 1, 0.3),
    ],
)
def test_latency_histograms(exposition: bytes, name: str, count: int, total: float) -> None:
    assert value(exposition, f"{name}_count") == count
    assert value(exposition, f"{name}_sum") == pytest.approx(total)


def test_ttft_buckets_are_cumulative_and_inclusive(exposition: bytes) -> None:
    buckets = bucket_counts(exposition, "hireserve_time_to_first_token_seconds")
    assert buckets[0.75] == 0
    assert buckets[1.0] == 1  # A's 1.0 s lands in le="1.0"
    assert buckets[2.5] == 2
    assert buckets[float("inf")] == 2


def test_scheduler_gauges_show_the_last_step(exposition: bytes) -> None:
    assert value(exposition, "hireserve_requests_running") == 0
    assert value(exposition, "hireserve_requests_waiting") == 1
    assert value(exposition, "hireserve_kv_cache_usage_ratio") == 0.125


def test_scheduler_counters_become_deltas(exposition: bytes) -> None:
    assert value(exposition, "hireserve_preemptions_total") == 3
    assert value(exposition, "hireserve_prefix_cache_query_tokens_total") == 250
    assert value(exposition, "hireserve_prefix_cache_hit_tokens_total") == 96


def test_a_counter_that_goes_down_starts_a_new_count() -> None:
    metrics = Metrics()
    first = _scheduler(num_preemptions=3, prefix_cache_query_tokens=40, num_forced_tokens=6)
    metrics.on_step(StepResult([], first))
    metrics.on_step(StepResult([], first))  # unchanged: nothing added
    rebuilt = _scheduler(num_preemptions=1, prefix_cache_query_tokens=10, num_forced_tokens=9)
    metrics.on_step(StepResult([], rebuilt))  # went down: a new engine's count, all of it new
    text = metrics.exposition()
    assert value(text, "hireserve_preemptions_total") == 3 + 1
    assert value(text, "hireserve_prefix_cache_query_tokens_total") == 40 + 10
    assert value(text, "hireserve_forced_tokens_total") == 6 + 3


def test_step_stats_are_observed_for_each_step_that_ran_the_model() -> None:
    metrics = Metrics()
    idle = _scheduler()
    metrics.on_step(StepResult([], idle))  # nothing could be scheduled: no step stats
    metrics.on_step(StepResult([], idle, StepStats(0.02, 130)))
    metrics.on_step(StepResult([], idle, StepStats(0.04, 1)))
    metrics.on_step(StepResult([], idle, StepStats(1.5, 7, num_forced_tokens=3)))
    text = metrics.exposition()
    assert value(text, "hireserve_engine_step_duration_seconds_count") == 3
    assert value(text, "hireserve_engine_step_duration_seconds_sum") == pytest.approx(1.56)
    assert value(text, "hireserve_engine_step_tokens_count") == 3
    tokens = bucket_counts(text, "hireserve_engine_step_tokens")
    assert (tokens[1.0], tokens[8.0], tokens[128.0], tokens[256.0]) == (1, 2, 2, 3)


def test_structured_output_failures_start_at_zero() -> None:
    metrics = Metrics()
    assert value(metrics.exposition(), "hireserve_structured_output_failures_total") == 0
    metrics.record_structured_output_failure()
    metrics.record_structured_output_failure()
    assert value(metrics.exposition(), "hireserve_structured_output_failures_total") == 2


def test_a_one_token_request_is_first_and_last_at_once() -> None:
    metrics = Metrics()
    m = RequestMetrics(arrival_time=1.0, first_scheduled_time=1.25, first_token_time=2.0,
                       last_token_time=2.0, finished_time=2.0)
    metrics.on_step(StepResult([_out("r", m, [9], 1, prompt=7, finish="length")], _scheduler()))
    text = metrics.exposition()
    assert value(text, "hireserve_prompt_tokens_total") == 7
    assert value(text, "hireserve_time_to_first_token_seconds_sum") == 1.0
    assert value(text, "hireserve_e2e_request_latency_seconds_sum") == 1.0
    assert value(text, "hireserve_request_decode_time_seconds_sum") == 0.0
    assert value(text, "hireserve_inter_token_latency_seconds_count") == 0
    assert value(text, "hireserve_requests_finished_total", finish_reason="length") == 1
