"""The wrapper every RPC method goes through: admission, error mapping, request ids, timing.

Admission refuses a call before any work: UNAVAILABLE with RetryInfo while draining,
INVALID_ARGUMENT for a request that did not decode (service/decoding.py: invalid UTF-8 names its
field), RESOURCE_EXHAUSTED with RetryInfo when its request would take the request bytes held by
calls in progress past the cap. Servicer methods raise `ServiceError`; this turns it into a rich
status (google.rpc.Status with BadRequest / RetryInfo details). Anything else is a bug: logged
with the request id and answered INTERNAL without leaking internals. Logs carry ids and codes,
never resume text. A call whose deadline passed is counted DEADLINE_EXCEEDED, one whose client
left CANCELLED. When the drain's grace period ends, `_Call.cut` answers the calls still running
UNAVAILABLE with RetryInfo, logs each, and cancels their work. Once a failed call is done, the
frames its exception holds let go of their locals, so no traceback keeps a refused upload alive.

Every call, answered or refused, returns its request id in the trailing metadata
(`x-request-id`): the caller's own when it sent a well-formed one, else a fresh one. The
servicer reads it with `request_id()` (a context variable), so its methods keep the signatures
of the generated stubs: `(self, request, context)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import re
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_status import rpc_status

from hireserve.server.errors import ServiceError, resource_exhausted, unavailable
from hireserve.server.service.decoding import UndecodableRequest, request_bytes

log = logging.getLogger("hireserve.rpc")

Observer = Callable[[str, str, float], None]  # (method, code, seconds)


@dataclass
class ServiceState:
    """Shared by every servicer of one server."""

    draining: bool = False
    observers: list[Observer] = field(default_factory=list)
    in_flight: int = 0
    metrics: Any = None  # server.metrics.Metrics, when the server exports metrics
    audit: Any = None  # server.audit.AuditLog, when --audit-log is set
    documents: Any = None  # server.documents.pool.DocumentPool
    weights_fingerprint: str = ""
    # Requests held by calls in progress, in serialized bytes; a call that would take the total
    # past the cap is refused RESOURCE_EXHAUSTED (0: no cap).
    max_request_bytes_in_flight: int = 0
    request_bytes_in_flight: int = 0
    retry_after_s: float = 1.0  # RetryInfo of refusals made here
    memory: Any = None  # server.memory.MemoryReturner: told when a large request is let go
    calls: set[Any] = field(default_factory=set)  # the _Calls in progress (the drain cuts them)


REQUEST_ID_KEY = "x-request-id"
# What a caller's id may look like: it lands in logs and audit records, so short and plain.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


# The request id of the RPC being served. grpc.aio runs each RPC in a task of its own, whose
# copy of the context ends with it: set once per call, never reset, never seen by another call.
_REQUEST_ID_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("hireserve_request_id")


def request_id() -> str:
    """The id of the RPC this code runs for (inside a method wrapped by @unary / @stream, and
    in the tasks it starts)."""
    return _REQUEST_ID_VAR.get()


def request_id_of(context: grpc.aio.ServicerContext) -> str:
    """The caller's `x-request-id` if it is well-formed (<= 64 plain characters), else a new
    one (a malformed id is replaced, not refused: it is a label, not an input)."""
    metadata = dict(context.invocation_metadata() or ())
    rid = metadata.get(REQUEST_ID_KEY)
    if isinstance(rid, str) and _REQUEST_ID.fullmatch(rid):
        return rid
    return uuid.uuid4().hex[:16]


async def _abort(context: grpc.aio.ServicerContext, exc: ServiceError, rid: str) -> None:
    """abort_with_status, keeping the request id next to the rich status details."""
    status = rpc_status.to_status(exc.to_status())
    await context.abort(status.code, status.details,
                        trailing_metadata=(*status.trailing_metadata, (REQUEST_ID_KEY, rid)))


class _Call:
    """Bookkeeping of one call: the code it ended with and how long it took."""

    def __init__(self, state: ServiceState, method: str, context: grpc.aio.ServicerContext,
                 rid: str | None = None):
        self.state, self.method, self.context = state, method, context
        self.rid = rid or request_id_of(context)
        self.code = "OK"
        self.started = time.perf_counter()
        try:
            self.task = asyncio.current_task()  # what a cut at the end of a drain cancels
        except RuntimeError:  # made outside a running loop (unit tests)
            self.task = None
        self.request_bytes = 0
        self.was_cut = False
        state.in_flight += 1
        state.calls.add(self)
        self.done = False

    def admit(self, request: Any) -> None:
        """Raises the ServiceError that refuses this call before any work: draining, a request
        that did not decode, or too many request bytes in flight."""
        if self.state.draining:
            raise unavailable("the server is draining; retry on another replica", 1.0)
        if isinstance(request, UndecodableRequest):
            if request.field is None:
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, request.message,
                               field=request.field)
        size = request_bytes()
        cap, held = self.state.max_request_bytes_in_flight, self.state.request_bytes_in_flight
        if cap and held + size > cap:
            raise resource_exhausted(
                f"requests in progress hold {held >> 20} MiB and this one {size >> 20} MiB; the "
                f"limit is {cap >> 20} MiB: retry shortly", self.state.retry_after_s)
        self.request_bytes = size
        self.state.request_bytes_in_flight += size

    async def cut(self, retry_after_s: float) -> None:
        """The grace period is over: answer UNAVAILABLE with RetryInfo now, stop the work."""
        self.was_cut = True
        log.warning("call cut at the end of the grace period",
                    extra={"request_id": self.rid, "method": self.method})
        status = rpc_status.to_status(unavailable(
            "the server stopped before this call finished; retry on another replica",
            retry_after_s).to_status())
        # AbortError, as always; or another error if the call finished meanwhile.
        with contextlib.suppress(Exception):
            await self.context.abort(status.code, status.details, trailing_metadata=(
                *status.trailing_metadata, (REQUEST_ID_KEY, self.rid)))
        if self.task is not None:
            self.task.cancel()

    async def fail(self, exc: BaseException) -> None:
        # grpc keeps the AbortError raised below on the call, and its traceback reaches these
        # frames and the request in them: a refused 19 MiB upload stayed until a GC found the
        # cycle. Once the call is done, the frames let go of their locals.
        self.context.add_done_callback(lambda _context: _forget(exc))
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            # grpc cancels the call's task both when the client leaves and at its deadline; a
            # stream suspended at its `yield` is closed instead (GeneratorExit). The call is
            # over either way: there is no status left to send.
            remaining = self.context.time_remaining()
            self.code = ("UNAVAILABLE" if self.was_cut else "DEADLINE_EXCEEDED"
                         if remaining is not None and remaining <= 0 else "CANCELLED")
            return
        if isinstance(exc, grpc.aio.AbortError):
            code = self.context.code()
            self.code = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
            return
        if isinstance(exc, ServiceError):
            self.code = exc.code.name
            log.info("rpc failed", extra={"request_id": self.rid, "method": self.method,
                                           "code": self.code})
            await _abort(self.context, exc, self.rid)
            return
        self.code = "INTERNAL"
        log.exception("rpc crashed", extra={"request_id": self.rid, "method": self.method})
        await self.context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {self.rid})",
                                 trailing_metadata=((REQUEST_ID_KEY, self.rid),))
        return

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.state.in_flight -= 1
        self.state.calls.discard(self)
        self.state.request_bytes_in_flight -= self.request_bytes
        if self.state.memory is not None:
            self.state.memory.released(self.request_bytes)
        seconds = time.perf_counter() - self.started
        for observe in self.state.observers:
            observe(self.method, self.code, seconds)


def _forget(exc: BaseException) -> None:
    """Clears the locals of every finished frame in `exc`'s traceback and its chain."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        traceback.clear_frames(e.__traceback__)
        pending += [e.__cause__, e.__context__]


def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        rid = request_id_of(context)
        call = _Call(self.state, fn.__name__, context, rid)
        _REQUEST_ID_VAR.set(rid)
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        try:
            call.admit(request)
            return await fn(self, request, context)
        except BaseException as exc:
            await call.fail(exc)
            raise
        finally:
            call.finish()

    return wrapper


def stream(fn: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[Any]:
        rid = request_id_of(context)
        call = _Call(self.state, fn.__name__, context, rid)
        _REQUEST_ID_VAR.set(rid)
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        try:
            call.admit(request)
            async for item in fn(self, request, context):
                yield item
        except BaseException as exc:
            await call.fail(exc)
            raise
        finally:
            call.finish()

    return wrapper
