"""The chunks chosen so far in one `schedule()` call, with the budget they used."""

from __future__ import annotations

from dataclasses import dataclass, field

from hireserve.scheduler.cost_model import StepShape
from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import Sequence


@dataclass
class StepPlan:
    budget: int  # tokens left this step
    decodes: dict[int, tuple[Sequence, int, int]] = field(default_factory=dict)
    prefills: dict[int, tuple[Sequence, int, int]] = field(default_factory=dict)
    preempted: list[Sequence] = field(default_factory=list)

    def add(self, seq: Sequence, num_tokens: int, decode: bool) -> None:
        assert num_tokens <= self.budget
        where = self.decodes if decode else self.prefills
        where[seq.seq_id] = (seq, seq.num_computed_tokens, num_tokens)
        self.budget -= num_tokens

    def unschedule(self, seq: Sequence) -> None:
        """Drop `seq`'s chunk (it is being preempted) and give its tokens back."""
        for where in (self.decodes, self.prefills):
            item = where.pop(seq.seq_id, None)
            if item is not None:
                self.budget += item[2]

    @property
    def shape(self) -> StepShape:
        return StepShape.of_chunks(
            (start, n) for where in (self.decodes, self.prefills) for _, start, n in where.values()
        )

    def output(self) -> SchedulerOutput:
        chunks = []
        for where in (self.decodes, self.prefills):
            for seq, start, n in where.values():
                at_end = start + n == seq.num_tokens  # logits at its last token are read
                chunks.append(ScheduledChunk(seq, start, n, sample=at_end and not seq.prefill_only,
                                             score=at_end and seq.prefill_only))
        # A recomputed preempted sequence whose cached prefix leaves one token looks like a
        # decode (ScheduledChunk.is_decode): keep every decode-shaped chunk first all the same.
        chunks.sort(key=lambda c: not c.is_decode)
        return SchedulerOutput(chunks=chunks, preempted=list(self.preempted))
