"""The folder ranking behind `hireserve rank`, in process: batching, merging, per-resume retry."""

from __future__ import annotations

from pathlib import Path

import grpc

from hireserve.clients.client import HireClient
from hireserve.clients.rank import chunks, screen_folder
from hireserve.clients.retry import RetryPolicy
from hireserve.v1 import common_pb2
from tests.clients.fake_server import FakeServer, rich_status, score

JD = "python kafka kubernetes postgresql"


def _folder(tmp_path: Path, texts: dict[str, str]) -> list[Path]:
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    return sorted(tmp_path / n for n in texts)


def test_chunks_respect_count_and_bytes() -> None:
    docs = [(str(i), common_pb2.Document(data=b"x" * 100)) for i in range(7)]
    assert [len(c) for c in chunks(docs, max_count=3, max_bytes=10**6)] == [3, 3, 1]
    assert [len(c) for c in chunks(docs, max_count=99, max_bytes=250)] == [2, 2, 2, 1]
    big = [("big", common_pb2.Document(data=b"x" * 1000)), *docs[:1]]
    assert [len(c) for c in chunks(big, max_count=99, max_bytes=250)] == [1, 1]  # alone


def test_ties_keep_file_order_across_batches(fake: FakeServer, tmp_path: Path) -> None:
    texts = {f"{c}.txt": "python kafka" for c in "edcba"} | {"z.txt": "python"}
    files = _folder(tmp_path, texts)
    with HireClient(fake.target) as client:
        rows = screen_folder(client, JD, files, batch_size=2, max_file_bytes=10**6)
    assert [r.file for r in rows] == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "z.txt"]
    assert [r.score for r in rows] == [score(JD, "python kafka")] * 5 + [score(JD, "python")]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6]


def test_transient_per_resume_errors_are_retried(fake: FakeServer, tmp_path: Path) -> None:
    files = _folder(tmp_path, {"a.txt": "python", "b.txt": "python kafka", "d.txt": "kafka"})
    busy = rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full", retry_after_s=0.2)
    fake.script.resume_failures["b.txt"].append(busy)
    fake.script.resume_failures["d.txt"].extend([busy] * 9)
    ticks: list[int] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01)
    with HireClient(fake.target, retry=policy) as client:
        rows = screen_folder(client, JD, files, batch_size=10, max_file_bytes=10**6,
                             on_progress=lambda: ticks.append(1))
    assert [(r.file, r.rank) for r in rows] == [("b.txt", 1), ("a.txt", 2), ("d.txt", None)]
    assert rows[2].error.startswith("RESOURCE_EXHAUSTED: queue full")
    calls = fake.script.times("ScreenBatch")
    assert len(calls) == 3  # all three; then b and d; then d alone
    assert calls[1] - calls[0] >= 0.2 and calls[2] - calls[1] >= 0.2
    assert len(ticks) == 3  # the progress bar advances once per file
