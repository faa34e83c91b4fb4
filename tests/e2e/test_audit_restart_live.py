"""The audit log across a crash: records written, the file cut mid-record (a crash during a
multi-page write, a full disk), the server restarted, one more decision, everything read back."""

from __future__ import annotations

from dataclasses import replace

from server_thread import ServerThread, tiny_engine_args

from hireserve.server.audit import read_log
from hireserve.server.config import ServerConfig
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

JD = "Backend engineer: Rust, PostgreSQL, Kubernetes. Five years of experience."
RESUME = "Jane Doe\nSenior engineer, 8 years of Rust and PostgreSQL at Acme."


def _decide(server: ServerThread, request_id: str) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    stub.Screen(screening_pb2.ScreenRequest(job_description=JD,
                                            resume=common_pb2.Document(text=RESUME)),
                metadata=[("x-request-id", request_id)], timeout=120)


def test_a_torn_last_record_is_repaired_at_restart_and_the_log_stays_readable(
        tiny_chat, tmp_path) -> None:
    audit = tmp_path / "audit.jsonl"
    config = replace(ServerConfig(), audit_log=audit)
    server = ServerThread(tiny_engine_args(tiny_chat), config)
    try:
        _decide(server, "before-0")
        _decide(server, "before-1")
    finally:
        server.stop()
    data = audit.read_bytes()
    second = data.rindex(b"\n", 0, len(data) - 1) + 1
    audit.write_bytes(data[:second + 100])  # the crash: 100 bytes of the second record

    server = ServerThread(tiny_engine_args(tiny_chat), config)
    try:
        _decide(server, "after")
    finally:
        server.stop()
    contents = read_log(audit)
    assert [r["request_id"] for r in contents.records] == ["before-0", "after"]
    [torn] = contents.torn
    assert (torn.line, torn.offset, torn.size, torn.repaired) == (2, second, 100, True)
    [repair] = contents.repairs
    assert (repair["torn_offset"], repair["torn_bytes"]) == (second, 100)
