"""The document worker pool: documents prepared in worker processes under CPU, memory and time
limits, killed when the caller leaves or its deadline passes, a bounded queue, batch lanes."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from doc_factory import make_docx, make_pdf
from hostile_docs import shared_content_pdf

from hireserve.server.documents import DocumentError, DocumentLimits
from hireserve.server.documents.pool import DocumentPool, DocumentPoolFull, DocumentTimeout
from hireserve.server.documents.prepare import prepare

# Budgets raised so that only the pool's limits stop the bomb (~5 CPU-seconds a page here).
UNBUDGETED = dict(max_content_bytes=10**9, max_content_operators=10**9)
PDF = make_pdf([("Jane Doe", {}), ("jane@example.com", {}),
                ("Senior Python developer, 6 years", {}), ("ignore", {"color": (255, 255, 255)})])


def run(coro):
    return asyncio.run(coro)


async def _prepare(pool: DocumentPool, data: bytes | str, field: str = "resume", **kwargs):
    return await pool.prepare(data, "", "", field=field, blind=True, **kwargs)


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie not reaped yet is dead too
        return f.read().split(")")[-1].split()[0] == "Z"


def test_a_worker_prepares_what_this_process_would() -> None:
    docx = make_docx([("Jane Doe", {}), ("Rust engineer", {}), ("hidden", {"hidden": True})])

    async def main():
        pool = DocumentPool(workers=1)
        try:
            got = [await _prepare(pool, data) for data in (PDF, docx)]
            assert len(pool._live) == 1  # one worker, started on first use and reused
            return got
        finally:
            await pool.aclose()

    for data, got in zip((PDF, docx), run(main()), strict=True):
        want = prepare(data, "", "", field="resume", blind=True, limits=DocumentLimits())
        assert got == want
        assert got.redactions and got.red_flags  # the e-mail redacted, the hidden text flagged


def test_short_text_is_prepared_here_without_a_worker() -> None:
    async def main():
        pool = DocumentPool()
        try:
            prepared = await _prepare(pool, "Jane Doe\nGo developer since 2015")
            return prepared, len(pool._live)
        finally:
            await pool.aclose()

    prepared, workers = run(main())
    assert workers == 0 and [line.text for line in prepared.lines][-1] == "Go developer since 2015"


def test_cpu_limit_refuses_the_document_and_a_fresh_worker_takes_the_next() -> None:
    async def main():
        pool = DocumentPool(DocumentLimits(max_cpu_seconds=1, **UNBUDGETED), workers=1)
        try:
            with pytest.raises(DocumentError) as info:
                await _prepare(pool, shared_content_pdf(), field="resumes[4].resume")
            first = list(pool._live)
            assert first == []  # the worker that ran past its limit is gone
            return info.value, await _prepare(pool, PDF)
        finally:
            await pool.aclose()

    error, after = run(main())
    assert error.field == "resumes[4].resume"
    assert error.reason == "reading it takes more than 1 CPU-seconds (the limit)"
    assert "Senior Python developer, 6 years" in after.text


def test_wall_clock_limit_kills_the_worker() -> None:
    async def main():
        pool = DocumentPool(DocumentLimits(max_wall_seconds=0.5, **UNBUDGETED), workers=1)
        try:
            await _prepare(pool, PDF)  # started and warm
            pid = pool._live.copy().pop().proc.pid
            with pytest.raises(DocumentError, match=r"takes longer than 0.5 s \(the limit\)"):
                await _prepare(pool, shared_content_pdf())
            await asyncio.sleep(0.2)
            return pid
        finally:
            await pool.aclose()

    assert _dead(run(main()))


def test_cancelling_the_caller_kills_the_worker_at_once() -> None:
    async def main():
        pool = DocumentPool(DocumentLimits(**UNBUDGETED), workers=1)
        try:
            await _prepare(pool, PDF)
            pid = pool._live.copy().pop().proc.pid
            task = asyncio.ensure_future(_prepare(pool, shared_content_pdf()))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.2)
            dead = _dead(pid)
            prepared = await _prepare(pool, PDF)  # a new worker serves the next caller
            return dead, prepared
        finally:
            await pool.aclose()

    dead, prepared = run(main())
    assert dead and prepared.document.format == "pdf"


def test_the_deadline_ends_reading_and_waiting() -> None:
    async def main():
        pool = DocumentPool(DocumentLimits(**UNBUDGETED), workers=1)
        try:
            started = time.monotonic()
            slow = asyncio.ensure_future(
                _prepare(pool, shared_content_pdf(), deadline=started + 1.0))
            await asyncio.sleep(0.1)
            with pytest.raises(DocumentTimeout, match="waited to be read"):
                await _prepare(pool, PDF, deadline=time.monotonic() + 0.3)
            with pytest.raises(DocumentTimeout, match="deadline passed while reading"):
                await slow
            return time.monotonic() - started
        finally:
            await pool.aclose()

    assert run(main()) < 5.0


def test_a_worker_killed_under_a_document_is_that_documents_error() -> None:
    async def main():
        pool = DocumentPool(DocumentLimits(**UNBUDGETED), workers=1)
        try:
            await _prepare(pool, PDF)
            pid = pool._live.copy().pop().proc.pid
            task = asyncio.ensure_future(_prepare(pool, shared_content_pdf(), field="resume"))
            await asyncio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)  # what the OOM killer would do
            with pytest.raises(DocumentError, match=r"crashed the reader \(killed by signal 9\)"):
                await task
            return await _prepare(pool, PDF)
        finally:
            await pool.aclose()

    assert run(main()).document.format == "pdf"


def test_memory_limit_refuses_the_document() -> None:
    from hostile_docs import flate_stream, raw_pdf

    # One page whose content inflates to 400 MB of spaces: over a 300 MiB address space.
    bomb = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                    flate_stream(b" " * 400_000_000)])

    async def main():
        limits = DocumentLimits(max_memory_bytes=300 * 2**20, max_content_bytes=10**9)
        pool = DocumentPool(limits, workers=1)
        try:
            with pytest.raises(DocumentError, match="more memory than the limit of 300 MiB"):
                await _prepare(pool, bomb)
            return await _prepare(pool, PDF)
        finally:
            await pool.aclose()

    assert run(main()).document.format == "pdf"


def test_a_full_queue_refuses_with_a_retry_hint_but_a_batch_lane_waits() -> None:
    async def main():
        pool = DocumentPool(workers=1, max_waiting=1, retry_after_s=2.5)
        try:
            loose = await asyncio.gather(*[_prepare(pool, PDF, field=f"r{i}") for i in range(3)],
                                         return_exceptions=True)
            with pool.batch_lane():
                batch = [asyncio.ensure_future(_prepare(pool, PDF, field=f"b{i}"))
                         for i in range(6)]
            # A loose caller alongside the batch still finds room: the lane holds one place.
            beside = asyncio.ensure_future(_prepare(pool, PDF, field="beside"))
            return loose, await asyncio.gather(*batch, beside, return_exceptions=True)
        finally:
            await pool.aclose()

    loose, batch = run(main())
    assert [type(r).__name__ for r in loose] == ["Prepared", "Prepared", "DocumentPoolFull"]
    assert loose[2].retry_after_s == 2.5 and "waiting for a reader" in str(loose[2])
    assert all(type(r).__name__ == "Prepared" for r in batch), batch


def test_a_huge_single_word_is_read_in_linear_time() -> None:
    """400K characters without a space: the e-mail pattern once tried every start (minutes)."""
    async def main():
        pool = DocumentPool(DocumentLimits(max_cpu_seconds=5), workers=1)
        try:
            return await _prepare(pool, "Jane Doe\n" + "x" * 390_000)
        finally:
            await pool.aclose()

    assert run(main()).document.format == "text"


def test_closed_pool_refuses() -> None:
    async def main():
        pool = DocumentPool()
        pool.close()
        with pytest.raises(DocumentPoolFull, match="shutting down"):
            await _prepare(pool, PDF)

    run(main())


def test_workers_die_with_the_server(tmp_path) -> None:
    """A server killed with SIGKILL leaves no worker behind, even one busy parsing a bomb
    (PR_SET_PDEATHSIG: without it the worker would parse on until its CPU limit)."""
    import subprocess
    import sys

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(shared_content_pdf())
    script = (
        "import asyncio\n"
        "from hireserve.server.documents import DocumentLimits\n"
        "from hireserve.server.documents.pool import DocumentPool\n"
        "async def main():\n"
        "    limits = DocumentLimits(max_content_bytes=10**9, max_content_operators=10**9,\n"
        "                            max_cpu_seconds=60, max_wall_seconds=60)\n"
        "    pool = DocumentPool(limits, workers=1)\n"
        f"    data = open({str(bomb)!r}, 'rb').read()\n"
        "    task = asyncio.ensure_future(pool.prepare(data, '', '', field='r', blind=False))\n"
        "    while not pool._live:\n"
        "        await asyncio.sleep(0.01)\n"
        "    await asyncio.sleep(0.5)  # started, reading the bomb\n"
        "    print(next(iter(pool._live)).proc.pid, flush=True)\n"
        "    await task\n"
        "asyncio.run(main())\n")
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(server.stdout.readline())
        assert not _dead(worker)
        server.kill()
        server.wait(10)
        end = time.monotonic() + 3
        while not _dead(worker) and time.monotonic() < end:
            time.sleep(0.05)
        assert _dead(worker)
    finally:
        if server.poll() is None:
            server.kill()
