"""Start a hireserve server as a subprocess on free ports, wait until health says SERVING, stop
it with SIGTERM (its graceful drain) afterwards. Used by the benchmark drivers and the tests.

    with ServerProcess(["--model", "default", "--no-prefix-caching"]) as server:
        run_load(server.target, ...)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from grpc_health.v1 import health_pb2

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now (bind to 0, read it, close). Another process could
    take it before the server binds; on a test machine that race is rare enough."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, serve_args: Sequence[str], *, startup_timeout: float = 180.0,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.argv = [sys.executable, "-m", "hireserve.clients.cli", "serve", *serve_args,
                     "--host", "127.0.0.1", "--port", str(self.port),
                     "--metrics-port", str(self.metrics_port)]
        self.startup_timeout = startup_timeout
        self.env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        # The server's log goes to a file, not a pipe nobody reads (a full pipe blocks it).
        self.log = tempfile.NamedTemporaryFile(prefix="hireserve-bench-", suffix=".log",  # noqa: SIM115
                                               delete=False)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        asyncio.run(self._wait_serving())
        return self

    async def _wait_serving(self) -> None:
        from hireserve.clients.aio import AsyncHireClient
        from hireserve.clients.errors import HireError

        deadline = time.monotonic() + self.startup_timeout
        async with AsyncHireClient(self.target) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode} before "
                                       f"serving; log: {self.log.name}\n{self.log_tail()}")
                try:
                    reply = await client.health(timeout=2.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except HireError:
                    pass
                await asyncio.sleep(0.25)
        self.stop()
        raise TimeoutError(f"the server was not SERVING within {self.startup_timeout:.0f} s; "
                           f"log: {self.log.name}")

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait for the drain; SIGKILL if it does not exit in `timeout` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log.close()
