"""Prefill-only (scoring) sequences: admitted without room for output, finished by the chunk
that computes their last prompt token (nothing appended), their full prompt blocks left in the
prefix cache; prompts submitted together compute a shared prefix once; abort, deadline and
preemption work as for any sequence."""

from __future__ import annotations

import pytest
from sched_helpers import KVChecker, config, fresh_tokens, make_seq, step

from hireserve.scheduler.errors import PromptTooLongError
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import FinishReason, SequenceStatus


def scoring(tokens: list[int] | int, **kw) -> object:
    return make_seq(tokens, max_tokens=0, **kw)


def test_a_scoring_sequence_finishes_after_the_chunk_that_reaches_its_end() -> None:
    s = Scheduler(config(max_num_batched_tokens=16, long_prefill_token_threshold=16))
    q = scoring(30)
    assert q.prefill_only
    s.add(q)
    out, ups = step(s)
    assert [(c.start, c.num_tokens, c.sample, c.score) for c in out.chunks] == [
        (0, 16, False, False)]
    assert ups == [] and q.status is SequenceStatus.RUNNING
    out, ups = step(s)
    assert [(c.start, c.num_tokens, c.sample, c.score) for c in out.chunks] == [
        (16, 14, False, True)]
    assert [(u.seq, u.new_token_ids, u.finished, u.finish_reason) for u in ups] == [
        (q, [], True, FinishReason.SCORED)]
    assert q.num_tokens == 30 and q.num_output_tokens == 0  # nothing appended
    assert q.is_finished and q.block_table == [] and not s.has_unfinished()
    bm = s.block_manager
    assert bm.num_free_blocks == bm.num_blocks
    assert bm.num_cached_blocks == 30 // 4  # every full prompt block stays in the cache


def test_the_next_question_about_the_same_prefix_reuses_its_blocks() -> None:
    s = Scheduler(config(long_prefill_token_threshold=32))
    resume = fresh_tokens(21)
    first = scoring(resume + fresh_tokens(3))
    s.add(first)
    step(s)
    assert first.finish_reason is FinishReason.SCORED
    second = scoring(resume + fresh_tokens(5))
    s.add(second)
    out, ups = step(s)
    assert [(c.start, c.num_tokens) for c in out.chunks] == [(20, 6)]  # 5 full blocks cached
    assert second.num_cached_tokens == 20 and ups[0].finish_reason is FinishReason.SCORED


def test_admission_needs_no_room_for_output_tokens() -> None:
    s = Scheduler(config(max_model_len=64, num_blocks=8))  # 32 KV slots
    with pytest.raises(PromptTooLongError):
        s.add(make_seq(32, max_tokens=2))  # 32 prompt slots and one for its first output
    s.add(scoring(32))  # the whole pool, and nothing more
    with pytest.raises(PromptTooLongError) as e:
        s.add(scoring(33))
    assert (e.value.limit, e.value.limit_name) == (32, "kv_pool")

    s = Scheduler(config(max_model_len=64, num_blocks=64))
    with pytest.raises(PromptTooLongError):
        s.add(make_seq(64, max_tokens=1))
    s.add(scoring(64))  # the whole context: no output token follows
    with pytest.raises(PromptTooLongError) as e:
        s.add(scoring(65))
    assert (e.value.limit, e.value.limit_name) == (64, "max_model_len")


def test_scoring_chunks_pack_beside_decodes() -> None:
    s = Scheduler(config(max_num_batched_tokens=16))
    gen = make_seq(6, max_tokens=8)
    s.add(gen)
    step(s)
    q = scoring(9)
    s.add(q)
    out, ups = step(s)
    assert [(c.seq, c.num_tokens, c.sample, c.score) for c in out.chunks] == [
        (gen, 1, True, False), (q, 9, False, True)]
    assert {u.seq.seq_id: u.new_token_ids for u in ups} == {gen.seq_id: [7], q.seq_id: []}
    assert gen.status is SequenceStatus.RUNNING and q.is_finished


@pytest.mark.parametrize("budget", [64, 16], ids=["one-step", "chunked"])
def test_questions_added_together_compute_their_shared_prefix_once(budget: int) -> None:
    # Not "long": what holds the others back is the first one's pending blocks.
    s = Scheduler(config(max_num_batched_tokens=budget, long_prefill_token_threshold=64))
    kv = KVChecker(s)
    resume = fresh_tokens(26)  # 6 full blocks of 4 are shared, the 7th is not
    questions = [scoring(resume + fresh_tokens(3 + i)) for i in range(5)]
    for q in questions:
        s.add(q)
    computed = 0
    while s.has_unfinished():
        out = s.schedule(0.0)
        kv.run(out)
        computed += out.num_batched_tokens
        s.update(out, [None] * len(out.chunks))
    shared = 24
    assert s.prefix_cache_hit_tokens == 4 * shared
    assert s.prefix_cache_query_tokens == sum(q.num_tokens for q in questions)
    assert computed == sum(q.num_tokens for q in questions) - 4 * shared
    assert sorted(q.num_cached_tokens for q in questions) == [0, shared, shared, shared, shared]
    assert all(q.finish_reason is FinishReason.SCORED for q in questions)
    assert s.block_manager.num_free_blocks == s.block_manager.num_blocks


def test_abort_and_deadline_free_a_scoring_sequence_and_keep_its_computed_blocks() -> None:
    s = Scheduler(config(max_num_batched_tokens=8, long_prefill_token_threshold=8))
    q = scoring(30)
    late = scoring(12, deadline=5.0)
    s.add(q)
    s.add(late)
    step(s)
    assert q.num_computed_tokens == 8 and s.block_manager.num_free_blocks < 64
    assert s.abort(q.seq_id) is q
    assert q.finish_reason is FinishReason.ABORT and q.block_table == []
    assert s.block_manager.num_cached_blocks == 2  # the two blocks it had computed
    assert s.abort_expired(6.0) == [late]
    assert late.abort_reason == "deadline" and late.block_table == []
    assert not s.has_unfinished() and s.block_manager.num_free_blocks == 64


def test_a_preempted_scoring_sequence_is_recomputed_and_scored() -> None:
    s = Scheduler(config(num_blocks=6, max_num_batched_tokens=8, long_prefill_token_threshold=8,
                         enable_prefix_caching=False))
    gen = make_seq(4, max_tokens=12)
    s.add(gen)
    step(s)
    q = scoring(18)
    s.add(q)
    scored = None
    for _ in range(60):
        _, ups = step(s)
        scored = scored or next((u for u in ups if u.seq is q), None)
        if not s.has_unfinished():
            break
    assert s.num_preemptions > 0 and q.num_preemptions + gen.num_preemptions > 0
    assert scored is not None and scored.finish_reason is FinishReason.SCORED
    assert gen.finish_reason is FinishReason.LENGTH
    assert s.block_manager.num_free_blocks == 6
