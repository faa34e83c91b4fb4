"""Step-time cost model and latency-aware prefill chunking."""

from __future__ import annotations

import random

from sched_helpers import config, make_seq

from hireserve.scheduler.cost_model import StepCostModel, StepShape
from hireserve.scheduler.scheduler import Scheduler


def true_time(coef: tuple[float, float, float, float], chunks: list[tuple[int, int]]) -> float:
    """Step time written out by hand (independent of StepShape)."""
    a, b, c, d = coef
    t = a
    for start, n in chunks:
        pairs = sum(start + i + 1 for i in range(n))  # token i attends to start + i + 1 keys
        t += b * n + c * (start + n) + d * pairs
    return t


def test_shape_counts_causal_attention_pairs() -> None:
    shape = StepShape.of_chunks([(10, 3), (50, 1)])
    assert (shape.new_tokens, shape.context_tokens) == (4, 13 + 51)
    assert shape.attention_pairs == (11 + 12 + 13) + 51


def test_online_fit_recovers_the_true_coefficients() -> None:
    truth = (4e-3, 6e-5, 2e-8, 1e-9)
    model = StepCostModel(prior=(1e-2, 1e-5, 1e-7, 1e-10), decay=0.995)
    rng = random.Random(0)
    for _ in range(400):
        chunks = [(rng.randrange(0, 30000), 1) for _ in range(rng.randrange(1, 64))]
        if rng.random() < 0.7:
            chunks.append((rng.randrange(0, 60000), rng.randrange(16, 4096)))
        model.observe(StepShape.of_chunks(chunks), true_time(truth, chunks))
    for got, want in zip(model.coefficients, truth, strict=True):
        assert abs(got - want) <= 0.05 * want, (model.coefficients, truth)


def test_max_chunk_is_the_largest_chunk_under_target() -> None:
    model = StepCostModel(prior=(5e-3, 5e-5, 1e-8, 1e-9))
    base = [(1000, 1), (2000, 1)]
    target = 0.06
    want = max(p for p in range(0, 3000) if true_time(model.prior, [*base, (500, p)]) <= target)
    assert model.max_chunk(StepShape.of_chunks(base), 500, 3000, target) == want
    assert model.max_chunk(StepShape.of_chunks(base), 500, 10, target) == 10
    assert model.max_chunk(StepShape(), 0, 100, 1e-4) == 0


def _scheduler(target: float | None, prior: tuple[float, float, float, float]) -> Scheduler:
    cfg = config(
        num_blocks=2048,
        max_num_batched_tokens=1024,
        long_prefill_token_threshold=1024,
        max_model_len=4096,
        itl_target_s=target,
    )
    return Scheduler(cfg, cost_model=StepCostModel(prior=prior, decay=0.9))


def _start_decode(s: Scheduler) -> None:
    s.add(make_seq(4, max_tokens=1000))
    out = s.schedule(0.0)
    s.update(out, [7])


def _prefill_chunk(s: Scheduler, prompt_len: int = 3000) -> int:
    s.add(make_seq(prompt_len))
    out = s.schedule(0.0)
    return max(c.num_tokens for c in out.chunks)


def test_chunk_shrinks_to_meet_the_itl_target_while_decodes_run() -> None:
    prior = (0.01, 1e-4, 0.0, 0.0)
    s = _scheduler(0.02, prior)
    _start_decode(s)
    # 0.01 + 1e-4 * (1 decode + p) <= 0.02  ->  p = 99
    assert _prefill_chunk(s) == 99
    off = _scheduler(None, prior)
    _start_decode(off)
    assert _prefill_chunk(off) == 1023  # the fixed budget, less the decode


def test_chunk_uses_the_full_budget_without_decodes() -> None:
    s = _scheduler(0.02, (0.01, 1e-4, 0.0, 0.0))
    assert _prefill_chunk(s) == 1024


def test_chunk_never_drops_below_one_block() -> None:
    s = _scheduler(0.001, (0.01, 1e-4, 0.0, 0.0))  # even the decode alone misses the target
    _start_decode(s)
    assert _prefill_chunk(s) == s.config.block_size


def test_chunk_grows_and_shrinks_as_measured_step_times_change() -> None:
    s = _scheduler(0.02, (0.01, 1e-4, 0.0, 0.0))
    _start_decode(s)
    sizes = []
    truth = (0.005, 2.5e-5, 0.0, 0.0)  # the hardware is 4x faster per token than the prior
    for i in range(60):
        if i == 30:
            truth = (0.008, 2e-4, 0.0, 0.0)  # and then slower than the prior (e.g. thermals)
        if s.num_waiting == 0 and s.num_running == 1:
            s.add(make_seq(3000, max_tokens=1))
        out = s.schedule(0.0)
        sizes.append(max(c.num_tokens for c in out.chunks))
        chunks = [(c.start, c.num_tokens) for c in out.chunks]
        s.update(out, [7 if c.sample else None for c in out.chunks], true_time(truth, chunks))
    # fast: (0.02 - 0.005) / 2.5e-5 - 1 = 599 tokens fit; slow: 0.012 / 2e-4 - 1 = 59
    assert sizes[0] == 99
    # (a prompt's last chunk is its remainder, smaller: look at the largest chunk of a window)
    assert 530 <= max(sizes[20:30]) <= 640, sizes
    assert 50 <= max(sizes[45:60]) <= 70, sizes
