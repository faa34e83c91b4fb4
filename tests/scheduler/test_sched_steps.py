"""Scheduler steps: budget, decode first, chunked long prefill, preemption, prefix sharing."""

from __future__ import annotations

from sched_helpers import KVChecker, config, drain, fresh_tokens, make_seq, step

from hireserve.scheduler.scheduler import Scheduler
from hireserve.scheduler.sequence import SequenceStatus


def test_budget_limits_a_step_and_the_last_prompt_is_chunked() -> None:
    s = Scheduler(config(max_num_batched_tokens=20))
    seqs = [make_seq(8) for _ in range(4)]
    for q in seqs:
        s.add(q)
    out = s.schedule(0.0)
    assert [(c.seq, c.start, c.num_tokens) for c in out.chunks] == [
        (seqs[0], 0, 8),
        (seqs[1], 0, 8),
        (seqs[2], 0, 4),
    ]
    assert [c.sample for c in out.chunks] == [True, True, False]
    assert s.num_running == 3 and s.num_waiting == 1


def test_decodes_go_first_then_prefills() -> None:
    s = Scheduler(config(max_num_batched_tokens=16))
    a, b = make_seq(5, max_tokens=10), make_seq(5, max_tokens=10)
    s.add(a)
    s.add(b)
    step(s)
    late = make_seq(40)
    s.add(late)
    out, _ = step(s)
    assert [(c.seq, c.num_tokens, c.is_decode) for c in out.chunks] == [
        (a, 1, True),
        (b, 1, True),
        (late, 14, False),  # what the decodes left of the budget
    ]


def test_long_prompt_is_chunked_while_decodes_flow_every_step() -> None:
    s = Scheduler(config(max_num_batched_tokens=32, long_prefill_token_threshold=16))
    short = make_seq(4, max_tokens=50)
    s.add(short)
    step(s)
    long_seq = make_seq(100)
    s.add(long_seq)
    starts = []
    while long_seq.num_computed_tokens < long_seq.num_prompt_tokens:
        out, _ = step(s)
        assert out.chunks[0].seq is short and out.chunks[0].is_decode
        (chunk,) = [c for c in out.chunks if c.seq is long_seq]
        assert chunk.num_tokens <= 16
        starts.append(chunk.start)
    assert starts == list(range(0, 100, 16))
    assert long_seq.num_output_tokens == 1


def test_one_long_prompt_in_flight_and_short_ones_pass() -> None:
    s = Scheduler(config(max_num_batched_tokens=64, long_prefill_token_threshold=16))
    long1, long2, short = make_seq(40), make_seq(40), make_seq(8)
    for q in (long1, long2, short):
        s.add(q)
    out, _ = step(s)
    assert [(c.seq, c.num_tokens) for c in out.chunks] == [(long1, 16), (short, 8)]
    out, _ = step(s)
    assert long2 not in [c.seq for c in out.chunks]
    out, _ = step(s)  # long1's last chunk
    assert long2 not in [c.seq for c in out.chunks]
    out, _ = step(s)  # long1 decodes; long2 may start
    assert [c.seq for c in out.chunks if not c.is_decode] == [long2]


def test_preemption_takes_the_newest_and_requeues_it_at_the_front() -> None:
    # 6 blocks of 4: a and b fill them with their prompts and first decodes.
    s = Scheduler(config(num_blocks=6, max_num_batched_tokens=32))
    a, b = make_seq(12, max_tokens=8), make_seq(12, max_tokens=8)
    s.add(a)
    s.add(b)
    kv = KVChecker(s)
    out = s.schedule(0.0)
    kv.run(out)
    s.update(out, [7, 7])
    c = make_seq(4)  # waits behind a and b
    s.add(c)
    out = s.schedule(0.0)  # a and b need a 4th block each for position 12: none is free
    assert out.preempted == [b]
    assert b.status is SequenceStatus.WAITING and b.num_computed_tokens == 0
    assert b.block_table == [] and b.num_preemptions == 1 and s.num_preemptions == 1
    assert [q for q in s.waiting] == [b, c]
    assert [c.seq for c in out.chunks] == [a]  # nobody is admitted in a preempting step
    kv.run(out)
    s.update(out, [7])
    while a.status is not SequenceStatus.FINISHED:
        out = s.schedule(0.0)
        kv.run(out)
        s.update(out, [7 if ch.sample else None for ch in out.chunks])
    # b comes back first. a's growth evicted b's two tail blocks; its head block is still
    # cached, so b recomputes 9 of its 13 tokens (prompt and its first output).
    out = s.schedule(0.0)
    kv.run(out)
    assert out.chunks[0].seq is b and out.chunks[0].start == 4
    assert out.chunks[0].num_tokens == 9 and out.chunks[0].sample
    assert b.num_cached_tokens == 0  # set at the first admission only


def test_prefix_hits_count_only_the_shared_full_blocks() -> None:
    s = Scheduler(config())
    shared = fresh_tokens(10)  # 2 full blocks of 4 + 2 tokens
    a = make_seq(shared + fresh_tokens(3))
    s.add(a)
    step(s)
    b = make_seq(shared + fresh_tokens(6))
    s.add(b)
    out, _ = step(s)
    (chunk,) = [c for c in out.chunks if c.seq is b]
    assert (chunk.start, chunk.num_tokens) == (8, 8)
    assert b.num_cached_tokens == 8
    assert s.prefix_cache_query_tokens == 13 + 16
    assert s.prefix_cache_hit_tokens == 8
    assert b.block_table[:2] == a.block_table[:2]


