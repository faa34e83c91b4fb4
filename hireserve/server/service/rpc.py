"""The wrapper every RPC method goes through: drain check, error mapping, request ids, timing.

Servicer methods raise `ServiceError`; this turns it into a rich status (google.rpc.Status with
BadRequest / RetryInfo details). Anything else is a bug: logged with the request id and answered
INTERNAL without leaking internals. Logs carry ids and codes, never resume text.

Every call, answered or refused, returns its request id in the trailing metadata
(`x-request-id`): the caller's own when it sent a well-formed one, else a fresh one. The
servicer reads it with `request_id()` (a context variable), so its methods keep the signatures
of the generated stubs: `(self, request, context)`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_status import rpc_status

from hireserve.server.errors import ServiceError, unavailable

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
    weights_fingerprint: str = ""


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


def _takes_request_id(fn: Callable[..., Any]) -> bool:
    """A method written as (self, request, context, rid): ScreeningServicer's, until it reads
    request_id() like the others. Remove with the last such method."""
    return len(inspect.signature(fn).parameters) == 4


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
        if state.draining:
            raise unavailable("the server is draining; retry on another replica", 1.0)
        state.in_flight += 1
        self.done = False

    async def fail(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            self.code = "CANCELLED"
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
        seconds = time.perf_counter() - self.started
        for observe in self.state.observers:
            observe(self.method, self.code, seconds)


def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    legacy = _takes_request_id(fn)

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        rid = request_id_of(context)
        try:
            call = _Call(self.state, fn.__name__, context, rid)
        except ServiceError as exc:  # draining: UNAVAILABLE with RetryInfo
            await _abort(context, exc, rid)
            return None
        _REQUEST_ID_VAR.set(rid)
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        try:
            if legacy:
                return await fn(self, request, context, rid)
            return await fn(self, request, context)
        except BaseException as exc:
            await call.fail(exc)
            raise
        finally:
            call.finish()

    return wrapper


def stream(fn: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    legacy = _takes_request_id(fn)

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[Any]:
        rid = request_id_of(context)
        try:
            call = _Call(self.state, fn.__name__, context, rid)
        except ServiceError as exc:  # draining: UNAVAILABLE with RetryInfo
            await _abort(context, exc, rid)
            return
        _REQUEST_ID_VAR.set(rid)
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        items = fn(self, request, context, rid) if legacy else fn(self, request, context)
        try:
            async for item in items:
                yield item
        except BaseException as exc:
            await call.fail(exc)
            raise
        finally:
            call.finish()

    return wrapper
