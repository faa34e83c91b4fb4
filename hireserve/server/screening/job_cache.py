"""One analysis per job description, shared by every resume screened against it.

    JobCache.get(key, analyze) -> (value, ran)   LRU by key; one analysis in flight per key

The key is sha256(model, prompt version, job description), so a new model or a new prompt never
reuses an old analysis. Concurrent screens of one job description (a ScreenBatch of 1,000
resumes, or many Screen calls) await the one analysis in flight: the first caller runs it as a
task the others share, so a caller that goes away does not cancel it for the rest. When the
owner's analysis fails on its own terms (its deadline, its client gone), the next caller tries
again under its own deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from hireserve.server.errors import ServiceError

CACHE_SIZE = 256
V = TypeVar("V")


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()


class JobCache(Generic[V]):
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._done: OrderedDict[str, V] = OrderedDict()
        self._running: dict[str, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._done)

    async def get(self, key: str, analyze: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The value for `key`, and whether this call ran the analysis (its caller is the
        one charged for the analysis's tokens)."""
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key], False
        running = self._running.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running), False
            except ServiceError:
                if key in self._done:
                    return self._done[key], False
        return await self._run(key, analyze), True

    async def _run(self, key: str, analyze: Callable[[], Awaitable[V]]) -> V:
        task = asyncio.ensure_future(analyze())
        self._running[key] = task

        def finished(t: asyncio.Task[V]) -> None:
            if self._running.get(key) is t:
                del self._running[key]
            if not t.cancelled() and t.exception() is None:
                self._done[key] = t.result()
                self._done.move_to_end(key)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)

        task.add_done_callback(finished)
        return await asyncio.shield(task)
