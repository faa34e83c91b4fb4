"""What the document worker pool costs per document: preparing the example resumes in a worker
process (documents/pool.py) versus in this process (documents/prepare.py), same files, same run.

    python -m benchmarks.document_pool [--repeats 40]

Reports, per file, the median time of each path (alternating, so a busy machine skews both
alike), their difference (the pool's overhead: framing, two pipe copies, JSON back, scheduling)
and the time of the very first document (the worker's start, once per worker).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from hireserve.server.documents import DocumentLimits
from hireserve.server.documents.pool import DocumentPool
from hireserve.server.documents.prepare import prepare

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "resumes"
FILES = ("alice_nguyen.pdf", "eve_hidden_text.pdf", "bob_schmidt.docx")


async def run(repeats: int) -> None:
    limits = DocumentLimits()
    pool = DocumentPool(limits, workers=1)
    first_data = (EXAMPLES / FILES[0]).read_bytes()
    started = time.perf_counter()
    await pool.prepare(first_data, "", FILES[0], field="resume", blind=True)
    print(f"first document (worker start included): {(time.perf_counter() - started) * 1e3:.0f} ms")
    print(f"{'file':22} {'bytes':>7} {'in-process ms':>14} {'pool ms':>8} {'overhead ms':>12}")
    try:
        for name in FILES:
            data = (EXAMPLES / name).read_bytes()
            here, there = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                prepare(data, "", name, field="resume", blind=True, limits=limits)
                here.append(time.perf_counter() - t)
                t = time.perf_counter()
                await pool.prepare(data, "", name, field="resume", blind=True)
                there.append(time.perf_counter() - t)
            a, b = statistics.median(here) * 1e3, statistics.median(there) * 1e3
            print(f"{name:22} {len(data):7} {a:14.1f} {b:8.1f} {b - a:12.1f}")
    finally:
        await pool.aclose()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    asyncio.run(run(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
