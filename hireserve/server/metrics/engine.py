"""Engine metrics: read after every step, on the engine thread.

Two sources, both read without touching the engine's own bookkeeping:
- the scheduler's state (gauges) and its cumulative counters (preemptions, prefix-cache query and
  hit tokens), turned into counter increments by remembering the last value seen;
- the step's RequestOutputs: token counters per output, the per-request latency histograms from
  the RequestMetrics timestamps when the first token arrives and when the request finishes;
  its ScoreOutputs (prefill-only requests): prompt and cached tokens, queue, prefill and
  end-to-end time when scored, never a first token or an inter-token latency.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from hireserve.server.engine.outputs import ScoreOutput
from hireserve.server.metrics.families import ABORT_REASONS, FINISH_REASONS, Families, bounded

# The scheduler's cumulative counters (scheduler/scheduler.py) and the counter each feeds.
SCHEDULER_COUNTERS = (
    ("num_preemptions", "preemptions"),
    ("num_forced_tokens", "forced_tokens"),
    ("prefix_cache_query_tokens", "prefix_cache_queries"),
    ("prefix_cache_hit_tokens", "prefix_cache_hits"),
)


class StepStats(Protocol):
    """What the engine may keep about its last step that ran the model (`last_step_stats`)."""

    seconds: float
    num_batched_tokens: int


class EngineObserver:
    def __init__(self, families: Families) -> None:
        self.f = families
        # on_step runs on the engine thread, but the lead may also feed outputs from elsewhere
        # (aborts drained between steps): one lock keeps the deltas consistent.
        self._lock = threading.Lock()
        self._scheduler: Any = None
        self._seen: dict[str, int] = {}
        self._last_step: object | None = None  # a reference, so its id cannot be reused

    def on_step(
        self,
        engine: Any,
        outputs: Iterable[Any],
        step_seconds: float | None = None,
        num_batched_tokens: int | None = None,
    ) -> None:
        with self._lock:
            scheduler = getattr(engine, "scheduler", None)
            if scheduler is not None:
                self._read_scheduler(scheduler)
            for out in outputs:
                self._observe_output(out)
            self._observe_step(engine, step_seconds, num_batched_tokens)

    def observe_outputs(self, outputs: Iterable[Any]) -> None:
        with self._lock:
            for out in outputs:
                self._observe_output(out)

    # -- scheduler state ---------------------------------------------------------------------

    def _read_scheduler(self, scheduler: Any) -> None:
        f = self.f
        f.requests_running.set(scheduler.num_running)
        f.requests_waiting.set(scheduler.num_waiting)
        f.kv_cache_usage.set(scheduler.kv_usage)
        if scheduler is not self._scheduler:  # a new scheduler counts from zero
            self._scheduler = scheduler
            self._seen = {}
        for attr, family in SCHEDULER_COUNTERS:
            value = int(getattr(scheduler, attr, 0))  # 0: a scheduler without that count
            last = self._seen.get(attr, 0)
            # A counter that went down was reset: everything it holds now is new.
            delta = value - last if value >= last else value
            if delta:
                getattr(f, family).inc(delta)
            self._seen[attr] = value

    def _observe_step(self, engine: Any, seconds: float | None, tokens: int | None) -> None:
        if seconds is None and tokens is None:
            stats = getattr(engine, "last_step_stats", None)
            if stats is None or stats is self._last_step:
                return  # no step ran the model since the last look
            self._last_step = stats
            seconds, tokens = stats.seconds, stats.num_batched_tokens
        if seconds is not None:
            self.f.step_duration.observe(seconds)
        if tokens is not None:
            self.f.step_tokens.observe(tokens)

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
