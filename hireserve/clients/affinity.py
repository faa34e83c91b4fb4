"""Job-description affinity across replicas.

Screening many resumes against one job description is fast only on the replica whose prefix
cache holds that JD's KV blocks (the prompt puts the JD first). Two ways to get there:

- behind a proxy: every screening call carries `x-hireserve-affinity: <sha256(JD), 16 hex>`
  (ClientSettings.metadata adds it), and the proxy hashes on that header (ring hash in Envoy,
  `hash $http_x_hireserve_affinity consistent` in nginx; see deploy/envoy/envoy.yaml);
- client side: `AffinityPool` keeps one client per replica (the addresses of a headless
  Service, or a given list) and sends each JD to the replica rendezvous hashing picks for it.

Rendezvous (highest random weight) hashing: each (replica, key) pair gets a score and the key
goes to the highest. Adding a replica moves only the keys the new one now wins, about 1/N of
them, and removing one moves only its own keys; no ring, no virtual nodes to tune.
The key is a hash: resume and JD text never leave the process in a header.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

AFFINITY_HEADER = "x-hireserve-affinity"
KEY_HEX_CHARS = 16  # 64 bits: collisions between live JDs are irrelevant, the value stays short

C = TypeVar("C")


def affinity_key(job_description: str | bytes) -> str:
    """The affinity key of a job description: the first 16 hex digits of its SHA-256."""
    data = job_description.encode() if isinstance(job_description, str) else job_description
    return hashlib.sha256(data).hexdigest()[:KEY_HEX_CHARS]


def request_key(request: Any) -> str | None:
    """The affinity key of a request message, or None when it names no job description.

    The JD is a string field today; a `Document` (text or bytes) is hashed by its content so
    the same JD gives the same key however it was sent."""
    jd = getattr(request, "job_description", None)
    if isinstance(jd, str):
        return affinity_key(jd) if jd else None
    if jd is not None and hasattr(jd, "WhichOneof"):
        which = jd.WhichOneof("content")
        if which is not None:
            return affinity_key(getattr(jd, which))
    return None


def _score(target: str, key: str) -> int:
    digest = hashlib.sha256(f"{target}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class RendezvousRouter:
    """Maps affinity keys to targets ("host:port") by rendezvous hashing."""

    def __init__(self, targets: Iterable[str]) -> None:
        self.targets = sorted(set(targets))
        if not self.targets:
            raise ValueError("affinity routing needs at least one target")

    def ranked(self, key: str) -> list[str]:
        """All targets, best first: the first is the key's home, the rest its fallbacks in a
        stable order (so a failed replica's keys spread over the others, not onto one)."""
        return sorted(self.targets, key=lambda t: _score(t, key), reverse=True)

    def pick(self, key: str) -> str:
        return max(self.targets, key=lambda t: _score(t, key))


def resolve_targets(host: str, port: int) -> list[str]:
    """Every address behind a DNS name, as gRPC targets: a headless Service resolves to one A
    (or AAAA) record per ready pod. Sorted and deduplicated, so every client sees one order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    targets = set()
    for family, _, _, _, sockaddr in infos:
        ip = str(sockaddr[0])
        targets.add(f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}")
    if not targets:
        raise ValueError(f"{host} resolved to no address")
    return sorted(targets)


class AffinityPool(Generic[C]):
    """One client per replica; `client_for(jd)` is the client of the JD's home replica.

        pool = AffinityPool.from_dns("hireserve-headless.hr.svc", 50051, HireClient)
        for jd, resumes in jobs:
            for event in pool.client_for(jd).screen_batch(jd, resumes): ...

    `factory(target)` builds a client (HireClient or AsyncHireClient, with any settings via a
    lambda). Clients are made on first use and kept; `refresh` re-reads the replica list and
    closes the clients of replicas that left (call it when the Service's endpoints change).
    """

    def __init__(self, targets: Sequence[str], factory: Callable[[str], C]) -> None:
        self._factory = factory
        self.router = RendezvousRouter(targets)
        self._clients: dict[str, C] = {}

    @classmethod
    def from_dns(cls, host: str, port: int, factory: Callable[[str], C]) -> AffinityPool[C]:
        return cls(resolve_targets(host, port), factory)

    def target_for(self, job_description: str | bytes) -> str:
        return self.router.pick(affinity_key(job_description))

    def client_for(self, job_description: str | bytes) -> C:
        target = self.target_for(job_description)
        client = self._clients.get(target)
        if client is None:
            client = self._clients[target] = self._factory(target)
        return client

    def refresh(self, targets: Sequence[str]) -> list[C]:
        """Routes by the new replica list. Returns the clients of replicas that are gone, for
        the caller to close (sync `close()` or async `await close()`; the pool cannot tell)."""
        self.router = RendezvousRouter(targets)
        gone = [t for t in self._clients if t not in self.router.targets]
        return [self._clients.pop(t) for t in gone]

    def clients(self) -> list[C]:
        return list(self._clients.values())
