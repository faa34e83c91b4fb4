"""What the scheduler hands the model runner for one step, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field

from hireserve.scheduler.sequence import ChunkKind, FinishReason, Sequence


@dataclass(frozen=True)
class ScheduledChunk:
    """`num_tokens` tokens of `seq`, from position `start`, computed in this step.

    The K/V of `token_ids[start : start + num_tokens]` are written to the slots of
    `seq.block_table`; positions `0 .. start` are read from the cache (computed earlier or
    served by the prefix cache). `kind` is what the step computes for the sequence
    (Sequence.next_chunk_kind when it was scheduled). A chunk that reaches the last known
    token reads the logits at it: `sample` (the step samples the next token) or, for a
    prefill-only sequence, `score` (the step returns the candidates' log-probabilities and the
    sequence finishes).
    """

    seq: Sequence
    start: int
    num_tokens: int
    sample: bool
    score: bool = False
    kind: ChunkKind = ChunkKind.PREFILL

    @property
    def computes_logits(self) -> bool:
        return self.sample or self.score

    @property
    def is_decode(self) -> bool:
        return self.kind is ChunkKind.DECODE

    @property
    def context_len(self) -> int:
        """Tokens of K/V the attention of this chunk reads, itself included."""
        return self.start + self.num_tokens


@dataclass
class SchedulerOutput:
    """Decodes first, then forced runs, then prefill chunks. Empty `chunks` means nothing to run
    this step."""

    chunks: list[ScheduledChunk] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def num_batched_tokens(self) -> int:
        return sum(c.num_tokens for c in self.chunks)

    @property
    def num_decodes(self) -> int:
        return sum(1 for c in self.chunks if c.kind is ChunkKind.DECODE)

    @property
    def is_empty(self) -> bool:
        return not self.chunks


@dataclass(frozen=True)
class SequenceUpdate:
    """A sequence's progress after one step: tokens appended, and whether it finished."""

    seq: Sequence
    new_token_ids: list[int]
    finished: bool
    finish_reason: FinishReason | None
