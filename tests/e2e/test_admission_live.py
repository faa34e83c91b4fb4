"""Refusals and their codes over a real port: invalid UTF-8, the cap on concurrent calls and on
request bytes in flight, deadlines counted as DEADLINE_EXCEEDED, calls cut at the end of the
grace period, and failed tokens counted and logged without the token."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hostile_docs import shared_content_pdf
from rpc_helpers import rich
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.server.documents import DocumentLimits
from hireserve.v1 import common_pb2, generation_pb2, generation_pb2_grpc, screening_pb2
from tests.observability.helpers import value

JD = "Backend engineer: Rust, PostgreSQL, Kubernetes."
SCREENING = "hireserve.v1.ScreeningService"
GENERATION = "hireserve.v1.GenerationService"
REQUESTS = "hireserve_rpc_requests_total"


def _raw_call(server, method: str, payload: bytes, timeout: float = 60) -> grpc.RpcError:
    """Calls `method` with bytes as they are: what a client with a broken encoder sends."""
    call = server.channel().unary_unary(method, request_serializer=None,
                                        response_deserializer=None)
    with pytest.raises(grpc.RpcError) as info:
        call(payload, timeout=timeout)
    return info.value


def _with_bad_utf8(message, marker: str) -> bytes:
    """`message` serialized, with the UTF-8 of `marker` replaced by an invalid byte sequence of
    the same length (\\xff is never UTF-8)."""
    data = message.SerializeToString()
    encoded = marker.encode()
    assert data.count(encoded) == 1
    return data.replace(encoded, b"\xff" * len(encoded))


def test_invalid_utf8_is_invalid_argument_naming_the_field(server, caplog) -> None:
    screen = screening_pb2.ScreenRequest(
        job_description=JD, resume=common_pb2.Document(text="Jane", filename="MARKER.txt"))
    error = _raw_call(server, f"/{SCREENING}/Screen", _with_bad_utf8(screen, "MARKER"))
    code, message, fields, _ = rich(error)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "invalid UTF-8 in a string field" and set(fields) == {"resume.filename"}
    assert dict(error.trailing_metadata()).get("x-request-id")

    batch = screening_pb2.ScreenBatchRequest(job_description=JD, resumes=[
        screening_pb2.BatchResume(resume_id="a", resume=common_pb2.Document(text="x")),
        screening_pb2.BatchResume(resume_id="B-MARK", resume=common_pb2.Document(text="y"))])
    stream = server.channel().unary_stream(f"/{SCREENING}/ScreenBatch")
    with pytest.raises(grpc.RpcError) as info:
        list(stream(_with_bad_utf8(batch, "B-MARK"), timeout=60))
    assert rich(info.value)[2].keys() == {"resumes[1].resume_id"}

    error = _raw_call(server, f"/{GENERATION}/GetModelInfo", b"\x0a\xff\xff")  # not protobuf
    code, message, fields, _ = rich(error)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and fields == {}
    assert "not a valid hireserve.v1.GetModelInfoRequest message" in message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback


@pytest.fixture
def tight(tiny_chat):
    """One call at a time, 1 MiB of requests in flight, messages up to 4 MiB."""
    config = replace(ServerConfig(), max_concurrent_rpcs=1, max_request_bytes_in_flight=2**20,
                     max_message_bytes=4 * 2**20, retry_after_s=1.5)
    s = ServerThread(tiny_engine_args(tiny_chat), config)
    yield s
    s.stop()


def _metric(server, name: str, **labels: str) -> float:
    return value(server.app.metrics.exposition(), name, **labels)


def _long_stream(server):
    stub = generation_pb2_grpc.GenerationServiceStub(server.channel())
    stream = stub.Generate(generation_pb2.GenerateRequest(
        prompt="A long story:", max_tokens=3000, ignore_eos=True), timeout=120)
    next(stream)  # the call is running
    return stream


def test_over_the_call_cap_refused_with_retry_info_before_the_upload_is_read(tight) -> None:
    """The upload is over the server's 4 MiB message limit: had it been read, gRPC would have
    answered "Received message larger than max", without RetryInfo."""
    stream = _long_stream(tight)
    upload = screening_pb2.ScreenRequest(job_description=JD, resume=common_pb2.Document(
        data=b"%PDF-1.7\n" + b"x" * (20 * 2**20), filename="cv.pdf"))
    started = time.perf_counter()
    screening = tight.channel().unary_unary(
        f"/{SCREENING}/Screen", request_serializer=screening_pb2.ScreenRequest.SerializeToString)
    with pytest.raises(grpc.RpcError) as info:
        screening(upload, timeout=60)
    code, message, _, retry = rich(info.value)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry == 1.5
    assert message == "1 calls in progress (the limit); retry shortly"
    health = health_pb2_grpc.HealthStub(tight.channel())  # probes are never refused
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == 1
    stream.cancel()
    assert time.perf_counter() - started < 10
    assert _metric(tight, REQUESTS, service=SCREENING, method="Screen",
                   code="RESOURCE_EXHAUSTED") == 1


def test_over_the_request_bytes_in_flight_refused_with_retry_info(tight) -> None:
    from hireserve.v1 import screening_pb2_grpc

    stub = screening_pb2_grpc.ScreeningServiceStub(tight.channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(screening_pb2.ScreenRequest(job_description=JD, resume=common_pb2.Document(
            text="Jane Doe\n" + "Rust " * 400_000)), timeout=60)
    code, message, _, retry = rich(info.value)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry == 1.5
    assert "this one 1 MiB; the limit is 1 MiB" in message
    assert tight.app.state.request_bytes_in_flight == 0


def test_a_passed_deadline_is_counted_deadline_exceeded(server) -> None:
    before = _metric(server, REQUESTS, service=GENERATION, method="Generate",
                     code="DEADLINE_EXCEEDED")
    stub = generation_pb2_grpc.GenerationServiceStub(server.channel())
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Generate(generation_pb2.GenerateRequest(
            prompt="A long story:", max_tokens=3000, ignore_eos=True), timeout=0.5))
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    end = time.monotonic() + 5
    while _metric(server, REQUESTS, service=GENERATION, method="Generate",
                  code="DEADLINE_EXCEEDED") == before and time.monotonic() < end:
        time.sleep(0.05)
    assert _metric(server, REQUESTS, service=GENERATION, method="Generate",
                   code="DEADLINE_EXCEEDED") == before + 1


def test_calls_cut_at_the_end_of_the_grace_period_get_unavailable_with_retry_info(
        tiny_chat, caplog) -> None:
    limits = DocumentLimits(max_content_bytes=10**9, max_content_operators=10**9)
    s = ServerThread(tiny_engine_args(tiny_chat), replace(
        ServerConfig(), grace_period_s=0.5, retry_after_s=2.0, document_limits=limits))
    caplog.set_level(logging.INFO)
    stopped = False
    try:
        stream = _long_stream(s)
        from hireserve.v1 import screening_pb2_grpc

        slow = screening_pb2_grpc.ScreeningServiceStub(s.channel()).Screen.future(
            screening_pb2.ScreenRequest(job_description=JD, resume=common_pb2.Document(
                data=shared_content_pdf(), filename="b.pdf")),
            metadata=[("x-request-id", "slow-screen")], timeout=120)
        time.sleep(0.5)  # both running: one decoding, one reading its document
        drained = asyncio.run_coroutine_threadsafe(s.app.drain(), s.loop)
        with pytest.raises(grpc.RpcError) as streamed:
            list(stream)
        with pytest.raises(grpc.RpcError) as unary:
            slow.result()
        drained.result(30)
        stopped = True
        counted = _metric(s, REQUESTS, service=SCREENING, method="Screen", code="UNAVAILABLE")
    finally:
        if not stopped:
            s.stop()
    for error in (streamed.value, unary.value):
        code, message, _, retry = rich(error)
        assert code == grpc.StatusCode.UNAVAILABLE and retry == 2.0, message
        assert "retry on another replica" in message
    cut = [r for r in caplog.records if r.getMessage() == "call cut at the end of the grace period"]
    assert sorted(r.method for r in cut) == ["Generate", "Screen"]
    assert "slow-screen" in {r.request_id for r in cut}
    assert counted == 1


def test_failed_tokens_are_counted_and_logged_once_per_peer_never_with_the_token(
        tiny_chat, tmp_path, caplog) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    token.chmod(0o600)
    s = ServerThread(tiny_engine_args(tiny_chat), ServerConfig(token_file=token))
    caplog.set_level(logging.INFO)
    try:
        stub = generation_pb2_grpc.GenerationServiceStub(s.channel())
        for i in range(55):
            metadata = [("authorization", f"Bearer s3cret-tokeX{i}")] if i % 5 else []
            with pytest.raises(grpc.RpcError) as info:
                stub.GetModelInfo(generation_pb2.GetModelInfoRequest(), metadata=metadata)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        exposition = s.app.metrics.exposition()
    finally:
        s.stop()
    assert value(exposition, "hireserve_auth_failures_total", reason="missing") == 11
    assert value(exposition, "hireserve_auth_failures_total", reason="wrong") == 44
    assert value(exposition, REQUESTS, service=GENERATION, method="GetModelInfo",
                 code="UNAUTHENTICATED") == 55
    lines = [r for r in caplog.records if r.getMessage() == "authentication failed"]
    assert len(lines) == 1 and lines[0].peer == "ipv4:127.0.0.1"
    assert lines[0].reason == "missing" and lines[0].method.endswith("/GetModelInfo")
    for record in caplog.records:
        assert "s3cret" not in repr(record.__dict__)


def test_auth_log_repeats_after_a_minute_with_the_count() -> None:
    from hireserve.server.auth import BearerTokenInterceptor

    now = [1000.0]
    reasons: list[str] = []
    auth = BearerTokenInterceptor("t", lambda method, reason: reasons.append(reason),
                                  clock=lambda: now[0])
    logged: list[dict] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(dict(record.__dict__))  # type: ignore[method-assign]
    logger = logging.getLogger("hireserve.auth")
    logger.addHandler(handler)
    try:
        for t in (0, 10, 59, 61, 62):
            now[0] = 1000.0 + t
            auth.record_failure("ipv4:10.0.0.7", "/m", "wrong")
        auth.record_failure("ipv4:10.0.0.8", "/m", "missing")  # another peer: its own line
    finally:
        logger.removeHandler(handler)
    assert [(r["peer"], r["failures"]) for r in logged] == [
        ("ipv4:10.0.0.7", 1), ("ipv4:10.0.0.7", 3), ("ipv4:10.0.0.8", 1)]
    assert len(reasons) == 6
