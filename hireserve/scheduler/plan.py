"""The chunks chosen so far in one `schedule()` call, with the budget they used."""

from __future__ import annotations

from dataclasses import dataclass, field

from hireserve.scheduler.cost_model import StepShape
from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import ChunkKind, Sequence


@dataclass
class StepPlan:
    budget: int  # tokens left this step
    # seq_id -> its chunk: decodes and forced runs (sequences that sample), and prefills
    decodes: dict[int, ScheduledChunk] = field(default_factory=dict)
    prefills: dict[int, ScheduledChunk] = field(default_factory=dict)
    preempted: list[Sequence] = field(default_factory=list)

    def add(self, seq: Sequence, num_tokens: int, kind: ChunkKind) -> None:
        """The next `num_tokens` of `seq` run this step, as `kind` (its next_chunk_kind)."""
        assert num_tokens <= self.budget
        start = seq.num_computed_tokens
        at_end = start + num_tokens == seq.num_tokens  # the logits at its last token are read
        score = at_end and seq.prefill_only
        chunk = ScheduledChunk(seq, start, num_tokens, at_end and not score, score, kind)
        where = self.prefills if kind is ChunkKind.PREFILL else self.decodes
        where[seq.seq_id] = chunk
        self.budget -= num_tokens

    def unschedule(self, seq: Sequence) -> None:
        """Drop `seq`'s chunk (it is being preempted) and give its tokens back."""
        for where in (self.decodes, self.prefills):
            chunk = where.pop(seq.seq_id, None)
            if chunk is not None:
                self.budget += chunk.num_tokens

    @property
    def shape(self) -> StepShape:
        return StepShape.of_chunks(
            (c.start, c.num_tokens) for where in (self.decodes, self.prefills)
            for c in where.values()
        )

    def output(self) -> SchedulerOutput:
        """Decodes first (the runner batches their attention), then forced runs, then prefill
        chunks; in scheduling order within each kind."""
        decode = ChunkKind.DECODE
        chunks = [c for c in self.decodes.values() if c.kind is decode]
        chunks += [c for c in self.decodes.values() if c.kind is not decode]  # forced runs
        chunks += self.prefills.values()
        return SchedulerOutput(chunks=chunks, preempted=list(self.preempted))
