"""What the engine streams back for a request."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepStats:
    """One step that ran the model: a new object per step, so observers count each once."""

    seconds: float
    num_batched_tokens: int


@dataclass
class RequestMetrics:
    """Monotonic timestamps of one request's life, for the latency metrics."""

    arrival_time: float
    first_scheduled_time: float | None = None
    first_token_time: float | None = None
    last_token_time: float | None = None
    finished_time: float | None = None
    inter_token_latencies: list[float] = field(default_factory=list)


@dataclass
class RequestOutput:
    """One delta of a request's stream. The last one has `finished=True`."""

    request_id: str
    new_token_ids: list[int]
    new_text: str
    finished: bool
    finish_reason: str | None  # "stop" | "length" | "abort"
    num_prompt_tokens: int
    num_cached_tokens: int
    num_output_tokens: int
    abort_reason: str | None = None
    metrics: RequestMetrics | None = None


@dataclass
class CompletionOutput:
    """The whole result of one prompt, as the offline `LLM.generate` returns it."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str | None
    num_cached_tokens: int = 0
