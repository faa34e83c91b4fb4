"""AsyncEngine.score: questions submitted together compute their shared prefix once (exact
prefix-cache counters), cancelling the awaiting task frees the blocks, a passed deadline answers
"abort"/"deadline", admission errors and a dead engine reach the caller; the engine metrics count
scoring requests (prompt and cached tokens, queue and end-to-end time, never a first token)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from hireserve.scheduler.errors import PromptTooLongError
from hireserve.server.engine import LLM, AsyncEngine, EngineArgs, SamplingParams, ScoringParams
from hireserve.server.engine.async_engine import EngineDeadError
from hireserve.server.metrics import Metrics
from tests.observability.helpers import value

VOCAB = 49152
CANDIDATES = (5, 42, 1000, 33_000)


def _args(path, **changes) -> EngineArgs:
    args = EngineArgs(model=str(path), dtype="float32", device="cpu", block_size=16,
                      num_kv_blocks=256, max_num_batched_tokens=512, max_num_seqs=16)
    return args.replace(**changes)


def _prompt(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(3, VOCAB) for _ in range(n)]


def _blocks_in_use(engine: AsyncEngine) -> int:
    s = engine.engine.scheduler
    return s.config.num_blocks - s.block_manager.num_free_blocks


async def _until(predicate, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("budget", [512, 48], ids=["one-step", "chunked"])
def test_questions_submitted_together_compute_the_resume_once(tiny_chat, budget) -> None:
    resume = _prompt(150, seed=1)  # nine full blocks of 16 (144 tokens) are shared
    questions = [resume + _prompt(8 + 3 * i, seed=10 + i) for i in range(6)]
    reference = LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=256,
                    enable_prefix_caching=False).score(questions, CANDIDATES)

    engine = AsyncEngine(_args(tiny_chat, max_num_batched_tokens=budget))
    computed: list[int] = []
    original = engine.engine.runner.execute

    def spy(scheduled):
        computed.append(scheduled.num_batched_tokens)
        return original(scheduled)

    engine.engine.runner.execute = spy

    async def main():
        return await asyncio.gather(*(engine.score(q, CANDIDATES) for q in questions))

    try:
        outputs = asyncio.run(main())
        scheduler = engine.engine.scheduler
        shared = 144
        assert scheduler.prefix_cache_hit_tokens == 5 * shared
        assert scheduler.prefix_cache_query_tokens == sum(map(len, questions))
        assert sum(computed) == sum(map(len, questions)) - 5 * shared
        assert sorted(o.num_cached_tokens for o in outputs) == [0] + [shared] * 5
        for out, ref in zip(outputs, reference, strict=True):
            assert out.finish_reason == "scored"
            assert out.logprobs == pytest.approx(ref.logprobs, abs=1e-4)
        assert _blocks_in_use(engine) == 0 and engine.engine.num_requests == 0
    finally:
        engine.shutdown()


@pytest.fixture(scope="module")
def engine(tiny_chat):
    """A long prompt takes about 190 steps of at least 5 ms here: a task can be cancelled or a
    deadline pass while it is being prefilled, however fast the machine."""
    e = AsyncEngine(_args(tiny_chat, max_num_batched_tokens=16, max_num_seqs=4))
    original = e.engine.runner.execute

    def slow(scheduled):
        time.sleep(0.005)
        return original(scheduled)

    e.engine.runner.execute = slow
    yield e
    e.shutdown()


def test_cancelling_the_awaiting_task_aborts_and_frees_blocks(engine) -> None:
    async def main():
        task = asyncio.ensure_future(engine.score(_prompt(3000, seed=2), CANDIDATES))
        await _until(lambda: _blocks_in_use(engine) > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(lambda: _blocks_in_use(engine) == 0 and engine.engine.num_requests == 0)

    asyncio.run(main())


def test_a_passed_deadline_answers_abort(engine) -> None:
    async def main():
        late = engine.score(_prompt(3000, seed=3), CANDIDATES, deadline=time.monotonic() + 0.3)
        task = asyncio.ensure_future(late)
        await _until(lambda: _blocks_in_use(engine) > 0)  # the deadline passes mid-prefill
        return await task

    out = asyncio.run(main())
    assert (out.finish_reason, out.abort_reason, out.logprobs) == ("abort", "deadline", {})
    assert out.num_prompt_tokens == 3000
    assert _blocks_in_use(engine) == 0 and engine.engine.num_requests == 0


def test_admission_errors_reach_the_caller(engine) -> None:
    async def main():
        with pytest.raises(PromptTooLongError):
            await engine.score(_prompt(4097, seed=4), CANDIDATES)  # tiny_chat: 4096 positions
        with pytest.raises(ValueError, match="vocabulary"):
            await engine.score([5, 6, 7], [VOCAB])
        with pytest.raises(ValueError, match="empty"):
            await engine.score([5, 6, 7], [])
        return await engine.score(_prompt(4096, seed=4), [5], priority=-1)

    out = asyncio.run(main())
    assert out.finish_reason == "scored" and out.num_prompt_tokens == 4096


def test_a_dead_engine_raises(tiny_chat) -> None:
    e = AsyncEngine(_args(tiny_chat, num_kv_blocks=64))

    def explode(scheduled):
        raise RuntimeError("device lost")

    e.engine.runner.execute = explode

    async def main():
        with pytest.raises(EngineDeadError, match="device lost"):
            await e.score([3, 4, 5], CANDIDATES)
        with pytest.raises(EngineDeadError):
            await e.score([3, 4, 5], CANDIDATES)

    try:
        asyncio.run(main())
    finally:
        e.shutdown()


def test_engine_metrics_count_scoring_requests(tiny_chat) -> None:
    llm = LLM(str(tiny_chat), dtype="float32", device="cpu", block_size=16, num_kv_blocks=128)
    metrics = Metrics()
    engine = llm.engine
    resume = _prompt(40, seed=5)
    questions = [resume + _prompt(4, seed=6 + i) for i in range(3)]
    for i, q in enumerate(questions):
        engine.add_request(f"q{i}", q, ScoringParams(CANDIDATES))
    engine.add_request("gen", _prompt(9, seed=9),
                       SamplingParams(temperature=0.0, max_tokens=3, ignore_eos=True))
    while engine.has_unfinished():
        metrics.on_step(engine.step())
    text = metrics.exposition()
    assert value(text, "hireserve_requests_finished_total", finish_reason="scored") == 3
    assert value(text, "hireserve_requests_finished_total", finish_reason="length") == 1
    assert value(text, "hireserve_prompt_tokens_total") == sum(map(len, questions)) + 9
    assert value(text, "hireserve_cached_prompt_tokens_total") == 2 * 32  # two full blocks
    assert value(text, "hireserve_generation_tokens_total") == 3
    # A scored request has no first token and no inter-token latency: only the generated one.
    assert value(text, "hireserve_time_to_first_token_seconds_count") == 1
    assert value(text, "hireserve_inter_token_latency_seconds_count") == 2
    assert value(text, "hireserve_request_decode_time_seconds_count") == 1
    # Queue, prefill (first scheduled to scored) and end to end: every request.
    assert value(text, "hireserve_request_queue_time_seconds_count") == 4
    assert value(text, "hireserve_request_prefill_time_seconds_count") == 4
    assert value(text, "hireserve_e2e_request_latency_seconds_count") == 4
