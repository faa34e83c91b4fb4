"""AsyncEngine: one engine thread runs the step loop; asyncio callers submit and stream, or score.

It is the service layer's one door into the engine: `submit` (generate), `score` (prefill-only
log-probabilities), `abort`, `info` (EngineInfo), `tokenizer`, and schema precompilation. The
event loop never runs model code. Requests and aborts reach the engine thread as small command
values on a queue; outputs come back with `loop.call_soon_threadsafe`, and each step's
`StepResult` goes to `on_step` (the metrics). When the step loop fails, every stream in flight
fails with `EngineDeadError` and `on_dead` is called, so the server can answer INTERNAL, go
NOT_SERVING and exit non-zero instead of hanging.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.errors import EngineDeadError
from hireserve.server.engine.info import EngineInfo
from hireserve.server.engine.llm_engine import LLMEngine
from hireserve.server.engine.outputs import EngineOutput, RequestOutput, ScoreOutput
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams
from hireserve.server.engine.step import StepResult
from hireserve.server.engine.tokenizer import Tokenizer

__all__ = ["AsyncEngine", "EngineDeadError", "RequestStream"]

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05  # how long an idle engine thread sleeps between looks at deadlines


@dataclass
class _Stream:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[EngineOutput | BaseException]


# Commands to the engine thread, handled between steps in the order they were posted.

@dataclass(frozen=True)
class _Add:
    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams | ScoringParams
    priority: int
    deadline: float | None
    stream: _Stream
    admitted: asyncio.Future[None]  # settled with None or the admission error


@dataclass(frozen=True)
class _Abort:
    request_id: str
    reason: str


@dataclass(frozen=True)
class _Call:
    fn: Callable[[LLMEngine], Any]


_Command = _Add | _Abort | _Call


class AsyncEngine:
    def __init__(
        self,
        engine: LLMEngine | EngineArgs,
        *,
        on_dead: Callable[[BaseException], None] | None = None,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        # The core. Only the engine package and white-box tests reach into it; the service
        # layer uses the methods below.
        self.engine = engine if isinstance(engine, LLMEngine) else LLMEngine(engine)
        self.on_dead = on_dead
        self.on_step = on_step  # called on the engine thread with every StepResult
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wakeup = threading.Event()
        self._streams: dict[str, _Stream] = {}
        self._stopping = threading.Event()
        self._ids = itertools.count()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    @property
    def tokenizer(self) -> Tokenizer:
        return self.engine.tokenizer

    @property
    def info(self) -> EngineInfo:
        return self.engine.info

    async def precompile_schema(self, schema_json: str) -> None:
        """Compiles a JSON schema into the engine's grammar cache on a worker thread, so the
        engine thread finds it compiled when a request constrained by it runs (compiling there
        would stall every other request's step)."""
        await asyncio.to_thread(self.engine.structured.precompile, schema_json)

    def grammar_tokenizer_info(self) -> Any:
        """xgrammar's TokenizerInfo of the served vocabulary (loads xgrammar on first use):
        what another process needs to compile a schema exactly as the engine would."""
        return self.engine.structured.compiler.tokenizer_info

    @property
    def is_alive(self) -> bool:
        return self.error is None and self._thread.is_alive()

    # -- asyncio side ------------------------------------------------------------------------

    async def submit(
        self,
        prompt_token_ids: list[int],
        params: SamplingParams,
        *,
        request_id: str | None = None,
        priority: int = 0,
        deadline: float | None = None,
    ) -> RequestStream:
        """Admits the request (raising the scheduler's admission errors) and returns its stream.
        Closing or cancelling the stream before it finishes aborts the request."""
        request_id, stream = await self._open(prompt_token_ids, params, request_id, priority,
                                              deadline)
        return RequestStream(self, request_id, stream)

    async def score(
        self,
        prompt_token_ids: list[int],
        candidate_token_ids: Sequence[int],
        *,
        request_id: str | None = None,
        priority: int = 0,
        deadline: float | None = None,
        attention_spans: Sequence[tuple[int, int]] = (),
    ) -> ScoreOutput:
        """A prefill-only request: the log-probabilities of `candidate_token_ids` at the last
        prompt position; nothing is generated and the prompt's full blocks stay in the prefix
        cache. Raises the scheduler's admission errors (and ValueError for bad candidates) like
        `submit`, EngineDeadError if the engine fails. A passed deadline or an abort returns a
        ScoreOutput with finish_reason "abort" and its abort_reason ("deadline", ...).
        Cancelling the awaiting task aborts the request and frees its blocks.
        `attention_spans`: prompt token ranges whose attention mass the answer reports."""
        params = ScoringParams(tuple(candidate_token_ids), tuple(attention_spans))
        request_id, stream = await self._open(prompt_token_ids, params, request_id, priority,
                                              deadline)
        try:
            item = await stream.queue.get()
        except asyncio.CancelledError:
            self.abort(request_id, "cancelled")
            raise
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, ScoreOutput)
        return item

    async def _open(
        self, prompt_token_ids: list[int], params: SamplingParams | ScoringParams,
        request_id: str | None, priority: int, deadline: float | None,
    ) -> tuple[str, _Stream]:
        """Admits a request on the engine thread; -> its id and the queue its outputs reach."""
        if self.error is not None:
            raise EngineDeadError("the engine is not running") from self.error
        request_id = request_id or f"req-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        admitted: asyncio.Future[None] = loop.create_future()
        stream = _Stream(loop, asyncio.Queue())
        self._post(_Add(request_id, list(prompt_token_ids), params, priority, deadline, stream,
                        admitted))
        try:
            await admitted
        except asyncio.CancelledError:
            self.abort(request_id, "cancelled")  # the caller left while we were admitting
            raise
        return request_id, stream

    async def generate(self, prompt_token_ids: list[int], params: SamplingParams,
                       **kwargs: Any) -> tuple[list[int], str, RequestOutput]:
        """Runs a request to completion: (token ids, text, last output)."""
        ids: list[int] = []
        text: list[str] = []
        last: RequestOutput | None = None
        async for out in await self.submit(prompt_token_ids, params, **kwargs):
            ids.extend(out.new_token_ids)
            text.append(out.new_text)
            last = out
        assert last is not None
        return ids, "".join(text), last

    def abort(self, request_id: str, reason: str = "cancelled") -> None:
        """Thread-safe; the blocks are freed before the engine's next step."""
        self._post(_Abort(request_id, reason))

    def shutdown(self, timeout: float | None = 5.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        self._thread.join(timeout)
        self.engine.shutdown()  # tensor-parallel workers, if any

    def call(self, fn: Callable[[LLMEngine], Any]) -> None:
        """Runs `fn(core)` on the engine thread between steps: white-box tests read the
        scheduler there without racing the step loop."""
        self._post(_Call(fn))

    def _post(self, command: _Command) -> None:
        self._commands.put(command)
        self._wakeup.set()

    # -- engine thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._drain_commands()
                if not self.engine.has_unfinished():
                    self._wakeup.wait(IDLE_WAIT_S)
                    self._wakeup.clear()
                    continue
                result = self.engine.step()
                for out in result.outputs:
                    self._emit(out)
                if self.on_step is not None:
                    self.on_step(result)
                if not result.outputs and not result.ran:
                    self._wakeup.wait(0.005)  # nothing could run: don't spin
                    self._wakeup.clear()
        except BaseException as exc:  # the loop must never die silently
            log.exception("engine loop failed")
            self.error = exc
            try:  # the owner learns first (health goes NOT_SERVING), then the callers see it
                if self.on_dead is not None:
                    self.on_dead(exc)
            finally:
                self._fail_all(exc)
        finally:
            if self.error is None:
                self._fail_all(EngineDeadError("the engine shut down"))

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            match command:
                case _Add():
                    self._add(command)
                case _Abort(request_id, reason):
                    self._abort(request_id, reason)
                case _Call(fn):
                    fn(self.engine)

    def _add(self, add: _Add) -> None:
        try:
            self.engine.add_request(add.request_id, add.prompt_token_ids, add.params,
                                    priority=add.priority, deadline=add.deadline)
        except Exception as exc:  # admission errors go back to the caller, not the loop
            add.stream.loop.call_soon_threadsafe(_settle, add.admitted, exc)
            return
        self._streams[add.request_id] = add.stream
        add.stream.loop.call_soon_threadsafe(_settle, add.admitted, None)

    def _abort(self, request_id: str, reason: str) -> None:
        out = self.engine.abort_request(request_id, reason)
        if out is None:
            return  # finished already, or never admitted
        self._emit(out)
        if self.on_step is not None:  # the metrics count aborts between steps too
            self.on_step(StepResult([out], self.engine.scheduler.stats()))

    def _emit(self, out: EngineOutput) -> None:
        stream = self._streams.get(out.request_id)
        if stream is None:
            return
        if out.finished:
            del self._streams[out.request_id]
        stream.loop.call_soon_threadsafe(stream.queue.put_nowait, out)

    def _fail_all(self, exc: BaseException) -> None:
        err = exc if isinstance(exc, EngineDeadError) else EngineDeadError(str(exc))
        for stream in self._streams.values():
            stream.loop.call_soon_threadsafe(stream.queue.put_nowait, err)
        self._streams.clear()
        while True:  # requests still in the command queue never reach the engine
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, _Add):
                command.stream.loop.call_soon_threadsafe(_settle, command.admitted, err)


class RequestStream:
    """The outputs of one request. Closing it (or dropping it, or cancelling the task that
    reads it) before the last output aborts the request and frees its KV blocks."""

    def __init__(self, engine: AsyncEngine, request_id: str, stream: _Stream) -> None:
        self.request_id = request_id
        self._engine = engine
        self._stream = stream
        self._done = False

    def __aiter__(self) -> RequestStream:
        return self

    async def __anext__(self) -> RequestOutput:
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._stream.queue.get()
        except BaseException:  # cancelled while waiting: the caller is gone
            await self.aclose()
            raise
        if isinstance(item, BaseException):
            self._done = True
            raise item
        assert isinstance(item, RequestOutput)
        if item.finished:
            self._done = True
        return item

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._engine.abort(self.request_id, "cancelled")

    def __del__(self) -> None:
        if not self._done:  # dropped unread: never leave a sequence running for nobody
            self._engine.abort(self.request_id, "cancelled")


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
