"""Grammar fast-forward in the scheduler: a run of tokens appended without K/V (`append_forced`)
is computed by the sequence's next chunk (a FORCED_RUN), together, and only that chunk's end
samples."""

from __future__ import annotations

import pytest
from sched_helpers import KVChecker, config, make_seq, step

from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import ChunkKind, FinishReason, SequenceStatus, StopCriteria


def _checked_step(s: Scheduler, kv: KVChecker, token: int = 7):
    out = s.schedule(0.0)
    kv.run(out)  # every chunk reads exactly the K/V of its own prefix
    return out, s.update(out, [token if c.sample else None for c in out.chunks])


def test_forced_tokens_run_with_the_next_decode_in_one_chunk() -> None:
    s = Scheduler(config())
    kv = KVChecker(s)
    q, other = make_seq(6, max_tokens=20), make_seq(5, max_tokens=20)
    s.add(q)
    s.add(other)
    _checked_step(s, kv)  # both prefill and sample their first token
    assert s.append_forced(q, [11, 12, 13]) == (3, None)
    assert s.num_forced_tokens == 3
    assert (q.next_chunk_kind, other.next_chunk_kind) == (ChunkKind.FORCED_RUN, ChunkKind.DECODE)
    out, updates = _checked_step(s, kv, token=8)
    chunks = {c.seq.seq_id: (c.start, c.num_tokens, c.sample, c.kind) for c in out.chunks}
    assert chunks[other.seq_id] == (5, 1, True, ChunkKind.DECODE)
    # the sampled token and the 3 forced ones
    assert chunks[q.seq_id] == (6, 4, True, ChunkKind.FORCED_RUN)
    assert out.num_decodes == 1
    assert out.chunks[0].seq is other, "one-token decodes stay first (batched decode path)"
    assert q.output_token_ids == [7, 11, 12, 13, 8]
    assert q.num_computed_tokens == q.num_tokens - 1
    assert [u.new_token_ids for u in updates if u.seq is q] == [[8]]


def test_a_catch_up_larger_than_the_budget_runs_in_pieces() -> None:
    s = Scheduler(config(max_num_batched_tokens=8, max_num_seqs=2))
    kv = KVChecker(s)
    q = make_seq(4, max_tokens=40)
    s.add(q)
    _checked_step(s, kv)
    s.append_forced(q, list(range(100, 111)))  # 11 forced + the sampled one: 12 to compute
    out, updates = _checked_step(s, kv)
    assert [(c.start, c.num_tokens, c.sample) for c in out.chunks] == [(4, 8, False)]
    assert updates == []
    out, updates = _checked_step(s, kv, token=9)
    assert [(c.start, c.num_tokens, c.sample) for c in out.chunks] == [(12, 4, True)]
    assert [u.new_token_ids for u in updates] == [[9]]


def test_forced_stop_and_length_finish_and_free_blocks() -> None:
    s = Scheduler(config())
    eos = make_seq(4, stop=StopCriteria(max_tokens=20, eos_token_ids=frozenset({2})))
    short = make_seq(4, max_tokens=3)
    s.add(eos)
    s.add(short)
    step(s)
    assert s.append_forced(eos, [5, 2, 6, 6]) == (2, FinishReason.STOP)  # the rest is dropped
    assert eos.output_token_ids == [7, 5, 2]
    assert s.append_forced(short, [5]) == (1, None)
    assert s.append_forced(short, [5, 5]) == (1, FinishReason.LENGTH)  # max_tokens=3 reached
    assert s.num_forced_tokens == 4
    for q in (eos, short):
        assert q.status is SequenceStatus.FINISHED and q.block_table == []
    assert s.block_manager.num_free_blocks == s.config.num_blocks
    assert not s.has_unfinished()


def test_forced_tokens_survive_preemption_as_prompt_to_recompute() -> None:
    # 4 blocks of 4: a and b hold 2 each after their first step; a's 5 forced tokens need a
    # third block, so b (the newest) is preempted; later b recomputes its prompt and output.
    s = Scheduler(config(num_blocks=4, max_num_seqs=2, max_num_batched_tokens=16))
    kv = KVChecker(s)
    a, b = make_seq(5, max_tokens=9), make_seq(5, max_tokens=6)
    s.add(a)
    s.add(b)
    _checked_step(s, kv)
    s.append_forced(b, [21])  # b's forced token has no K/V; it must be recomputed, not lost
    s.append_forced(a, [31, 32, 33, 34, 35])
    out, _ = _checked_step(s, kv)
    assert b.num_preemptions == 1 and b.status is SequenceStatus.WAITING
    assert not b.is_generating
    assert [(c.seq, c.num_tokens) for c in out.chunks] == [(a, 6)]
    while s.has_unfinished():
        _checked_step(s, kv)
    assert b.output_token_ids[:2] == [7, 21]
    assert a.output_token_ids[:6] == [7, 31, 32, 33, 34, 35]
    assert s.block_manager.num_free_blocks == s.config.num_blocks


def test_without_mixing_a_catch_up_runs_in_the_decode_step() -> None:
    s = Scheduler(config(mix_prefill_decode=False, enable_chunked_prefill=False,
                         max_num_batched_tokens=256))
    a, b = make_seq(4, max_tokens=20), make_seq(4, max_tokens=20)
    s.add(a)
    s.add(b)
    step(s)
    s.append_forced(a, [5, 6])
    out, _ = step(s)
    assert [(c.seq, c.num_tokens) for c in out.chunks] == [(b, 1), (a, 3)]


def test_only_a_sequence_that_just_sampled_can_be_forced() -> None:
    s = Scheduler(config(max_num_batched_tokens=8, max_num_seqs=2))
    waiting, mid_prefill = make_seq(4), make_seq(30)
    s.add(mid_prefill)
    step(s)
    s.add(waiting)
    for q in (waiting, mid_prefill):
        with pytest.raises(ValueError, match="not decoding"):
            s.append_forced(q, [5])
