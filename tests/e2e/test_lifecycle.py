"""Health, reflection, bearer tokens, engine failure and SIGTERM draining."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from rpc_helpers import rich
from server_thread import ServerThread, tiny_engine_args

from hireserve.server.config import ServerConfig
from hireserve.v1 import generation_pb2, generation_pb2_grpc

SERVICES = ("hireserve.v1.ScreeningService", "hireserve.v1.GenerationService")


def test_health_and_reflection(server) -> None:
    health = health_pb2_grpc.HealthStub(server.channel())
    for service in ("", *SERVICES):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    names = set(ProtoReflectionDescriptorDatabase(server.channel()).get_services())
    assert set(SERVICES) <= names and "grpc.health.v1.Health" in names


def test_bearer_token(tiny_chat, tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    s = ServerThread(tiny_engine_args(tiny_chat), ServerConfig(token_file=token))
    try:
        stub = generation_pb2_grpc.GenerationServiceStub(s.channel())
        with pytest.raises(grpc.RpcError) as info:
            stub.GetModelInfo(generation_pb2.GetModelInfoRequest())
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            stub.GetModelInfo(generation_pb2.GetModelInfoRequest(),
                              metadata=[("authorization", "Bearer wrong")])
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info_ok = stub.GetModelInfo(generation_pb2.GetModelInfoRequest(),
                                    metadata=[("authorization", "Bearer s3cret")])
        assert info_ok.context_length > 0
        health = health_pb2_grpc.HealthStub(s.channel())  # probes need no token
        assert health.Check(health_pb2.HealthCheckRequest()).status == 1
    finally:
        s.stop()


def test_engine_failure_fails_calls_with_internal_and_exits_non_zero(tiny_chat) -> None:
    s = ServerThread(tiny_engine_args(tiny_chat))
    stub = generation_pb2_grpc.GenerationServiceStub(s.channel())

    def explode(scheduled):
        raise RuntimeError("simulated device failure")

    s.on_engine(lambda e: setattr(e.runner, "execute", explode))
    with pytest.raises(grpc.RpcError) as info:
        list(stub.Generate(generation_pb2.GenerateRequest(prompt="hi", max_tokens=4),
                           timeout=30))
    assert info.value.code() == grpc.StatusCode.INTERNAL
    s._thread.join(30)
    assert not s._thread.is_alive(), "the server must stop after an engine failure"
    assert s.app is not None and s.app.exit_code == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_sigterm_drains_in_flight_calls_and_exits_zero(tiny_chat) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hireserve.clients.cli", "serve", "--model", str(tiny_chat),
         "--port", str(port), "--metrics-port", "0", "--num-kv-blocks", "512",
         "--grace-period", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=120)
        health = health_pb2_grpc.HealthStub(channel)
        end = time.monotonic() + 60
        while health.Check(health_pb2.HealthCheckRequest()).status != 1:
            assert time.monotonic() < end
            time.sleep(0.1)
        stub = generation_pb2_grpc.GenerationServiceStub(channel)
        stream = stub.Generate(generation_pb2.GenerateRequest(
            prompt="A long story:", max_tokens=1500, ignore_eos=True), timeout=120)
        next(stream)  # the call is running
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        late = grpc.insecure_channel(f"127.0.0.1:{port}")
        with pytest.raises(grpc.RpcError) as info:  # new calls are refused while draining
            generation_pb2_grpc.GenerationServiceStub(late).GetModelInfo(
                generation_pb2.GetModelInfoRequest(), timeout=5)
        code, _, _, retry = rich(info.value)
        assert code == grpc.StatusCode.UNAVAILABLE and retry is not None and retry > 0
        assert dict(info.value.trailing_metadata() or ()).get("x-request-id")
        rest = list(stream)  # the call in flight finishes, whole
        assert rest[-1].usage.generated_tokens == 1500
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _serve(model, port: int, grace_s: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hireserve.clients.cli", "serve", "--model", str(model),
         "--port", str(port), "--metrics-port", "0", "--num-kv-blocks", "512",
         "--grace-period", str(grace_s)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )


@pytest.mark.slow
def test_an_open_health_watch_does_not_hold_sigterm(tiny_chat) -> None:
    """A load balancer's Watch stream stays open as long as it likes: the drain must not wait
    the grace period for it. It is told NOT_SERVING, then closed, and the process exits 0."""
    port = _free_port()
    proc = _serve(tiny_chat, port, grace_s=60)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=120)
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=120)
        SERVING = health_pb2.HealthCheckResponse.SERVING
        while next(watch).status != SERVING:
            pass
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - signalled < 15, "drained well before the 60 s grace"
        with pytest.raises(grpc.RpcError):  # the server closed the stream
            next(watch)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
