"""AsyncHireClient: the same behaviour as the sync client, through grpc.aio."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from hireserve.clients.aio import AsyncHireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import RetryPolicy
from hireserve.v1 import screening_pb2
from tests.clients.fake_server import FakeServer, rich_status, score

JD = "Data scientist: Python, pandas, scikit-learn, SQL, experiments."
RESUME = "Python and SQL analyst; pandas every day."


def run(coro):  # no pytest-asyncio in this env: one loop per test
    return asyncio.run(coro)


def test_every_method(fake: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text(RESUME)

    async def main() -> None:
        async with AsyncHireClient(fake.target, token="t") as client:
            r = await client.screen(JD, path)
            assert r.match_score == score(JD, RESUME)
            events = [e async for e in client.screen_batch(JD, {"x": RESUME, "y": "SQL"})]
            assert [x.resume_id for x in events[-1].ranking.ranked] == ["x", "y"]
            q = await client.generate_questions(path, num_questions=5)
            assert len(q.questions) == 5
            text = "".join([c.text async for c in client.generate("abcd", max_tokens=3)])
            assert text == "ABC"
            assert (await client.model_info()).dtype == "bfloat16"
            assert (await client.health()).status == 1

    run(main())
    methods = [name for name, _, _ in fake.script.calls]
    assert methods == ["Screen", "ScreenBatch", "GenerateQuestions", "Generate", "GetModelInfo"]
    assert all(m["authorization"] == "Bearer t" for _, m, _ in fake.script.calls)


def test_invalid_argument_field(fake: FakeServer) -> None:
    async def main() -> HireError:
        async with AsyncHireClient(fake.target) as client:
            try:
                await client.screen("", RESUME)
            except HireError as exc:
                return exc
        raise AssertionError("no error")

    err = run(main())
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.field == "job_description"


def test_retry_info_honoured_then_gives_up(fake: FakeServer) -> None:
    hint = 0.3
    fake.script.fail_next("Screen", rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy",
                                                retry_after_s=hint))
    fake.script.fail_next("ScreenBatch", rich_status(grpc.StatusCode.UNAVAILABLE, "down",
                                                     retry_after_s=0.05), times=5)

    async def main() -> HireError:
        policy = RetryPolicy(max_attempts=2, initial_backoff=0.01)
        async with AsyncHireClient(fake.target, retry=policy) as client:
            r = await client.screen(JD, RESUME)
            assert isinstance(r, screening_pb2.ScreenResponse)
            try:
                _ = [e async for e in client.screen_batch(JD, [RESUME])]
            except HireError as exc:
                return exc
        raise AssertionError("no error")

    started = time.monotonic()
    err = run(main())
    assert time.monotonic() - started >= hint
    first, second = fake.script.times("Screen")
    assert hint <= second - first < hint + 0.3
    assert err.code == grpc.StatusCode.UNAVAILABLE and err.attempts == 2
    assert len(fake.script.times("ScreenBatch")) == 2


def test_stream_error_after_first_message_is_not_retried() -> None:
    """A stream the caller has partly read is never replayed: the error surfaces as is."""
    from hireserve.clients.errors import HireError as Err

    class FailingCall:
        def __init__(self) -> None:
            self.cancelled = False

        def __aiter__(self):
            return self._gen()

        async def _gen(self):
            yield "first"
            raise _aio_error(grpc.StatusCode.UNAVAILABLE)

        def cancel(self) -> None:
            self.cancelled = True

    calls: list[FailingCall] = []

    def method(request, timeout, metadata):
        calls.append(FailingCall())
        return calls[-1]

    async def main() -> list[str]:
        client = AsyncHireClient("127.0.0.1:1")
        got: list[str] = []
        with pytest.raises(Err):
            async for item in client._stream(method, None, 1.0):
                got.append(item)
        await client.close()
        return got

    assert run(main()) == ["first"]
    assert len(calls) == 1 and calls[0].cancelled


def _aio_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="x")
