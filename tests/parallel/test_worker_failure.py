"""A dead worker fails the engine fast with a clear error; a dead rank 0 takes its workers
with it. Nothing waits for a collective timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch.distributed as dist
from tp_harness import ENGINE_ARGS, Checkpoint, running_llm

from hireserve.server.engine import SamplingParams
from hireserve.server.engine.parallel import WorkerDiedError
from hireserve.server.engine.parallel import workers as tp_workers

PROMPTS = [[5 + i, 17, 42 + i, 99, 7] for i in range(4)]
SHORT = SamplingParams(temperature=0.0, max_tokens=2, ignore_eos=True)
LONG = SamplingParams(temperature=0.0, max_tokens=200, ignore_eos=True)
BOUND_S = 15.0  # far below the collective timeout set below: only a fast failure passes


@pytest.fixture(autouse=True)
def _short_collective_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # If detection relied on the timeout, the tests would take 60 s and fail the bound.
    monkeypatch.setattr(tp_workers, "COLLECTIVE_TIMEOUT_S", 60.0)


def test_worker_killed_between_steps(qwen2_kv4: Checkpoint) -> None:
    with running_llm(qwen2_kv4.path, 2) as llm:
        llm.generate(PROMPTS, SHORT)
        proc = llm.engine.tp_workers.procs[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
        started = time.monotonic()
        with pytest.raises(WorkerDiedError, match=r"rank 1 .* exited with code -9"):
            llm.generate(PROMPTS, SHORT)
        assert time.monotonic() - started < BOUND_S
    assert not dist.is_initialized()


def test_worker_killed_inside_a_collective(qwen2_kv4: Checkpoint) -> None:
    with running_llm(qwen2_kv4.path, 2) as llm:
        llm.generate(PROMPTS, SHORT)
        pid = llm.engine.tp_workers.procs[0].pid
        # A stopped worker cannot answer: rank 0's next step blocks inside a collective.
        # Killing it there must turn the blocked collective into WorkerDiedError.
        os.kill(pid, signal.SIGSTOP)
        killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        try:
            with pytest.raises(WorkerDiedError, match="rank 1"):
                llm.generate(PROMPTS, LONG)
        finally:
            killer.join()
        elapsed = time.monotonic() - started
        assert 1.0 <= elapsed < BOUND_S  # it did wait for the kill, and not much longer
    assert not dist.is_initialized()


_RANK0 = """
import os, signal, sys
from hireserve.server.engine import LLM

if __name__ == "__main__":
    llm = LLM(sys.argv[1], tensor_parallel_size=2, **{args!r})
    print(" ".join(str(p.pid) for p in llm.engine.tp_workers.procs), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up: what a crash looks like
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its reaping is pending


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_rank0_is_killed(qwen2_kv4: Checkpoint, tmp_path: Path) -> None:
    script = tmp_path / "rank0.py"
    script.write_text(_RANK0.format(args=ENGINE_ARGS))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(script), str(qwen2_kv4.path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 1
    deadline = time.monotonic() + BOUND_S
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids), "an orphaned worker kept running"
