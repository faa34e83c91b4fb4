"""The RPC wrapper (service/rpc.py) without a server: servicer methods keep the generated
signatures and read the request id from `request_id()` (in the tasks they start too); every
failure path ends the call explicitly with one status (a context whose abort returns, instead of
raising as grpc.aio's does, shows what would otherwise fall through)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import grpc
import pytest

from hireserve.server.errors import ServiceError, invalid_argument
from hireserve.server.service.generation import GenerationServicer
from hireserve.server.service.rpc import ServiceState, request_id, stream, unary
from hireserve.v1 import generation_pb2_grpc


class FakeContext:
    """Records what the wrapper does; `abort` returns (grpc.aio's raises AbortError)."""

    def __init__(self, rid: str | None = None) -> None:
        self.metadata = [("x-request-id", rid)] if rid else []
        self.trailing: tuple[tuple[str, str], ...] = ()
        self.aborts: list[tuple[grpc.StatusCode, str]] = []
        self.done_callbacks: list[Any] = []

    def add_done_callback(self, callback: Any) -> None:
        self.done_callbacks.append(callback)

    def time_remaining(self) -> float | None:
        return None

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = metadata

    async def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = ()) -> None:
        self.aborts.append((code, details))

    def code(self) -> grpc.StatusCode | None:
        return self.aborts[-1][0] if self.aborts else None


class Servicer:
    def __init__(self) -> None:
        self.state = ServiceState()
        self.calls: list[tuple[str, str, float]] = []
        self.state.observers.append(lambda method, code, s: self.calls.append((method, code, s)))

    @unary
    async def Ask(self, request: Any, context: Any) -> Any:
        inner = await asyncio.gather(asyncio.to_thread(lambda: None), _rid_later())
        return request_id(), inner[1]

    @stream
    async def Watch(self, request: Any, context: Any) -> Any:
        for _ in range(2):
            yield request_id()

    @unary
    async def Refuse(self, request: Any, context: Any) -> Any:
        raise invalid_argument("prompt", "the prompt is empty")

    @unary
    async def Crash(self, request: Any, context: Any) -> Any:
        raise RuntimeError("a bug")


async def _rid_later() -> str:
    await asyncio.sleep(0)
    return request_id()


def test_generation_methods_keep_the_generated_signatures() -> None:
    generated = [n for n in vars(generation_pb2_grpc.GenerationServiceServicer)
                 if not n.startswith("_")]
    assert generated == ["Generate", "GetModelInfo"]
    for name in generated:
        params = list(inspect.signature(getattr(GenerationServicer, name)).parameters)
        assert params == ["self", "request", "context"], name


def test_the_request_id_reaches_the_method_and_its_tasks() -> None:
    async def main() -> tuple[Any, list[str], Any]:
        s = Servicer()
        asked = await s.Ask(None, FakeContext("caller-7"))
        watched = [rid async for rid in s.Watch(None, FakeContext("watch-1"))]
        fresh = await s.Ask(None, FakeContext())
        return asked, watched, fresh

    asked, watched, fresh = asyncio.run(main())
    assert asked == ("caller-7", "caller-7")
    assert watched == ["watch-1", "watch-1"]
    assert fresh[0] == fresh[1] and fresh[0] != "caller-7" and len(fresh[0]) == 16


@pytest.mark.parametrize(("method", "code"), [("Refuse", grpc.StatusCode.INVALID_ARGUMENT),
                                              ("Crash", grpc.StatusCode.INTERNAL)])
def test_a_failure_ends_with_one_status(method: str, code: grpc.StatusCode) -> None:
    s, context = Servicer(), FakeContext("r-1")

    async def main() -> None:
        with pytest.raises(Exception):  # noqa: B017 - the method's own error, re-raised
            await getattr(s, method)(None, context)

    asyncio.run(main())
    assert [c for c, _ in context.aborts] == [code]  # never INTERNAL after a ServiceError
    assert [(m, c) for m, c, _ in s.calls] == [(method, code.name)]
    assert context.trailing == (("x-request-id", "r-1"),)


def test_a_draining_server_refuses_before_any_work() -> None:
    s, context = Servicer(), FakeContext("late")
    s.state.draining = True
    items: list[str] = []

    async def main() -> None:
        with pytest.raises(ServiceError):  # after the abort, as a failure does (above)
            await s.Ask(None, context)
        with pytest.raises(ServiceError):
            async for x in s.Watch(None, context):
                items.append(x)

    asyncio.run(main())
    assert items == []
    assert [c for c, _ in context.aborts] == [grpc.StatusCode.UNAVAILABLE] * 2
    # counted under their code, like any other call that ended
    assert [(m, c) for m, c, _ in s.calls] == [("Ask", "UNAVAILABLE"), ("Watch", "UNAVAILABLE")]
    assert s.state.in_flight == 0


class ExpiredContext(FakeContext):
    def time_remaining(self) -> float | None:
        return 0.0


@pytest.mark.parametrize(("context", "code"), [(FakeContext("gone"), "CANCELLED"),
                                               (ExpiredContext("late"), "DEADLINE_EXCEEDED")])
def test_a_stream_closed_at_its_yield_is_counted_not_aborted(context: FakeContext,
                                                             code: str) -> None:
    """grpc closes a stream suspended at `yield` when its client leaves or its deadline passes
    (GeneratorExit, not CancelledError): there is no status left to send, only one to count."""
    s = Servicer()

    async def main() -> None:
        stream_ = s.Watch(None, context)
        assert await stream_.__anext__() == context.metadata[0][1]
        await stream_.aclose()

    asyncio.run(main())
    assert context.aborts == []  # no INTERNAL abort on a finished call
    assert [(m, c) for m, c, _ in s.calls] == [("Watch", code)]
    assert s.state.in_flight == 0
