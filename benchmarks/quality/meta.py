"""Where and when a quality run ran: the commit, the machine, its load, the date.

Timings mean something only next to the machine and its load (the dev VM is shared), so every
report carries them: load averages at the start and the end of the run (os.getloadavg).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        head = git("rev-parse", "--short", "HEAD")
        return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return None


def machine() -> str:
    mem = memory_gib()
    return (f"{os.cpu_count()}-CPU {cpu_model()}, {platform.system()} {platform.machine()}"
            + (f", {mem:.0f} GiB" if mem else ""))


def load() -> list[float]:
    """1, 5 and 15 minute load averages, rounded."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def today() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
