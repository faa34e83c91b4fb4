"""A request as the scheduler sees it: token ids, how many have KV in the cache, its blocks."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Any


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class ChunkKind(enum.Enum):
    """What one step computes for a sequence: the one definition the scheduler, the step plan
    and the model runner share (`Sequence.next_chunk_kind`)."""

    DECODE = "decode"  # the token sampled last step: one query token, batched decode attention
    FORCED_RUN = "forced_run"  # that token and the ones its grammar forced after it
    PREFILL = "prefill"  # prompt tokens, or everything recomputed after a preemption


class FinishReason(enum.Enum):
    STOP = "stop"  # EOS or a stop token id
    LENGTH = "length"  # max_tokens or the model's context
    SCORED = "scored"  # a prefill-only sequence whose last prompt token was computed
    ABORT = "abort"  # cancelled, deadline, engine shutdown (see Sequence.abort_reason)


@dataclass(frozen=True)
class StopCriteria:
    """What ends a sequence. The engine fills it from SamplingParams and the tokenizer."""

    max_tokens: int = 256  # 0: prefill only (a scoring request), nothing is sampled
    stop_token_ids: frozenset[int] = frozenset()
    eos_token_ids: frozenset[int] = frozenset()
    ignore_eos: bool = False
    min_tokens: int = 0


_ids = itertools.count()
# The members, looked up once: an Enum attribute costs a descriptor call on every step's path.
_DECODE, _FORCED_RUN, _PREFILL = ChunkKind.DECODE, ChunkKind.FORCED_RUN, ChunkKind.PREFILL


@dataclass(eq=False)
class Sequence:
    """One request. `token_ids` holds the prompt followed by the generated tokens.

    `num_computed_tokens` counts the tokens whose K/V are in the cache; a step computes
    `token_ids[num_computed_tokens : num_computed_tokens + chunk]`. After a preemption the
    generated tokens are recomputed as if they were prompt (recompute, not swap). A decoding
    sequence usually has one uncomputed token; tokens forced by its grammar (fast-forward) are
    appended without K/V, so its next decode chunk computes them all and samples at the last.
    """

    prompt_token_ids: list[int]
    stop: StopCriteria = field(default_factory=StopCriteria)
    sampling_params: Any = None  # opaque to the scheduler; the runner reads it
    arrival_time: float = 0.0  # time.monotonic() at submission
    priority: int = 0  # lower runs first; FCFS within a priority
    deadline: float | None = None  # time.monotonic() after which the sequence is aborted
    seq_id: int = field(default_factory=lambda: next(_ids))

    token_ids: list[int] = field(init=False)
    num_prompt_tokens: int = field(init=False)
    num_computed_tokens: int = 0
    num_cached_tokens: int = 0  # prompt tokens served by the prefix cache at first admission
    block_table: list[int] = field(default_factory=list)
    status: SequenceStatus = SequenceStatus.WAITING
    finish_reason: FinishReason | None = None
    abort_reason: str | None = None  # "cancelled", "deadline", ... when finish_reason is ABORT
    num_preemptions: int = 0
    # Sampled since its last (re)admission: its uncomputed tokens are the last sampled one and
    # any the grammar forced after it (fast-forward), computed together as one decode chunk.
    # Cleared by preemption: a recomputation is a prefill until it samples again.
    is_generating: bool = False
    first_scheduled_time: float | None = None
    # Chained hashes of the full blocks of token_ids, memoized by the BlockManager.
    block_hashes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.prompt_token_ids:
            raise ValueError("a sequence needs at least one prompt token")
        self.token_ids = list(self.prompt_token_ids)
        self.num_prompt_tokens = len(self.prompt_token_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def next_chunk_kind(self) -> ChunkKind:
        """What the next step computes for this running sequence. A sequence decodes once it
        has sampled since its last (re)admission; until then everything it lacks is prefill."""
        if not self.is_generating:
            return _PREFILL
        if len(self.token_ids) - self.num_computed_tokens == 1:
            return _DECODE
        return _FORCED_RUN

    @property
    def prefill_only(self) -> bool:
        """A scoring request: it finishes with the step that computes its last prompt token,
        whose logits are read (the candidates' log-probabilities) instead of sampled."""
        return self.stop.max_tokens == 0

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def __repr__(self) -> str:  # never prints token ids: they may encode a resume
        return (
            f"Sequence(id={self.seq_id}, status={self.status.value}, tokens={self.num_tokens}, "
            f"computed={self.num_computed_tokens}, blocks={len(self.block_table)})"
        )
