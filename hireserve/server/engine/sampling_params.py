"""Per-request parameters: `SamplingParams` for a generated request (named as vLLM names them),
`ScoringParams` for a prefill-only scoring request (the log-probabilities of a few candidate
tokens after the prompt, nothing generated)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

MAX_LOGPROBS = 20
# A scoring request reads a handful of answer tokens (yes/no, met/partial/missing and their
# spellings); more than this is a caller's mistake, not a question.
MAX_SCORE_CANDIDATES = 64


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 or -1: disabled
    min_p: float = 0.0
    repetition_penalty: float = 1.0  # >1 discourages tokens already in the prompt or output
    max_tokens: int = 256
    min_tokens: int = 0
    stop_token_ids: tuple[int, ...] = field(default_factory=tuple)
    ignore_eos: bool = False
    seed: int | None = None  # same seed, same prompt, same output, whatever else is batched
    json_schema: str | None = None  # constrain the output to this JSON schema (xgrammar)
    # Log-probabilities of the top `logprobs` tokens (and of the chosen one) at each output
    # position, from log_softmax of the grammar-masked logits before penalties and temperature:
    # the model's distribution over what the grammar allows. None: not computed.
    logprobs: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < -1:
            raise ValueError("top_k must be -1, 0 (disabled) or positive")
        if not 0 <= self.min_p <= 1:
            raise ValueError("min_p must be in [0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_LOGPROBS:
            raise ValueError(f"logprobs must be in [0, {MAX_LOGPROBS}]")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class ScoringParams:
    """A prefill-only request: the engine computes the prompt and returns the log-probabilities
    of `candidate_token_ids` at its last position (log_softmax over the whole vocabulary in
    fp32: no temperature, penalty or grammar). Nothing is sampled. The engine checks the ids
    against its vocabulary when the request is added.

    `attention_spans`: [start, end) token ranges of the prompt; the answer then also carries,
    per span, the attention mass its last position puts on it (layers/attention/probe.py)."""

    candidate_token_ids: tuple[int, ...]
    attention_spans: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        try:  # ints of any kind (numpy's too), never floats or strings
            ids = tuple(operator.index(t) for t in self.candidate_token_ids)
        except TypeError as exc:
            raise ValueError("candidate_token_ids must be integers") from exc
        object.__setattr__(self, "candidate_token_ids", ids)
        if not ids:
            raise ValueError("candidate_token_ids is empty")
        if len(ids) > MAX_SCORE_CANDIDATES:
            raise ValueError(f"candidate_token_ids has {len(ids)} ids; at most "
                             f"{MAX_SCORE_CANDIDATES}")
        if min(ids) < 0:
            raise ValueError("candidate_token_ids must be >= 0")
        if len(set(ids)) != len(ids):
            raise ValueError("candidate_token_ids has duplicates")
        spans = tuple((operator.index(a), operator.index(b)) for a, b in self.attention_spans)
        if any(not 0 <= a < b for a, b in spans):
            raise ValueError("attention_spans must be [start, end) ranges with 0 <= start < end")
        object.__setattr__(self, "attention_spans", spans)
