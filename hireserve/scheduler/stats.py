"""The scheduler's state after a step and its cumulative counters, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulerStats:
    """Read by the engine metrics after every step: gauges (running, waiting, KV usage) and
    counters since the scheduler started (the metrics turn them into increments)."""

    num_running: int
    num_waiting: int
    kv_usage: float  # fraction of KV blocks in use, 0..1
    num_preemptions: int
    num_forced_tokens: int  # appended unsampled by grammar fast-forward
    prefix_cache_query_tokens: int  # prompt tokens looked up in the prefix cache
    prefix_cache_hit_tokens: int  # of those, served from it
