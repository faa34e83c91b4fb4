"""The wrapper every RPC method goes through: drain check, error mapping, request ids, timing.

Servicer methods raise `ServiceError`; this turns it into a rich status (google.rpc.Status with
BadRequest / RetryInfo details). Anything else is a bug: logged with the request id and answered
INTERNAL without leaking internals. Logs carry ids and codes, never resume text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
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


def request_id_of(context: grpc.aio.ServicerContext) -> str:
    metadata = dict(context.invocation_metadata() or ())
    rid = metadata.get("x-request-id")
    return str(rid) if rid else uuid.uuid4().hex[:16]


class _Call:
    """Bookkeeping of one call: the code it ended with and how long it took."""

    def __init__(self, state: ServiceState, method: str, context: grpc.aio.ServicerContext):
        self.state, self.method, self.context = state, method, context
        self.rid = request_id_of(context)
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
            await self.context.abort_with_status(rpc_status.to_status(exc.to_status()))
        self.code = "INTERNAL"
        log.exception("rpc crashed", extra={"request_id": self.rid, "method": self.method})
        await self.context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {self.rid})")

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.state.in_flight -= 1
        seconds = time.perf_counter() - self.started
        for observe in self.state.observers:
            observe(self.method, self.code, seconds)


async def _refuse(context: grpc.aio.ServicerContext, exc: ServiceError) -> None:
    await context.abort_with_status(rpc_status.to_status(exc.to_status()))


def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            call = _Call(self.state, fn.__name__, context)
        except ServiceError as exc:
            await _refuse(context, exc)
        try:
            return await fn(self, request, context, call.rid)
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
        try:
            call = _Call(self.state, fn.__name__, context)
        except ServiceError as exc:
            await _refuse(context, exc)
        try:
            async for item in fn(self, request, context, call.rid):
                yield item
        except BaseException as exc:
            await call.fail(exc)
            raise
        finally:
            call.finish()

    return wrapper
