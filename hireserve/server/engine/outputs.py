"""What the engine gives back for a request: a generated request's stream (tokens, text,
optional logprobs, timings), a scoring request's one answer (candidate log-probabilities)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The log-probabilities at one output position: token id -> logprob under the grammar-masked
# distribution (see SamplingParams.logprobs), the top-k in descending order, then the chosen
# token if it is not among them. A token forced by the grammar (fast-forward) has {token: 0.0}.
TokenLogprobs = dict[int, float]


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


@dataclass(frozen=True)
class ScoreOutput:
    """The one answer of a scoring request (ScoringParams): the log-probability of each
    candidate token at the last prompt position, log_softmax over the whole vocabulary in
    fp32. An aborted request (cancelled, deadline, ...) has empty `logprobs`."""

    request_id: str
    logprobs: dict[int, float]  # candidate token id -> log-probability
    num_prompt_tokens: int
    num_cached_tokens: int
    finish_reason: str  # "scored" | "abort"
    abort_reason: str | None = None  # "cancelled", "deadline", ... when finish_reason is "abort"
    metrics: RequestMetrics | None = None
    attention: tuple[float, ...] = ()  # per ScoringParams.attention_spans, when asked

    @property
    def finished(self) -> bool:
        return True  # a scoring request answers once


EngineOutput = RequestOutput | ScoreOutput  # what a step delivers, one per request that moved


@dataclass
class CompletionOutput:
    """The whole result of one prompt, as the offline `LLM.generate` returns it."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str | None
    num_cached_tokens: int = 0
    logprobs: list[TokenLogprobs] | None = None  # aligned with token_ids, if asked
