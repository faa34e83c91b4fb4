"""What the engine streams back for a request: tokens, text, optional logprobs, timings."""

from __future__ import annotations

from dataclasses import dataclass, field

# The log-probabilities at one output position: token id -> logprob under the grammar-masked
# distribution (see SamplingParams.logprobs), the top-k in descending order, then the chosen
# token if it is not among them. A token forced by the grammar (fast-forward) has {token: 0.0}.
TokenLogprobs = dict[int, float]


@dataclass(frozen=True)
class StepStats:
    """One step that ran the model: a new object per step, so observers count each once."""

    seconds: float
    num_batched_tokens: int
    num_forced_tokens: int = 0  # appended after this step by grammar fast-forward, unsampled


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
    new_logprobs: list[TokenLogprobs] | None = None  # aligned with new_token_ids, if asked


@dataclass
class CompletionOutput:
    """The whole result of one prompt, as the offline `LLM.generate` returns it."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str | None
    num_cached_tokens: int = 0
    logprobs: list[TokenLogprobs] | None = None  # aligned with token_ids, if asked
