"""A message over a size limit is not retried: gRPC's own RESOURCE_EXHAUSTED for it carries no
RetryInfo, and the same bytes would be refused again (HireClient once sent a 50 MB upload four
times). A RESOURCE_EXHAUSTED of the server's queue is still retried."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hireserve.clients import AsyncHireClient, HireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import RetryPolicy, is_message_too_large

JD = "Backend engineer: Rust."
TOO_LARGE = b"%PDF-1.7\n" + b"x" * (5 * 2**20)  # the fake server takes 4 MiB, gRPC's default


def test_the_policy_tells_a_size_refusal_from_a_full_queue() -> None:
    policy = RetryPolicy(max_attempts=4)
    server_side = HireError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "SERVER: Received message larger than max (52428800 vs. 33554432)")
    client_side = HireError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "CLIENT: Sent message larger than max (52428800 vs. 33554432)")
    queue_full = HireError(grpc.StatusCode.RESOURCE_EXHAUSTED, "the queue is full",
                           retry_delay=1.0)
    assert is_message_too_large(server_side) and is_message_too_large(client_side)
    assert not policy.should_retry(server_side, 1) and not policy.should_retry(client_side, 1)
    assert policy.should_retry(queue_full, 1) and not is_message_too_large(queue_full)


def test_sync_client_sends_an_oversized_upload_once(fake) -> None:
    with HireClient(fake.target, sleep=lambda s: None) as client, \
            pytest.raises(HireError) as info:
        client.screen(JD, TOO_LARGE)
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.value.attempts == 1 and "larger than max" in info.value.message
    assert fake.script.calls == []  # refused by gRPC before the servicer ever ran


def test_async_client_sends_an_oversized_upload_once(fake) -> None:
    async def main() -> HireError:
        async with AsyncHireClient(fake.target) as client:
            with pytest.raises(HireError) as info:
                await client.screen(JD, TOO_LARGE)
            return info.value

    error = asyncio.run(main())
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.attempts == 1
