"""When to retry a failed call and how long to wait first.

Only UNAVAILABLE (server draining, connection refused) and RESOURCE_EXHAUSTED (queue full) are
retried: every other code means the same request would fail again. So does gRPC's own
RESOURCE_EXHAUSTED for a message over a size limit ("Received message larger than max", from
either side, without RetryInfo): resending a 50 MB upload four times only wastes the network.
The server's RetryInfo hint wins over our own backoff, because the server knows how long its
queue takes to drain. A streaming call is retried only if it failed before its first message
(never replay a stream the caller has partly consumed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import grpc

from hireserve.clients.errors import HireError

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts the first call. Backoff without a hint: `initial_backoff` *
    `multiplier`**(attempt-1), capped at `max_backoff`, times a jitter in [0.5, 1] so clients
    that failed together do not come back together. A hint above `max_hint` is capped."""

    max_attempts: int = 4
    initial_backoff: float = 0.25
    max_backoff: float = 8.0
    multiplier: float = 2.0
    max_hint: float = 30.0
    retryable: frozenset[grpc.StatusCode] = field(default=RETRYABLE)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def should_retry(self, error: HireError, attempt: int) -> bool:
        """After `attempt` failed calls (1-based), is another one worth it?"""
        return (error.code in self.retryable and attempt < self.max_attempts
                and not is_message_too_large(error))

    def delay(self, error: HireError, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempt`-th failure."""
        if error.retry_delay is not None:
            return min(max(error.retry_delay, 0.0), self.max_hint)
        backoff = min(self.initial_backoff * self.multiplier ** (attempt - 1), self.max_backoff)
        return backoff * (0.5 + 0.5 * (rng or random).random())


NO_RETRY = RetryPolicy(max_attempts=1)


def is_message_too_large(error: HireError) -> bool:
    """gRPC's refusal of a message over a size limit (the server's --max-message-mib or this
    channel's own): the same message would be refused again."""
    return (error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is None
            and "message larger than max" in error.message)


@dataclass(frozen=True)
class Deadlines:
    """Per-attempt deadlines in seconds. Screening a long resume on a busy server takes a while;
    a batch streams for as long as its resumes need."""

    screen: float = 300.0
    screen_batch: float = 3600.0
    generate_questions: float = 300.0
    generate: float = 600.0
    model_info: float = 10.0
    health: float = 5.0
