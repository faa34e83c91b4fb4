"""A real hireserve gRPC server on a real port, run in a background thread of the test process
(so tests can look inside the engine: KV blocks in use, scheduler counters)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import grpc

from hireserve.server.app import HireServer
from hireserve.server.config import ServerConfig
from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.async_engine import AsyncEngine


def tiny_engine_args(path, **changes) -> EngineArgs:
    """Engine arguments for the tiny test models: fp32 on the CPU, a small KV pool."""
    args = EngineArgs(model=str(path), dtype="float32", device="cpu", num_kv_blocks=1024,
                      max_num_batched_tokens=1024, max_num_seqs=32)
    return args.replace(**changes)


class ServerThread:
    def __init__(self, engine_args: EngineArgs, config: ServerConfig | None = None) -> None:
        self.config = replace(config or ServerConfig(), port=0, metrics_port=0)
        self.engine = AsyncEngine(engine_args)
        self.loop = asyncio.new_event_loop()
        self.app: HireServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.app = HireServer(self.config, self.engine)
            await self.app.start()
            self._ready.set()
            await self.app.wait()

        self.loop.run_until_complete(main())

    @property
    def target(self) -> str:
        assert self.app is not None
        return f"127.0.0.1:{self.app.port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.target, options=[
            ("grpc.max_send_message_length", 64 * 2**20)])

    def on_engine(self, fn: Callable[[Any], Any], timeout: float = 10.0) -> Any:
        """Runs fn(LLMEngine) on the engine thread between steps and returns its result."""
        done = threading.Event()
        box: list[Any] = []
        self.engine.call(lambda core: (box.append(fn(core)), done.set()))
        if not done.wait(timeout):
            raise TimeoutError("the engine thread did not answer")
        return box[0]

    def blocks_in_use(self) -> int:
        return self.on_engine(lambda core: core.scheduler.config.num_blocks
                              - core.scheduler.block_manager.num_free_blocks)

    def stop(self) -> None:
        if self.app is not None:
            fut = asyncio.run_coroutine_threadsafe(self.app.drain(), self.loop)
            fut.result(30)
        self._thread.join(30)