def test_a_fully_cached_prompt_still_computes_its_last_token() -> None:
    s = Scheduler(config())
    prompt = fresh_tokens(12)
    s.add(make_seq(prompt))
    drain(s)
    again = make_seq(prompt)
    s.add(again)
    out, updates = step(s)
    assert [(c.start, c.num_tokens, c.sample) for c in out.chunks] == [(8, 4, True)]
    assert updates[0].new_token_ids == [7]


def test_shared_prefix_is_computed_once_in_the_first_step() -> None:
    s = Scheduler(config(max_num_batched_tokens=256, long_prefill_token_threshold=64))
    jd = fresh_tokens(16)
    resumes = [make_seq(jd + fresh_tokens(5)) for _ in range(5)]
    for q in resumes:
        s.add(q)
    kv = KVChecker(s)
    out = s.schedule(0.0)
    kv.run(out)
    assert [c.seq for c in out.chunks] == resumes[:1]  # the others wait for the JD blocks
    s.update(out, [7])
    out = s.schedule(0.0)
    kv.run(out)
    assert [(c.seq, c.start) for c in out.chunks if not c.is_decode] == [
        (q, 16) for q in resumes[1:]
    ]
    assert s.prefix_cache_hit_tokens == 4 * 16


def test_without_prefix_caching_shared_prompts_all_run_at_once() -> None:
    s = Scheduler(
        config(
            max_num_batched_tokens=256, long_prefill_token_threshold=64, enable_prefix_caching=False
        )
    )
    jd = fresh_tokens(16)
    resumes = [make_seq(jd + fresh_tokens(5)) for _ in range(5)]
    for q in resumes:
        s.add(q)
    out = s.schedule(0.0)
    assert [c.seq for c in out.chunks] == resumes
    assert s.prefix_cache_hit_tokens == 0


def test_waiter_proceeds_when_the_computing_sequence_is_aborted() -> None:
    s = Scheduler(config())
    jd = fresh_tokens(16)
    a, b = make_seq(jd + fresh_tokens(3)), make_seq(jd + fresh_tokens(3))
    s.add(a)
    s.add(b)
    out = s.schedule(0.0)
    assert [c.seq for c in out.chunks] == [a]
    s.abort(a.seq_id)
    assert s.update(out, [7]) == []  # the aborted chunk's result is dropped
    out = s.schedule(0.0)
    assert [(c.seq, c.start) for c in out.chunks] == [(b, 0)]


def test_waiter_proceeds_when_the_computing_sequence_is_preempted() -> None:
    s = Scheduler(config(num_blocks=8, max_num_batched_tokens=64, long_prefill_token_threshold=6))
    old = make_seq(7, max_tokens=20)
    s.add(old)
    kv = KVChecker(s)
    for _ in range(2):
        out = s.schedule(0.0)
        kv.run(out)
        s.update(out, [7 if c.sample else None for c in out.chunks])
    jd = fresh_tokens(20)
    a, b = make_seq([*jd, 1]), make_seq([*jd, 2])
    s.add(a)
    s.add(b)
    seen_b_wait_on_pending = False
    for _ in range(200):
        if not s.has_unfinished():
            break
        out = s.schedule(0.0)
        if a.status is SequenceStatus.RUNNING and b.status is SequenceStatus.WAITING:
            seen_b_wait_on_pending |= s.block_manager.match_prefix(b)[1]
        kv.run(out)
        s.update(out, [7 if c.sample else None for c in out.chunks])
    assert not s.has_unfinished()
    assert seen_b_wait_on_pending and a.num_preemptions >= 1
    assert (a.num_output_tokens, b.num_output_tokens, old.num_output_tokens) == (4, 4, 20)
    assert s.block_manager.num_free_blocks == 8


def test_mix_off_runs_prefill_steps_without_decodes() -> None:
    s = Scheduler(
        config(mix_prefill_decode=False, enable_chunked_prefill=False, max_num_batched_tokens=256)
    )
    a = make_seq(10, max_tokens=5)
    s.add(a)
    step(s)
    b = make_seq(10)
    s.add(b)
    out, _ = step(s)
    assert [c.seq for c in out.chunks] == [b]  # a's decode waits for the prefill step
    out, _ = step(s)
    assert [c.seq for c in out.chunks] == [a, b] and out.num_decodes == 2


def test_without_chunked_prefill_a_prompt_runs_whole_or_waits() -> None:
    s = Scheduler(config(num_blocks=128, enable_chunked_prefill=False, max_num_batched_tokens=256))
    a, b = make_seq(200), make_seq(100)
    s.add(a)
    s.add(b)
    out, _ = step(s)
    assert [(c.seq, c.num_tokens) for c in out.chunks] == [(a, 200)]  # b does not fit: waits
    out, _ = step(s)
    assert [(c.seq, c.num_tokens) for c in out.chunks] == [(a, 1), (b, 100)]


def test_priority_policy_runs_lower_values_first_fcfs_within() -> None:
    s = Scheduler(config(policy="priority", max_num_seqs=2))
    p5a, p0, p5b, p1 = (make_seq(4, priority=p) for p in (5, 0, 5, 1))
    for q in (p5a, p0, p5b, p1):
        s.add(q)
    out = s.schedule(0.0)
    assert [c.seq for c in out.chunks] == [p0, p1]
    assert list(s.waiting) == [p5a, p5b]


def test_max_num_seqs_caps_running() -> None:
    s = Scheduler(config(max_num_seqs=3))
    for _ in range(5):
        s.add(make_seq(2, max_tokens=3))
    out, _ = step(s)
    assert len(out.chunks) == 3 and s.num_running == 3
