"""What one step computes, as values: the model runner's `RunnerOutput` and the engine's
`StepResult` (the outputs to deliver, the step's stats, the scheduler's state after it).

The step loop speaks through these return values only: the AsyncEngine delivers
`StepResult.outputs` and hands the whole result to its observer (the metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hireserve.scheduler.stats import SchedulerStats
from hireserve.server.engine.outputs import EngineOutput, TokenLogprobs

__all__ = ["RunnerOutput", "SchedulerStats", "StepResult", "StepStats"]


@dataclass(frozen=True)
class RunnerOutput:
    """What one `ModelRunner.execute` computed, one entry per scheduled chunk or sequence."""

    sampled: list[int | None]  # per chunk: the token sampled for it, None if it does not sample
    # seq_id -> top-k logprobs of its sampled token, for sequences whose SamplingParams ask
    logprobs: dict[int, TokenLogprobs] = field(default_factory=dict)
    # seq_id -> candidate id -> logprob, for the prefill-only sequences this step finished
    scores: dict[int, dict[int, float]] = field(default_factory=dict)
    # seq_id -> attention mass per requested span (ScoringParams.attention_spans)
    attention: dict[int, tuple[float, ...]] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the step: inputs, forward, sampling
    num_batched_tokens: int = 0


@dataclass(frozen=True)
class StepStats:
    """One step that ran the model."""

    seconds: float
    num_batched_tokens: int
    num_forced_tokens: int = 0  # appended after this step by grammar fast-forward, unsampled


@dataclass(frozen=True)
class StepResult:
    """One `LLMEngine.step()`, or an abort handled between steps (then `stats` is None)."""

    outputs: list[EngineOutput]  # one per request that moved: tokens, a score, or its end
    scheduler_stats: SchedulerStats  # the scheduler's state after the step
    stats: StepStats | None = None  # None: the model did not run

    @property
    def ran(self) -> bool:
        """Whether the model ran: False when nothing could be scheduled (or only aborts)."""
        return self.stats is not None
