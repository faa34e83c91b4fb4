"""Compiling a caller's schema with a time cap, never on the engine thread.

xgrammar can take minutes on a tiny schema (`{"type": "string", "pattern":
"^([a-z]{1,50}){1,50}$"}` took 251 s here), and a thread cannot be stopped. So a schema is first
compiled in a child process that is killed when it runs past the cap; only a schema that compiled
there in time is compiled again in this process (`AsyncEngine.precompile_schema`, a worker
thread), which warms the engine's grammar cache so the engine thread never compiles a caller's
schema. The child is started on the
first schema and restarted after a kill. Verdicts are remembered by schema hash, so a repeated
schema costs nothing and a schema that timed out is refused at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from typing import Any

from hireserve.server.errors import invalid_argument, resource_exhausted
from hireserve.server.service.schemas import FIELD, parse_schema

log = logging.getLogger("hireserve.schemas")

WORKER_START_TIMEOUT_S = 120.0  # spawn + importing xgrammar (and torch) on a slow machine


class SchemaAdmission:
    """Validates and compiles schemas for the GenerationService."""

    def __init__(self, engine: Any, *, max_bytes: int, compile_timeout_s: float,
                 remembered: int = 256) -> None:
        self._engine = engine  # the AsyncEngine
        self.max_bytes = max_bytes
        self.compile_timeout_s = compile_timeout_s
        self._verdicts: OrderedDict[str, str | None] = OrderedDict()  # hash -> error or None
        self._remembered = remembered
        # hash -> the compile in progress, shared by the callers that sent the same schema; a
        # task of its own, so a caller who leaves neither cancels it nor loses its verdict.
        self._compiling: dict[str, asyncio.Task[str | None]] = {}
        self._probe = _ProbeProcess()

    async def admit(self, text: str) -> None:
        """Returns once the engine can run `text` as a grammar; else INVALID_ARGUMENT naming
        json_schema (or RESOURCE_EXHAUSTED while another compile holds the child)."""
        key = hashlib.sha256(text.encode()).hexdigest()
        if key in self._verdicts:
            self._verdicts.move_to_end(key)
            error = self._verdicts[key]
            if error is not None:
                raise invalid_argument(FIELD, error)
            return
        await asyncio.to_thread(parse_schema, text, max_bytes=self.max_bytes)
        task = self._compiling.get(key)
        if task is None:
            task = self._compiling[key] = asyncio.ensure_future(self._compile_once(text, key))
            task.add_done_callback(_retrieve)  # when every caller has left
        error = await asyncio.shield(task)
        if error is not None:
            raise invalid_argument(FIELD, error)

    async def _compile_once(self, text: str, key: str) -> str | None:
        try:
            error = await asyncio.to_thread(self._probe_compile, text, key)
            if error is None:  # proven fast: warm the engine's cache
                await self._engine.precompile_schema(text)
        finally:
            del self._compiling[key]
        self._remember(key, error)
        return error

    def _probe_compile(self, text: str, key: str) -> str | None:
        """Compiles in the child process: None if it compiled in time, else why not."""
        info = self._engine.grammar_tokenizer_info()
        try:
            outcome = self._probe.compile(text, info, self.compile_timeout_s)
        except CompilerUnavailableError as exc:  # not the schema's fault: not remembered
            log.error("schema compiler unavailable", extra={"error": str(exc)})
            raise resource_exhausted("the schema compiler is restarting; retry shortly",
                                     self.compile_timeout_s) from exc
        if outcome == _BUSY:
            raise resource_exhausted("another schema is compiling; retry shortly",
                                     self.compile_timeout_s)
        if outcome is not None:
            log.info("schema refused", extra={"schema_sha256": key[:16]})
        return outcome

    def _remember(self, key: str, error: str | None) -> None:
        self._verdicts[key] = error
        while len(self._verdicts) > self._remembered:
            self._verdicts.popitem(last=False)

    def close(self) -> None:
        self._probe.stop()


_BUSY = "\0busy"


def _retrieve(task: asyncio.Task[str | None]) -> None:
    if not task.cancelled():
        task.exception()


class CompilerUnavailableError(OSError):
    """The child process could not be started."""


class _ProbeProcess:
    """One child process (schema_worker.py) that compiles one schema at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def compile(self, text: str, tokenizer_info: Any, timeout_s: float) -> str | None:
        """None when it compiled in time, else the reason; _BUSY if the child stayed busy."""
        if not self._lock.acquire(timeout=timeout_s):
            return _BUSY
        try:
            try:
                proc = self._ensure_started(tokenizer_info)
            except OSError as exc:  # spawning failed (no memory, no fds)
                raise CompilerUnavailableError(str(exc)) from exc
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(text) + "\n")
            proc.stdin.flush()
            reply = self._read(proc, timeout_s)
            if reply is _TIMEOUT:
                self._kill()
                return (f"compiling it took longer than {timeout_s:g} s; simplify the schema "
                        "(nested repetition in a pattern, huge length or item bounds)")
            return None if reply is None else f"the grammar engine refused it: {reply}"
        except CompilerUnavailableError:
            raise
        except (OSError, ValueError) as exc:  # the child died on it (a crash, out of memory)
            self._kill()
            return f"the grammar engine failed on it ({type(exc).__name__})"
        finally:
            self._lock.release()

    @staticmethod
    def _read(proc: subprocess.Popen[str], timeout_s: float) -> Any:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            return _TIMEOUT
        line = proc.stdout.readline()
        if not line:
            raise OSError("the schema compiler exited")
        return json.loads(line)

    def _ensure_started(self, tokenizer_info: Any) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        # The tokenizer info (MBs) goes through a file: a pipe write would block until the
        # child, still importing xgrammar, reads it, with no time cap.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(tokenizer_info.serialize_json())
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hireserve.server.service.schema_worker", f.name],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            self._proc = proc
            try:
                ready = self._read(proc, WORKER_START_TIMEOUT_S)
            except (OSError, ValueError) as exc:
                ready = exc
        finally:
            os.unlink(f.name)
        if ready != "ready":
            self._kill()
            raise CompilerUnavailableError(f"the schema compiler did not start ({ready!r})")
        return proc

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
        self._proc = None

    def stop(self) -> None:
        with self._lock:
            self._kill()


_TIMEOUT = object()
