"""Shared test helpers: small configs, prompts, and a fake runner that checks KV contents."""

from __future__ import annotations

import itertools
from typing import Any

from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.output import SchedulerOutput, SequenceUpdate
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import Sequence, StopCriteria

_tok = itertools.count(1000)


def config(**kw: Any) -> SchedulerConfig:
    base: dict[str, Any] = dict(
        num_blocks=64,
        block_size=4,
        max_num_batched_tokens=32,
        max_num_seqs=8,
        max_model_len=256,
        long_prefill_token_threshold=16,
        admission_watermark=0.0,
    )
    base.update(kw)
    return SchedulerConfig(**base)


def fresh_tokens(n: int) -> list[int]:
    """Token ids never used before in this test session (no accidental prefix sharing)."""
    return [next(_tok) for _ in range(n)]


def make_seq(tokens: list[int] | int, max_tokens: int = 4, **kw: Any) -> Sequence:
    prompt = fresh_tokens(tokens) if isinstance(tokens, int) else list(tokens)
    stop = kw.pop("stop", None) or StopCriteria(max_tokens=max_tokens)
    return Sequence(prompt, stop=stop, **kw)


def step(
    sched: Scheduler, token: int = 7, now: float = 0.0, step_time_s: float | None = None
) -> tuple[SchedulerOutput, list[SequenceUpdate]]:
    out = sched.schedule(now)
    sampled: list[int | None] = [token if c.sample else None for c in out.chunks]
    return out, sched.update(out, sampled, step_time_s)


def drain(sched: Scheduler, max_steps: int = 10_000) -> int:
    for i in range(max_steps):
        if not sched.has_unfinished():
            return i
        step(sched)
    raise AssertionError("scheduler did not drain")


class KVChecker:
    """A fake KV cache: each slot holds the exact token prefix whose K/V it would hold.

    Before a chunk runs, every position it attends to must hold the right prefix (so a prefix
    hit or a recomputation after preemption can never read wrong K/V); a chunk never writes
    into a block the prefix cache has published.
    """

    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.slots: dict[tuple[int, int], tuple[int, ...]] = {}

    def run(self, out: SchedulerOutput) -> None:
        bm = self.sched.block_manager
        bs = bm.block_size
        for c in out.chunks:
            seq = c.seq
            assert c.start == seq.num_computed_tokens
            at_end = c.start + c.num_tokens == seq.num_tokens
            assert (c.sample, c.score) == (at_end and not seq.prefill_only,
                                           at_end and seq.prefill_only)
            assert len(seq.block_table) * bs >= c.start + c.num_tokens
            for pos in range(c.start):
                slot = (seq.block_table[pos // bs], pos % bs)
                assert self.slots.get(slot) == tuple(seq.token_ids[: pos + 1]), (seq, pos)
            for pos in range(c.start, c.start + c.num_tokens):
                block = bm.blocks[seq.block_table[pos // bs]]
                assert not block.cached, "a step wrote into a published cached block"
                self.slots[(block.block_id, pos % bs)] = tuple(seq.token_ids[: pos + 1])
