"""Job-description affinity: rendezvous routing of JDs to replicas and the header a proxy
hashes on, checked against real gRPC calls to in-process servers."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import pytest

from hireserve.clients import AsyncHireClient, HireClient
from hireserve.clients.affinity import (
    AFFINITY_HEADER,
    AffinityPool,
    RendezvousRouter,
    affinity_key,
    resolve_targets,
)
from hireserve.clients.errors import HireError
from hireserve.clients.retry import NO_RETRY
from tests.clients.fake_server import FakeServer

JD = "Senior Rust engineer: async networking, tokio, gRPC, Kubernetes."
TARGETS = [f"10.0.0.{i}:50051" for i in range(1, 5)]
KEYS = [affinity_key(f"job description number {i}") for i in range(4000)]


def test_key_is_a_truncated_sha256_of_the_jd() -> None:
    assert affinity_key(JD) == hashlib.sha256(JD.encode()).hexdigest()[:16]
    assert affinity_key(JD.encode()) == affinity_key(JD)
    assert affinity_key(JD + " ") != affinity_key(JD)


def test_same_jd_same_target_whatever_the_list_order() -> None:
    a = RendezvousRouter(TARGETS)
    b = RendezvousRouter(list(reversed(TARGETS)) + TARGETS[:1])  # order and duplicates
    for key in KEYS[:200]:
        assert a.pick(key) == b.pick(key) == a.ranked(key)[0]


def test_different_jds_spread_over_the_replicas() -> None:
    router = RendezvousRouter(TARGETS)
    load = Counter(router.pick(k) for k in KEYS)
    assert set(load) == set(TARGETS)
    share = len(KEYS) / len(TARGETS)
    # 4000 keys over 4 replicas: a fair hash stays within +-15% of 1000 each.
    assert all(0.85 * share < n < 1.15 * share for n in load.values()), load


def test_adding_a_replica_moves_about_one_nth_of_the_keys_and_only_to_it() -> None:
    before = RendezvousRouter(TARGETS)
    new = "10.0.0.9:50051"
    after = RendezvousRouter([*TARGETS, new])
    moved = [k for k in KEYS if before.pick(k) != after.pick(k)]
    assert all(after.pick(k) == new for k in moved)
    fraction = len(moved) / len(KEYS)
    assert 0.15 < fraction < 0.25, fraction  # ideal 1/5


def test_removing_a_replica_moves_only_its_keys() -> None:
    before = RendezvousRouter(TARGETS)
    gone = TARGETS[2]
    after = RendezvousRouter([t for t in TARGETS if t != gone])
    for k in KEYS:
        if before.pick(k) != gone:
            assert after.pick(k) == before.pick(k)
        else:
            # The fallback order is the ranking without the failed replica.
            assert after.pick(k) == before.ranked(k)[1]


def test_empty_target_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        RendezvousRouter([])


def test_resolve_targets_from_dns() -> None:
    targets = resolve_targets("localhost", 50051)
    assert "127.0.0.1:50051" in targets or "[::1]:50051" in targets
    assert targets == sorted(set(targets))


def test_screening_calls_carry_the_affinity_header(fake) -> None:
    with HireClient(fake.target, retry=NO_RETRY) as client:
        client.screen(JD, "Rust, tokio and gRPC for five years.")
        list(client.screen_batch(JD, ["Rust", "Go"]))
        client.generate_questions("Rust resume", job_description=JD)
        client.generate_questions("Rust resume")  # no JD: nothing to route on
        client.model_info()
    headers = {(m, meta.get(AFFINITY_HEADER)) for m, meta, _ in fake.script.calls}
    expected = hashlib.sha256(JD.encode()).hexdigest()[:16]
    assert ("Screen", expected) in headers
    assert ("ScreenBatch", expected) in headers
    assert ("GenerateQuestions", expected) in headers
    assert ("GenerateQuestions", None) in headers
    assert ("GetModelInfo", None) in headers


def test_async_client_sends_the_header_too(fake) -> None:
    async def main() -> None:
        async with AsyncHireClient(fake.target, retry=NO_RETRY) as client:
            await client.screen(JD, "Rust resume")

    asyncio.run(main())
    (meta,) = [m for name, m, _ in fake.script.calls if name == "Screen"]
    assert meta[AFFINITY_HEADER] == affinity_key(JD)


def test_pool_sends_each_jd_to_its_home_replica(fake) -> None:
    with FakeServer() as other:
        other.reset()
        servers = {fake.target: fake, other.target: other}
        pool = AffinityPool(list(servers), lambda t: HireClient(t, retry=NO_RETRY))
        jds = [f"Job {i}: backend engineer, Python and gRPC" for i in range(12)]
        homes = {jd: pool.target_for(jd) for jd in jds}
        assert set(homes.values()) == set(servers), "12 JDs should use both replicas"
        for jd in jds:
            pool.client_for(jd).screen(jd, "Python, gRPC")
        for target, server in servers.items():
            seen = [m[AFFINITY_HEADER] for name, m, _ in server.script.calls if name == "Screen"]
            want = [affinity_key(jd) for jd in jds if homes[jd] == target]
            assert seen == want
        assert len(pool.clients()) == 2
        # A replica leaves: its client is handed back to close, its JDs go to the other one.
        closed = pool.refresh([fake.target])
        assert len(closed) == 1
        for c in closed:
            c.close()
        assert {pool.target_for(jd) for jd in jds} == {fake.target}
        for c in pool.clients():
            c.close()


def test_pool_client_reports_a_dead_replica(fake) -> None:
    # A target nobody listens on: the error surfaces as UNAVAILABLE, not a hang.
    pool = AffinityPool(["127.0.0.1:9"], lambda t: HireClient(t, retry=NO_RETRY))
    with pytest.raises(HireError) as info:
        pool.client_for(JD).screen(JD, "resume", timeout=5)
    assert info.value.code.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    pool.client_for(JD).close()
