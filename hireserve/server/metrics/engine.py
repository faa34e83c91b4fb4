"""Engine metrics: read from each StepResult, on the engine thread.

A StepResult carries everything (the engine is never looked into):
- the scheduler's state after the step (gauges) and its cumulative counters (preemptions,
  forced tokens, prefix-cache query and hit tokens), turned into counter increments by
  remembering the last value seen;
- the step's stats when the model ran: its duration and batched tokens;
- its RequestOutputs: token counters per output, the per-request latency histograms from the
  RequestMetrics timestamps when the first token arrives and when the request finishes;
  its ScoreOutputs (prefill-only requests): prompt and cached tokens, queue, prefill and
  end-to-end time when scored, never a first token or an inter-token latency.
"""

from __future__ import annotations

import threading
from typing import Any

from hireserve.server.engine.outputs import ScoreOutput
from hireserve.server.engine.step import SchedulerStats, StepResult
from hireserve.server.metrics.families import ABORT_REASONS, FINISH_REASONS, Families, bounded

# The scheduler's cumulative counters (SchedulerStats) and the counter each feeds.
SCHEDULER_COUNTERS = (
    ("num_preemptions", "preemptions"),
    ("num_forced_tokens", "forced_tokens"),
    ("prefix_cache_query_tokens", "prefix_cache_queries"),
    ("prefix_cache_hit_tokens", "prefix_cache_hits"),
)


class EngineObserver:
    def __init__(self, families: Families) -> None:
        self.f = families
        # One lock keeps the counter deltas consistent if results ever come from two threads.
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def on_step(self, result: StepResult) -> None:
        with self._lock:
            self._read_scheduler(result.scheduler_stats)
            for out in result.outputs:
                self._observe_output(out)
            if result.stats is not None:
                self.f.step_duration.observe(result.stats.seconds)
                self.f.step_tokens.observe(result.stats.num_batched_tokens)

    # -- scheduler state ---------------------------------------------------------------------

    def _read_scheduler(self, stats: SchedulerStats) -> None:
        f = self.f
        f.requests_running.set(stats.num_running)
        f.requests_waiting.set(stats.num_waiting)
        f.kv_cache_usage.set(stats.kv_usage)
        for attr, family in SCHEDULER_COUNTERS:
            value = int(getattr(stats, attr))
            last = self._seen.get(attr, 0)
            # A counter that went down was reset (a new engine): everything it holds is new.
            delta = value - last if value >= last else value
            if delta:
                getattr(f, family).inc(delta)
            self._seen[attr] = value

    # -- one request's output ----------------------------------------------------------------

    def _observe_output(self, out: Any) -> None:
        if isinstance(out, ScoreOutput):
            self._observe_score(out)
            return
        f = self.f
        n_new = len(out.new_token_ids)
        if n_new:
            f.generation_tokens.inc(n_new)
        m = out.metrics
        if n_new and out.num_output_tokens == n_new:  # this output carries the first token
            f.prompt_tokens.inc(out.num_prompt_tokens)
            f.cached_prompt_tokens.inc(out.num_cached_tokens)
            if m is not None:
                self._observe_first_token(m)
        if not out.finished:
            return
        reason = bounded(out.finish_reason, FINISH_REASONS)
        f.requests_finished.labels(reason).inc()
        if reason == "abort":
            f.requests_aborted.labels(bounded(out.abort_reason, ABORT_REASONS)).inc()
        if m is None:
            return
        for itl in m.inter_token_latencies:
            f.inter_token_latency.observe(itl)
        # An aborted request's end says how long the client waited, not how fast we served:
        # it stays out of the end-to-end and decode histograms.
        if reason != "abort" and m.finished_time is not None:
            f.e2e_latency.observe(m.finished_time - m.arrival_time)
            if m.first_token_time is not None:
                f.decode_time.observe(m.finished_time - m.first_token_time)

    def _observe_first_token(self, m: Any) -> None:
        f = self.f
        if m.first_token_time is not None:
            f.time_to_first_token.observe(m.first_token_time - m.arrival_time)
        if m.first_scheduled_time is not None:
            f.queue_time.observe(m.first_scheduled_time - m.arrival_time)
            if m.first_token_time is not None:
                f.prefill_time.observe(m.first_token_time - m.first_scheduled_time)

    def _observe_score(self, out: ScoreOutput) -> None:
        """A scoring request answers once: its prefill is its whole life."""
        f = self.f
        reason = bounded(out.finish_reason, FINISH_REASONS)
        f.requests_finished.labels(reason).inc()
        if reason == "abort":
            f.requests_aborted.labels(bounded(out.abort_reason, ABORT_REASONS)).inc()
            return
        f.prompt_tokens.inc(out.num_prompt_tokens)
        f.cached_prompt_tokens.inc(out.num_cached_tokens)
        m = out.metrics
        if m is None or m.finished_time is None:
            return
        f.e2e_latency.observe(m.finished_time - m.arrival_time)
        if m.first_scheduled_time is not None:
            f.queue_time.observe(m.first_scheduled_time - m.arrival_time)
            f.prefill_time.observe(m.finished_time - m.first_scheduled_time)
