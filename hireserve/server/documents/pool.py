"""The document worker pool: a few processes that prepare documents, bounded in every way.

    pool = DocumentPool(limits, workers=2, max_waiting=16, retry_after_s=1.0)
    prepared = await pool.prepare(data, media_type, filename, field=..., blind=...,
                                  deadline=...)
    pool.close()

Parsing a PDF holds the GIL for as long as it takes, and a thread cannot be stopped: a 7 KB
PDF once kept the server's CPU for 99 s after its caller had gone. So documents are prepared
(documents/prepare.py) in worker processes (documents/worker.py) that run under RLIMIT_CPU and
RLIMIT_AS, and a worker is killed (and replaced at the next document) when the call's deadline
passes, the caller goes away, or the document runs past `max_wall_seconds`.

- Workers start lazily: a server that never sees a PDF never starts one (about 0.5 s each).
- Short plain text (up to INLINE_MAX_BYTES, not PDF/ZIP/OLE) is prepared on a thread of this
  process: its cost is bounded by its size, and most test traffic is such text.
- At most `max_waiting` documents wait for a worker; one more raises DocumentPoolFull (the RPC
  layer answers RESOURCE_EXHAUSTED with RetryInfo).
- A ScreenBatch reads through `batch_lane()`: at most `workers` of its documents wait or run at
  once, and they wait for room rather than being refused, so one batch neither floods the queue
  nor fails its own resumes for want of a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import struct
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from typing import Any

from hireserve.server.documents.base import DocumentError
from hireserve.server.documents.limits import DocumentLimits
from hireserve.server.documents.prepare import Prepared, from_wire, prepare

log = logging.getLogger("hireserve.documents")

INLINE_MAX_BYTES = 16 * 1024  # plain text this short is prepared in-process (~10 ms at most)
START_TIMEOUT_S = 60.0  # spawn + imports on a slow, loaded machine
_LENGTH = struct.Struct(">I")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20
_BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
_LANE: ContextVar[asyncio.Semaphore | None] = ContextVar("hireserve_document_lane", default=None)


class DocumentPoolFull(Exception):
    """Too many documents are waiting for a worker: come back after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DocumentTimeout(Exception):
    """The call's deadline passed while its document was waiting or being read."""


