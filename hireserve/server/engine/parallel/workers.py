"""Rank 0's side of the worker processes: start, rendezvous, talk, watch, stop.

Rank 0 is the process that runs the scheduler (and the gRPC server); ranks 1..N-1 are
spawned here (spawn, not fork: a forked torch with live threads can deadlock). Every worker
gets one duplex pipe: rank 0 sends headers (protocol.py), the worker answers READY or an
error once at start-up. Liveness is checked before every step and after any failed
collective, so a dead worker surfaces as `WorkerDiedError` instead of a hang.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import multiprocessing as mp
import os
import time
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import torch.distributed as dist

from hireserve.server.distributed import backend_for, destroy_tp_group, init_tp_group
from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.parallel.protocol import READY, SETUP, SHUTDOWN, encode_ints

log = logging.getLogger(__name__)

COLLECTIVE_TIMEOUT_S = float(os.environ.get("HIRESERVE_TP_TIMEOUT_S", "300"))
STARTUP_TIMEOUT_S = float(os.environ.get("HIRESERVE_TP_STARTUP_TIMEOUT_S", "600"))
POLL_S = 0.05


class TensorParallelError(RuntimeError):
    """The tensor-parallel group can no longer run steps."""


class WorkerDiedError(TensorParallelError):
    """A tensor-parallel worker process exited; the engine cannot continue."""


def _stop(procs: list[BaseProcess], conns: list[Connection]) -> None:
    """Best-effort teardown, also run by the finalizer if the pool is never shut down."""
    for conn in conns:
        with contextlib.suppress(OSError, ValueError):  # already dead or closed
            conn.send_bytes(encode_ints(SHUTDOWN))
    deadline = time.monotonic() + 5.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
    for conn in conns:
        conn.close()
    try:
        destroy_tp_group()
    except Exception:  # a broken group may refuse to close cleanly; the process goes on
        log.warning("could not destroy the tensor-parallel process group", exc_info=True)


class WorkerPool:
    """Ranks 1..N-1, and this process joined to the group as rank 0."""

    def __init__(self, procs: list[BaseProcess], conns: list[Connection]) -> None:
        self.procs, self.conns = procs, conns
        self.world_size = len(procs) + 1
        self.worker_info: dict[int, dict[str, int]] = {}  # rank -> facts reported at setup
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop, procs, conns)

    @classmethod
    def start(cls, args: EngineArgs, *, timeout_s: float | None = None) -> WorkerPool:
        """Spawns the workers and joins the process group as rank 0. Call before building the
        model: the layers read the TP size when they are constructed. `timeout_s` bounds each
        collective (default COLLECTIVE_TIMEOUT_S)."""
        from hireserve.server.engine.parallel.worker import worker_main

        timeout_s = COLLECTIVE_TIMEOUT_S if timeout_s is None else timeout_s

        world = args.tensor_parallel_size
        if dist.is_initialized():
            raise TensorParallelError("a process group already exists in this process: one "
                                      "tensor-parallel engine per process")
        device = args.resolved_device()
        # Port 0: the OS picks a free port and the store keeps it bound, so there is no race.
        store = dist.TCPStore("127.0.0.1", 0, world, is_master=True,  # type: ignore[attr-defined]
                              timeout=datetime.timedelta(seconds=STARTUP_TIMEOUT_S),
                              wait_for_workers=False)
        ctx = mp.get_context("spawn")
        procs: list[BaseProcess] = []
        conns: list[Connection] = []
        pool = cls(procs, conns)
        for rank in range(1, world):
            mine, theirs = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=worker_main,
                args=(rank, world, store.port, theirs, args, os.getpid(), timeout_s),
                name=f"hireserve-tp{rank}",
                daemon=True,  # multiprocessing kills daemons when rank 0 exits normally
            )
            proc.start()
            theirs.close()  # the worker holds the only other end: EOF when either dies
            procs.append(proc)
            conns.append(mine)
        try:
            pool._wait(lambda: store.check([f"joined/{r}" for r in range(1, world)]),
                       "join the rendezvous")
            init_tp_group(rank=0, world_size=world, store=store, backend=backend_for(device),
                          timeout_s=timeout_s)
        except BaseException:
            pool.shutdown()
            raise
        log.info("tensor parallel: %d ranks (%s), worker pids %s", world, backend_for(device),
                 [p.pid for p in procs])
        return pool

    # -- talking ----------------------------------------------------------------------------

    def send(self, header: bytes) -> None:
        """The same header to every worker."""
        for rank, conn in enumerate(self.conns, start=1):
            try:
                conn.send_bytes(header)
            except OSError as exc:
                self.raise_if_dead(exc)
                raise TensorParallelError(f"cannot reach tensor-parallel rank {rank}") from exc

    def setup(self, num_blocks: int) -> None:
        """Tells the workers the KV pool size (rank 0 measured it) and waits until each has
        loaded its shard and allocated its cache."""
        self.send(encode_ints(SETUP, num_blocks))
        for rank, conn in enumerate(self.conns, start=1):
            self._wait(functools.partial(conn.poll, 0), f"load its shard (rank {rank})")
            reply = conn.recv_bytes()
            if not reply.startswith(READY):
                raise TensorParallelError(f"tensor-parallel rank {rank} failed to start: "
                                          f"{reply.decode(errors='replace')}")
            kv_heads, kv_bytes = (int(x) for x in reply[len(READY):].split(b","))
            self.worker_info[rank] = {"kv_heads": kv_heads, "kv_bytes": kv_bytes}

    # -- watching ---------------------------------------------------------------------------

    def dead(self) -> list[tuple[int, BaseProcess]]:
        return [(r, p) for r, p in enumerate(self.procs, start=1) if p.exitcode is not None]

    def check_alive(self) -> None:
        dead = self.dead()
        if dead:
            rank, proc = dead[0]
            raise WorkerDiedError(f"tensor-parallel worker rank {rank} (pid {proc.pid}) exited "
                                  f"with code {proc.exitcode}; the engine must restart")

    def raise_if_dead(self, cause: BaseException, grace_s: float = 2.0) -> None:
        """After a failed collective: if a worker died (its exit may take a moment to be
        reaped), raise `WorkerDiedError` from `cause`."""
        deadline = time.monotonic() + grace_s
        while True:
            try:
                self.check_alive()
            except WorkerDiedError as err:
                raise err from cause
            if time.monotonic() >= deadline:
                return
            time.sleep(POLL_S)

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        """Polls `ready()` until true; fails fast if a worker exits, or after the start-up
        timeout."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TensorParallelError(f"tensor-parallel workers did not {what} within "
                                          f"{STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)

    # -- stopping ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stops the workers (asks, then kills after 5 s) and leaves the process group.
        Idempotent."""
        if not self._closed:
            self._closed = True
            self._finalizer()
