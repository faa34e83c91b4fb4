"""What the sync and async clients share: settings, metadata, stubs' request builders."""

from __future__ import annotations

import uuid
from typing import Any

from hireserve.clients.affinity import AFFINITY_HEADER, request_key
from hireserve.clients.channel import TlsSetting, resolve_tls
from hireserve.clients.retry import Deadlines, RetryPolicy

DEFAULT_TARGET = "127.0.0.1:50051"
Metadata = tuple[tuple[str, str], ...]


class ClientSettings:
    """Target, credentials, retry policy and deadlines of one client."""

    def __init__(self, target: str, token: str | None, tls: TlsSetting,
                 retry: RetryPolicy | None, deadlines: Deadlines | None) -> None:
        self.target = target
        self.tls = resolve_tls(tls)
        self.retry = retry or RetryPolicy()
        self.deadlines = deadlines or Deadlines()
        # The token goes in plain metadata (not call credentials) so it also works over a
        # plaintext channel inside a trusted network, the way the server's interceptor reads it.
        self._auth: Metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def metadata(self, request_id: str, request: Any = None) -> Metadata:
        # A request naming a job description carries its hash, so a proxy can keep one JD on
        # one replica (its prefix cache); see clients/affinity.py.
        key = request_key(request) if request is not None else None
        affinity: Metadata = ((AFFINITY_HEADER, key),) if key else ()
        return (*self._auth, ("x-request-id", request_id), *affinity)

    def __repr__(self) -> str:  # never show the token
        return (f"ClientSettings(target={self.target!r}, tls={self.tls is not None}, "
                f"token={'set' if self._auth else 'none'})")


def new_request_id() -> str:
    """One id per logical call, reused by its retries (the server logs it)."""
    return uuid.uuid4().hex[:16]
