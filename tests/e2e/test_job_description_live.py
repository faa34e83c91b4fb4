"""Job descriptions: one over the limit is refused naming the field and the limit, and the
largest allowed ones are processed off the event loop (three 30 MB ones once held health for
5.1 s: past the readiness probe's 5 s)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rpc_helpers import rich

from hireserve.server.config import ServerConfig
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

LIMIT = ServerConfig().max_job_description_chars
RESUME = common_pb2.Document(text="Jane Doe\nRust and PostgreSQL for 8 years at Acme.")


def _maximal_jd(seed: int) -> str:
    """LIMIT characters of headed bullet lines, different for each seed (no shared cache)."""
    lines, i = [f"Staff engineer {seed}"], 0  # no heading: the model labels every line
    while sum(len(line) + 1 for line in lines) < LIMIT:
        lines.append(f"- {i} years of experience with distributed system number {seed}-{i}.")
        i += 1
    return "\n".join(lines)[:LIMIT]


def test_a_job_description_over_the_limit_names_the_field_and_the_limit(server) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.Screen(screening_pb2.ScreenRequest(job_description="x" * (LIMIT + 1),
                                                resume=RESUME), timeout=60)
    code, message, fields, _ = rich(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and set(fields) == {"job_description"}
    assert message == f"the job description is {LIMIT + 1} characters; the limit is {LIMIT}"


def test_health_answers_within_100_ms_while_three_maximal_jds_are_processed(server) -> None:
    stub = screening_pb2_grpc.ScreeningServiceStub(server.channel())
    health = health_pb2_grpc.HealthStub(server.channel())
    health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    jds = [_maximal_jd(seed) for seed in range(3)]
    assert all(len(jd) == LIMIT for jd in jds)
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)

    def screen(jd: str) -> grpc.StatusCode:
        try:
            stub.Screen(screening_pb2.ScreenRequest(job_description=jd, resume=RESUME),
                        timeout=120)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            codes = list(pool.map(screen, jds))
    finally:
        done.set()
        prober.join()
    # Each went the whole way: lines split, requirements extracted (the model labels the
    # first lines), the resume screened against them.
    assert codes == [grpc.StatusCode.OK] * 3
    assert len(latencies) >= 5
    print(f"health: {len(latencies)} probes, slowest {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 0.100
