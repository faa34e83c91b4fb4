"""Giving memory back to the operating system after large requests.

A refused 19 MiB upload is freed at once (service/rpc.py sees to that), but glibc keeps freed
memory in its heaps: grpc reads a message in many small buffers spread over its threads'
arenas, and after the first 19 MiB buffer is freed glibc raises its mmap threshold so the next
ones come from the heap too. Fifty refused uploads left a server 300 MB larger for good. So:

- `prefer_mmap_for_large_buffers()` (at start) fixes the mmap threshold at 1 MiB: a large
  buffer is mapped and unmapped, never left in a heap;
- `MemoryReturner.released(nbytes)` after a call that carried at least 1 MiB runs
  malloc_trim(0) on a worker thread, at most once a second (returning 1.6 GB took 0.2 s here).

Elsewhere than glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time

log = logging.getLogger("hireserve.server")

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 1 << 20
LARGE_REQUEST_BYTES = 1 << 20


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 (only glibc has it)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def prefer_mmap_for_large_buffers() -> bool:
    """True when glibc took the setting."""
    return _LIBC is not None and bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def trim() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class MemoryReturner:
    def __init__(self, min_bytes: int = LARGE_REQUEST_BYTES, interval_s: float = 1.0) -> None:
        self.min_bytes = min_bytes
        self.interval_s = interval_s
        self._last = float("-inf")
        self._scheduled = False
        self._task: asyncio.Task[None] | None = None  # keeps the running trim referenced
        self.trims = 0

    def released(self, nbytes: int) -> None:
        """A call that held `nbytes` of request has ended (on the event loop)."""
        if _LIBC is None or nbytes < self.min_bytes or self._scheduled:
            return
        self._scheduled = True
        delay = max(0.0, self._last + self.interval_s - time.monotonic())
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._start)

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._trim())

    async def _trim(self) -> None:
        self._scheduled = False  # a call ending during the trim schedules the next one
        self._last = time.monotonic()
        await asyncio.to_thread(trim)
        self.trims += 1
