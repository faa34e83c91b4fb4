"""Refusing a call before its request is read: the cap on concurrent calls, and the handler
that refuses without receiving the payload (also used by auth).

`CallLimiter` counts the calls of our services from the moment they arrive (before their
message is received) until their task ends; past `max_calls` a new call is answered
RESOURCE_EXHAUSTED with RetryInfo at once. Health checks and reflection are never counted or
refused: a probe must see an overloaded server, not a refusal. grpc's own
`maximum_concurrent_rpcs` stays above this cap as a last line for every method (its answer has
no RetryInfo).

A refusal handler is registered as request-streaming whatever the method is, so grpc never
pulls the request off the wire: a refused 30 MiB upload costs no memory here. The wire does not
know the difference; the caller gets the status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from hireserve.server.errors import ServiceError, resource_exhausted

# Kubernetes probes and grpcurl discovery: never refused, never counted.
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


def refusal(handler: grpc.RpcMethodHandler | None, error: ServiceError | Callable[
        [grpc.aio.ServicerContext], Awaitable[ServiceError]]) -> grpc.RpcMethodHandler:
    """A handler that answers `error` (or what `error(context)` returns) without reading the
    request."""

    async def refuse(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> None:
        failure = error if isinstance(error, ServiceError) else await error(context)
        status = rpc_status.to_status(failure.to_status())
        await context.abort(status.code, status.details,
                            trailing_metadata=status.trailing_metadata)

    if handler is not None and handler.response_streaming:
        async def refuse_stream(requests: AsyncIterator[Any],
                                context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await refuse(requests, context)
            yield  # never reached: abort raises

        return grpc.stream_stream_rpc_method_handler(refuse_stream)
    return grpc.stream_unary_rpc_method_handler(refuse)


class CallLimiter(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, max_calls: int, retry_after_s: float,
                 on_refused: Callable[[str], None] | None = None) -> None:
        if max_calls < 1:
            raise ValueError("--max-concurrent-rpcs must be >= 1")
        self.max_calls = max_calls
        self.retry_after_s = retry_after_s
        self.on_refused = on_refused  # (full method name) -> None, for the RPC metrics
        self.active = 0

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        if self.active >= self.max_calls:
            if self.on_refused is not None:
                self.on_refused(details.method)
            return refusal(handler, resource_exhausted(
                f"{self.active} calls in progress (the limit); retry shortly",
                self.retry_after_s))
        # This coroutine runs in the call's own task: it ends when the call does, even a call
        # cancelled before its message arrived (its handler never runs then).
        task = asyncio.current_task()
        assert task is not None
        self.active += 1
        task.add_done_callback(self._done)
        return handler

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.active -= 1
