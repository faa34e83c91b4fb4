"""Bearer-token authentication for every RPC except health checks and reflection.

A call without the right `authorization: Bearer <token>` is answered UNAUTHENTICATED before its
request is read (a refused upload costs nothing). Each failure is counted
(`hireserve_auth_failures_total{reason="missing"|"wrong"}`) and logged at most once a minute per
peer address, with the number of failures since the previous line; the token a caller sent is
never logged or counted, only whether there was one.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

import grpc

from hireserve.server.admission import OPEN_PREFIXES, Continuation, refusal
from hireserve.server.errors import ServiceError

log = logging.getLogger("hireserve.auth")

LOG_INTERVAL_S = 60.0
MAX_PEERS = 4096  # peers remembered for the log's rate limit; the oldest are forgotten


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, token: str, on_failure: Callable[[str | None, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not token:
            raise ValueError("the token file is empty")
        self._expected = f"Bearer {token}".encode()
        # (our method's full name, or None for a method we do not serve; reason) -> None
        self._on_failure = on_failure
        self._clock = clock
        self._peers: dict[str, tuple[float, int]] = {}  # host -> (last logged, failures since)

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        if details.method.startswith(OPEN_PREFIXES):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        got = metadata.get("authorization", "")
        got_bytes = got.encode() if isinstance(got, str) else bytes(got)
        if hmac.compare_digest(got_bytes, self._expected):
            return await continuation(details)
        reason = "wrong" if got_bytes else "missing"
        handler = await continuation(details)
        known = details.method if handler is not None else None

        async def deny(context: grpc.aio.ServicerContext) -> ServiceError:
            self.record_failure(_host(context.peer()), known, reason)
            return ServiceError(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        return refusal(handler, deny)

    def record_failure(self, host: str, method: str | None, reason: str) -> None:
        if self._on_failure is not None:
            self._on_failure(method, reason)
        now = self._clock()
        last, since = self._peers.pop(host, (float("-inf"), 0))
        since += 1
        if now - last >= LOG_INTERVAL_S:
            log.warning("authentication failed", extra={
                "peer": host, "method": method or "unknown", "reason": reason,
                "failures": since})
            last, since = now, 0
        self._peers[host] = (last, since)  # re-inserted: the dict's order is least recent first
        while len(self._peers) > MAX_PEERS:
            del self._peers[next(iter(self._peers))]


def _host(peer: str) -> str:
    """"ipv4:10.0.0.7:53124" -> "ipv4:10.0.0.7": one peer, whatever port it calls from."""
    kind, _, address = peer.partition(":")
    if kind in ("ipv4", "ipv6") and ":" in address:
        address = address.rsplit(":", 1)[0]
    return f"{kind}:{address}"
