"""AsyncEngine: the event loop submits and streams while one engine thread steps; closing a
stream aborts its sequence; admission errors reach the caller; a dead loop fails every stream."""

from __future__ import annotations

import asyncio
import time

import pytest

from hireserve.scheduler.errors import PromptTooLongError, QueueFullError
from hireserve.server.engine import AsyncEngine, EngineArgs, SamplingParams
from hireserve.server.engine.async_engine import EngineDeadError

LONG = SamplingParams(temperature=0.0, max_tokens=2000, ignore_eos=True)


@pytest.fixture(scope="module")
def engine(tiny_chat):
    e = AsyncEngine(EngineArgs(model=str(tiny_chat), dtype="float32", device="cpu",
                               num_kv_blocks=512, max_num_seqs=2, max_waiting=1))
    yield e
    e.shutdown()


def _blocks_in_use(engine: AsyncEngine) -> int:
    s = engine.engine.scheduler
    return s.config.num_blocks - s.block_manager.num_free_blocks


async def _until(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


def test_stream_matches_the_offline_result(engine) -> None:
    params = SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True)

    async def main():
        ids, text, last = await engine.generate([5, 6, 7, 8], params)
        return ids, text, last

    ids, text, last = asyncio.run(main())
    assert len(ids) == 10 and last.finished and last.finish_reason == "length"
    assert text == engine.tokenizer.decode(ids)


def test_closing_a_stream_aborts_and_frees_blocks(engine) -> None:
    async def main():
        stream = await engine.submit([5, 6, 7, 8, 9], LONG)
        got = 0
        async for out in stream:
            got += len(out.new_token_ids)
            if got >= 3:
                break
        await stream.aclose()
        await _until(lambda: _blocks_in_use(engine) == 0 and engine.engine.num_requests == 0)

    asyncio.run(main())


def test_cancelling_the_consumer_task_aborts(engine) -> None:
    async def consume():
        async for _ in await engine.submit([9, 8, 7], LONG):
            pass

    async def main():
        task = asyncio.ensure_future(consume())
        await _until(lambda: _blocks_in_use(engine) > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(lambda: _blocks_in_use(engine) == 0 and engine.engine.num_requests == 0)

    asyncio.run(main())


def test_admission_errors_reach_the_caller(engine) -> None:
    async def main():
        with pytest.raises(PromptTooLongError):
            await engine.submit(list(range(3, 5000)), LONG)
        streams = []
        for running in (1, 2):  # one at a time: a second add before the first is scheduled
            streams.append(await engine.submit([3, 4, 5], LONG))  # would find the queue full
            await _until(lambda n=running: engine.engine.scheduler.num_running == n)
        # max_num_seqs is 2: the next one waits
        streams.append(await engine.submit([3, 4, 5], LONG))
        await _until(lambda: engine.engine.scheduler.num_waiting == 1)  # max_waiting
        with pytest.raises(QueueFullError):
            await engine.submit([3, 4, 5], LONG)
        for s in streams:  # never read: closing still aborts them
            await s.aclose()
        await _until(lambda: engine.engine.num_requests == 0 and _blocks_in_use(engine) == 0)

    asyncio.run(main())


def test_a_dead_engine_fails_every_stream(tiny_chat) -> None:
    dead: list[BaseException] = []
    e = AsyncEngine(EngineArgs(model=str(tiny_chat), dtype="float32", device="cpu",
                               num_kv_blocks=64), on_dead=dead.append)

    def explode(scheduled):
        raise RuntimeError("device lost")

    e.engine.runner.execute = explode
    params = SamplingParams(max_tokens=8)

    async def main():
        stream = await e.submit([3, 4, 5], params)
        with pytest.raises(EngineDeadError, match="device lost"):
            async for _ in stream:
                pass
        with pytest.raises(EngineDeadError):
            await e.submit([3, 4, 5], params)

    asyncio.run(main())
    assert len(dead) == 1 and not e.is_alive
