"""What the engine gives back: a generated request's stream (tokens, text, optional logprobs,
timings), a scoring request's one answer (candidate log-probabilities), and what one step of
the model runner computed."""

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

    @property
    def finished(self) -> bool:
        return True  # a scoring request answers once


EngineOutput = RequestOutput | ScoreOutput  # what a step delivers, one per request that moved


@dataclass(frozen=True)
class RunnerOutput:
    """What one `ModelRunner.execute` computed, one entry per scheduled chunk or per sequence."""

    sampled: list[int | None]  # per chunk: the token sampled for it, None if it does not sample
    # seq_id -> top-k logprobs of its sampled token, for sequences whose SamplingParams ask
    logprobs: dict[int, TokenLogprobs] = field(default_factory=dict)
    # seq_id -> candidate id -> logprob, for the prefill-only sequences this step finished
    scores: dict[int, dict[int, float]] = field(default_factory=dict)


@dataclass
class CompletionOutput:
    """The whole result of one prompt, as the offline `LLM.generate` returns it."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str | None
    num_cached_tokens: int = 0
    logprobs: list[TokenLogprobs] | None = None  # aligned with token_ids, if asked
