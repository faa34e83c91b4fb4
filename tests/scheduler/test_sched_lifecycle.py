"""Admission errors, stop criteria, abort in every state, deadlines, config validation."""

from __future__ import annotations

import pytest
from sched_helpers import config, drain, make_seq, step

from hireserve.scheduler.config import SchedulerConfig
from hireserve.scheduler.errors import PromptTooLongError, QueueFullError
from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import FinishReason, SequenceStatus, StopCriteria


def test_prompt_longer_than_the_model_context_is_rejected() -> None:
    s = Scheduler(config(max_model_len=64))
    with pytest.raises(PromptTooLongError) as e:
        s.add(make_seq(64))
    assert (e.value.num_tokens, e.value.limit, e.value.limit_name) == (64, 63, "max_model_len")
    assert "64 tokens" in str(e.value) and "63" in str(e.value)
    s.add(make_seq(63, max_tokens=1))


def test_prompt_larger_than_the_kv_pool_is_rejected() -> None:
    s = Scheduler(config(num_blocks=4, max_model_len=256))  # 16 token slots
    with pytest.raises(PromptTooLongError) as e:
        s.add(make_seq(14, max_tokens=4))  # 14 + 4 - 1 = 17 slots needed
    assert (e.value.num_tokens, e.value.limit, e.value.limit_name) == (14, 13, "kv_pool")
    s.add(make_seq(13, max_tokens=4))
    assert s.num_waiting == 1


def test_full_queue_is_rejected_with_its_length() -> None:
    s = Scheduler(config(max_waiting=2))
    s.add(make_seq(3))
    s.add(make_seq(3))
    with pytest.raises(QueueFullError) as e:
        s.add(make_seq(3))
    assert (e.value.queue_len, e.value.limit) == (2, 2)
    step(s)  # both admitted: the queue has room again
    s.add(make_seq(3))


def test_stop_criteria() -> None:
    def run(stop: StopCriteria, tokens: list[int], max_model_len: int = 256) -> tuple[int, object]:
        s = Scheduler(config(max_model_len=max_model_len))
        q = make_seq(5, stop=stop)
        s.add(q)
        for t in tokens:
            _, ups = step(s, token=t)
            if ups and ups[0].finished:
                assert ups[0].finish_reason is q.finish_reason
                break
        return q.num_output_tokens, q.finish_reason

    eos = frozenset({2})
    assert run(StopCriteria(max_tokens=9, eos_token_ids=eos), [5, 2, 5]) == (2, FinishReason.STOP)
    assert run(StopCriteria(max_tokens=3, eos_token_ids=eos, ignore_eos=True), [2, 2, 2]) == (
        3,
        FinishReason.LENGTH,
    )
    assert run(StopCriteria(max_tokens=9, eos_token_ids=eos, min_tokens=3), [2, 2, 2]) == (
        3,
        FinishReason.STOP,
    )
    assert run(StopCriteria(max_tokens=9, stop_token_ids=frozenset({4})), [5, 4]) == (
        2,
        FinishReason.STOP,
    )
    assert run(StopCriteria(max_tokens=9), [5] * 9, max_model_len=8) == (3, FinishReason.LENGTH)


def _held_blocks(s: Scheduler) -> int:
    return s.config.num_blocks - s.block_manager.num_free_blocks


@pytest.mark.parametrize("state", ["waiting", "mid_prefill", "mid_decode", "in_flight"])
def test_abort_frees_blocks_in_every_state(state: str) -> None:
    s = Scheduler(config(max_num_batched_tokens=16, long_prefill_token_threshold=8))
    q = make_seq(40, max_tokens=10)
    s.add(q)
    if state == "mid_prefill":
        step(s)
        assert 0 < q.num_computed_tokens < q.num_prompt_tokens
    elif state == "mid_decode":
        while q.num_output_tokens < 2:
            step(s)
    out = s.schedule(0.0) if state == "in_flight" else None
    if state != "waiting":
        assert _held_blocks(s) > 0
    assert s.abort(q.seq_id, "cancelled") is q
    assert _held_blocks(s) == 0 and q.block_table == []
    assert q.status is SequenceStatus.FINISHED and q.finish_reason is FinishReason.ABORT
    assert q.abort_reason == "cancelled"
    assert not s.has_unfinished() and s.num_running == 0 and s.num_waiting == 0
    assert s.abort(q.seq_id) is None  # aborting twice is a no-op
    if out is not None:  # the step's result for an aborted sequence is dropped
        assert s.update(out, [7 if c.sample else None for c in out.chunks]) == []
        assert _held_blocks(s) == 0


def test_deadlines_abort_waiting_and_running_sequences() -> None:
    s = Scheduler(config(max_num_seqs=1))
    running = make_seq(4, max_tokens=50, deadline=10.0)
    waiting = make_seq(4, deadline=5.0)
    patient = make_seq(4, deadline=100.0)
    for q in (running, waiting, patient):
        s.add(q)
    step(s, now=1.0)
    assert s.abort_expired(4.9) == []
    assert s.abort_expired(5.0) == [waiting]
    assert s.abort_expired(20.0) == [running]
    for q in (running, waiting):
        assert q.finish_reason is FinishReason.ABORT and q.abort_reason == "deadline"
    assert patient.status is SequenceStatus.WAITING
    assert _held_blocks(s) == 0
    drain(s)
    assert patient.finish_reason is FinishReason.LENGTH


def test_first_scheduled_time_is_the_admission_step() -> None:
    s = Scheduler(config(max_num_seqs=1))
    a, b = make_seq(4, max_tokens=1), make_seq(4, max_tokens=1)
    s.add(a)
    s.add(b)
    step(s, now=1.0)
    step(s, now=2.0)
    assert (a.first_scheduled_time, b.first_scheduled_time) == (1.0, 2.0)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(block_size=0), "block_size"),
        (dict(max_num_batched_tokens=4, max_num_seqs=8), "max_num_seqs"),
        (dict(enable_chunked_prefill=False, max_model_len=4096), "chunked prefill is off"),
        (dict(policy="lifo"), "policy"),
        (dict(itl_target_s=0.0), "itl_target_s"),
        (dict(long_prefill_token_threshold=0), "long_prefill_token_threshold"),
    ],
)
def test_config_validation_says_what_is_wrong(kw: dict[str, object], msg: str) -> None:
    base: dict[str, object] = dict(num_blocks=16, max_num_batched_tokens=512, max_num_seqs=8)
    base.update(kw)
    with pytest.raises(ValueError, match=msg):
        SchedulerConfig(**base)  # type: ignore[arg-type]