class DocumentPool:
    def __init__(self, limits: DocumentLimits | None = None, *, workers: int = 2,
                 max_waiting: int = 16, retry_after_s: float = 1.0) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("document workers must be >= 1 and the queue >= 0")
        self.limits = limits or DocumentLimits()
        self.workers = workers
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self._free = workers  # slots not in use; an idle started worker holds no slot
        self._idle: list[_Worker] = []
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._live: set[_Worker] = set()
        self._closed = False

    @property
    def waiting(self) -> int:
        return sum(not f.done() for f in self._waiters)

    @contextmanager
    def batch_lane(self) -> Iterator[None]:
        """Tasks created inside share one lane (see the module docstring)."""
        token = _LANE.set(asyncio.Semaphore(self.workers))
        try:
            yield
        finally:
            _LANE.reset(token)

    async def prepare(self, data: bytes | str, media_type: str, filename: str, *, field: str,
                      blind: bool, deadline: float | None = None) -> Prepared:
        """Raises DocumentError (the document's fault, naming `field`), DocumentPoolFull or
        DocumentTimeout (`deadline` is on time.monotonic's clock)."""
        if _inline(data):
            return await asyncio.to_thread(prepare, data, media_type, filename, field=field,
                                           blind=blind, limits=self.limits)
        lane = _LANE.get()
        if lane is None:
            return await self._in_worker(data, media_type, filename, field, blind, deadline,
                                         patient=False)
        async with lane:
            return await self._in_worker(data, media_type, filename, field, blind, deadline,
                                         patient=True)

    async def _in_worker(self, data: bytes | str, media_type: str, filename: str, field: str,
                         blind: bool, deadline: float | None, *, patient: bool) -> Prepared:
        await self._acquire(field, deadline, patient=patient)
        worker: _Worker | None = None
        try:
            worker = self._idle_worker() or await self._start()
            header = {"media_type": media_type, "filename": filename, "field": field,
                      "blind": blind, "text": isinstance(data, str),
                      "limits": asdict(self.limits)}
            reply = await self._run(worker, header, data, field, deadline)
            if not reply.get("exit"):  # after a CPU or memory overrun it exits by itself
                self._idle.append(worker)
                worker = None
        finally:
            if worker is not None:  # killed, crashed or cancelled: replaced at the next use
                self._kill(worker)
            self._release()
        if "error" in reply:
            error_field, reason = reply["error"]
            raise DocumentError(error_field, reason)
        prepared: Prepared = reply["ok"]
        return prepared

    async def _decode(self, raw: bytes) -> dict[str, Any]:
        """The worker's JSON answer: a long resume's (MBs, thousands of lines) off the loop."""
        if len(raw) <= INLINE_MAX_BYTES:
            return _parse(raw)
        return await asyncio.to_thread(_parse, raw)

    async def _run(self, worker: _Worker, header: dict[str, Any], data: bytes | str,
                   field: str, deadline: float | None) -> dict[str, Any]:
        limit_s = self.limits.max_wall_seconds
        by_deadline = deadline is not None and deadline - time.monotonic() < limit_s
        if deadline is not None:
            limit_s = min(limit_s, deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(limit_s, 0.0)):
                reply = await self._decode(await worker.call(header, data))
        except TimeoutError:
            if by_deadline:
                raise DocumentTimeout(f"the deadline passed while reading {field}") from None
            raise DocumentError(field, f"reading it takes longer than "
                                       f"{self.limits.max_wall_seconds:g} s (the limit)") from None
        except (OSError, EOFError, ValueError) as exc:  # the worker died under the document
            code = await worker.exit_code()
            log.warning("document worker died", extra={"field": field, "exit_code": code,
                                                       "error": type(exc).__name__})
            raise DocumentError(field, f"reading it crashed the reader ({_describe(code)})"
                                ) from None
        return reply

    def _idle_worker(self) -> _Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.proc.returncode is None:
                return worker
            self._live.discard(worker)  # died while idle: never blame the next document
        return None

    async def _acquire(self, field: str, deadline: float | None, *, patient: bool) -> None:
        if self._closed:
            raise DocumentPoolFull("the server is shutting down", self.retry_after_s)
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        if not patient and self.waiting >= self.max_waiting:
            raise DocumentPoolFull(
                f"{self.waiting} documents are waiting for a reader (the limit); retry shortly",
                self.retry_after_s)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(waiter)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot arrived as we left: pass it on
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise DocumentTimeout(f"the deadline passed while {field} waited to be read"
                                      ) from None
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    async def _start(self) -> _Worker:
        try:
            worker = await _Worker.start(self.limits.max_memory_bytes)
        except (OSError, ValueError, TimeoutError) as exc:  # no memory, no fds, a broken venv
            log.error("document worker did not start", extra={"error": repr(exc)})
            raise DocumentPoolFull("the document reader is restarting; retry shortly",
                                   self.retry_after_s) from None
        self._live.add(worker)
        return worker

    def _kill(self, worker: _Worker) -> None:
        self._live.discard(worker)
        worker.kill()

    def close(self) -> None:
        """Kills every worker; later documents are refused."""
        self._closed = True
        for worker in list(self._live):
            self._kill(worker)
        self._idle.clear()

    async def aclose(self) -> None:
        """close(), then waits until the workers have exited (their pipes closed)."""
        dying = list(self._live)
        self.close()
        for worker in dying:
            await worker.exit_code()


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, memory_bytes: int) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hireserve.server.documents.worker", str(memory_bytes),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        worker = cls(proc)
        # A 1 MiB pipe (Linux's default cap) instead of 64 KiB: a 19 MiB document crosses in
        # 19 event-loop callbacks instead of 300.
        pipe = proc.stdin.get_extra_info("pipe") if proc.stdin is not None else None
        if pipe is not None:
            with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size: keep 64 KiB
                fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                ready = json.loads(await worker._read())
        except BaseException:
            worker.kill()
            raise
        if ready != {"ready": True}:
            worker.kill()
            raise ValueError(f"unexpected greeting {ready!r}")
        return worker

    async def call(self, header: dict[str, Any], data: bytes | str) -> bytes:
        """Sends one document; returns the worker's answer, still JSON."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        assert self.proc.stdin is not None
        body = json.dumps(header).encode()
        self.proc.stdin.write(_LENGTH.pack(len(body)) + body + _LENGTH.pack(len(payload)))
        self.proc.stdin.write(payload)
        await self.proc.stdin.drain()
        return await self._read()

    async def _read(self) -> bytes:
        assert self.proc.stdout is not None
        try:
            head = await self.proc.stdout.readexactly(_LENGTH.size)
            return await self.proc.stdout.readexactly(_LENGTH.unpack(head)[0])
        except asyncio.IncompleteReadError as exc:
            raise EOFError("the document worker exited") from exc

    async def exit_code(self) -> int | None:
        try:
            async with asyncio.timeout(1.0):
                return await self.proc.wait()
        except TimeoutError:
            return None

    def kill(self) -> None:
        # Closing the transport kills a running child and closes its pipes (kill() alone
        # would leave the transport to a garbage collector that may outlive the loop).
        self.proc._transport.close()  # type: ignore[attr-defined]


def _parse(raw: bytes) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(raw)
    if "ok" in reply:
        reply["ok"] = Prepared(**from_wire(reply["ok"]))
    return reply


def _inline(data: bytes | str) -> bool:
    if len(data) > INLINE_MAX_BYTES:
        return False
    if isinstance(data, str):
        return True
    return b"%PDF-" not in data[:1024] and not data.startswith(_BINARY_MAGIC)


def _describe(code: int | None) -> str:
    if code is None:
        return "it did not exit"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"
