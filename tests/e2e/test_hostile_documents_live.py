"""Hostile documents against a live server over a real port: a bad document fails its own
resume only, a costly one is refused by its budget, and one that would run long is stopped with
its call (the worker process killed at the deadline), while health keeps answering."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from doc_factory import make_docx, make_pdf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hostile_docs import shared_content_pdf
from rpc_helpers import rich, status_fields
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.server.documents import DocumentLimits
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

JD = "Backend engineer: Rust, PostgreSQL, Kubernetes. Five years of experience."
CRASHERS = Path(__file__).parent.parent / "fixtures" / "crashers"
MISSING_RELATIONSHIP = (CRASHERS / "docx-header-missing-relationship.docx").read_bytes()


def _doc(data: bytes, filename: str) -> common_pb2.Document:
    return common_pb2.Document(data=data, filename=filename)


def _stub(server) -> screening_pb2_grpc.ScreeningServiceStub:
    return screening_pb2_grpc.ScreeningServiceStub(server.channel())


def test_a_corrupt_docx_is_invalid_argument_not_internal(server) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Screen(screening_pb2.ScreenRequest(
            job_description=JD, resume=_doc(MISSING_RELATIONSHIP, "cv.docx")), timeout=60)
    code, message, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "corrupt DOCX (KeyError)" and set(fields) == {"resume"}


def test_in_a_batch_bad_documents_fail_only_their_own_resume(server) -> None:
    good = {
        "text": common_pb2.Document(text="Jane Doe\nRust and PostgreSQL for 8 years at Acme."),
        "pdf": _doc(make_pdf([("Ali Khan", {}), ("Kubernetes operator, 6 years", {})]), "a.pdf"),
        "docx": _doc(make_docx([("Mia Chen", {}), ("PostgreSQL DBA and Rust", {})]), "m.docx"),
    }
    bad = {"corrupt": _doc(MISSING_RELATIONSHIP, "c.docx"),
           "bomb": _doc(shared_content_pdf(), "b.pdf")}
    items = [*good.items(), *bad.items()]
    resumes = [screening_pb2.BatchResume(resume_id=rid, resume=doc) for rid, doc in items]
    messages = list(_stub(server).ScreenBatch(
        screening_pb2.ScreenBatchRequest(job_description=JD, resumes=resumes), timeout=300))
    results = {m.result.resume_id: m.result for m in messages if m.HasField("result")}
    assert set(results) == set(good) | set(bad) and messages[-1].HasField("ranking")
    for rid in good:
        assert results[rid].WhichOneof("outcome") == "response", rid
    index = {rid: i for i, (rid, _) in enumerate(items)}
    for rid, reason in [("corrupt", "corrupt DOCX"), ("bomb", "decoded page content")]:
        error = results[rid].error
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], rid
        [(field, description)] = status_fields(error).items()
        assert field == f"resumes[{index[rid]}].resume" and reason in description
    ranking = messages[-1].ranking
    assert sorted(ranking.failed_resume_ids) == ["bomb", "corrupt"]
    assert sorted(r.resume_id for r in ranking.ranked) == sorted(good)


@pytest.fixture(scope="module")
def unbudgeted(tiny_chat):
    """A server whose budgets let the bomb through: only time limits can stop it."""
    limits = DocumentLimits(max_content_bytes=10**9, max_content_operators=10**9)
    s = ServerThread(tiny_engine_args(tiny_chat),
                     replace(ServerConfig(), document_limits=limits, document_workers=1,
                             document_queue=0))
    yield s
    s.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_the_deadline_kills_the_reader_and_health_keeps_answering(unbudgeted) -> None:
    """The issue's PDF ran 90 s past a 10 s deadline, on the server's GIL."""
    stub = _stub(unbudgeted)
    health = health_pb2_grpc.HealthStub(unbudgeted.channel())
    health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    slowest: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            slowest.append(time.perf_counter() - started)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    pool = unbudgeted.app.state.documents
    started = time.perf_counter()
    try:
        call = stub.Screen.future(screening_pb2.ScreenRequest(
            job_description=JD, resume=_doc(shared_content_pdf(), "b.pdf")), timeout=2.0)
        while not pool._live and not call.done():  # the worker that takes the bomb
            time.sleep(0.01)
        pids = [w.proc.pid for w in pool._live]
        with pytest.raises(grpc.RpcError) as info:
            call.result()
        took = time.perf_counter() - started
        give_up = time.monotonic() + 3  # gone within a moment of the deadline
        while any(_alive(p) for p in pids) and time.monotonic() < give_up:
            time.sleep(0.05)
    finally:
        done.set()
        prober.join()
    assert len(pids) == 1
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert took < 4.0
    assert not any(_alive(p) for p in pids)
    assert max(slowest) < 1.0  # tens of ms here; the bound only says "not held by the parse"


def test_a_full_reading_queue_is_resource_exhausted_with_a_retry_hint(unbudgeted) -> None:
    stub = _stub(unbudgeted)
    bomb = screening_pb2.ScreenRequest(job_description=JD, resume=_doc(shared_content_pdf(),
                                                                       "b.pdf"))
    first = stub.Screen.future(bomb, timeout=3.0)  # holds the only worker
    time.sleep(0.5)
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(bomb, timeout=3.0)
    code, message, _, retry = rich(info.value)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry is not None and retry > 0
    assert "waiting for a reader" in message
    with pytest.raises(grpc.RpcError):
        first.result()
