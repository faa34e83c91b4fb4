"""One analysis per job description: concurrent screens share the one in flight, its owner going
away does not cancel it for the rest, a failed analysis is retried and never cached, the least
recently used is evicted, and the key separates models, prompt versions and texts."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hireserve.server.errors import ServiceError
from hireserve.server.screening.calls import Tokens
from hireserve.server.screening.job import JobProfile
from hireserve.server.screening.job_cache import JobCache, cache_key
from hireserve.server.screening.verdicts import Requirement


def _profile(text: str, importance: str = "must") -> JobProfile:
    return JobProfile((Requirement(text, importance, text),), (), False, Tokens(prompt=10))


def test_cache_key_separates_models_prompt_versions_and_job_descriptions() -> None:
    keys = {cache_key("m", "screen_v3", "jd"), cache_key("m2", "screen_v3", "jd"),
            cache_key("m", "screen_v4", "jd"), cache_key("m", "screen_v3", "jd2"),
            cache_key("mj", "d"), cache_key("m", "jd")}  # parts are delimited, not concatenated
    assert len(keys) == 6
    assert cache_key("m", "screen_v3", "jd") == cache_key("m", "screen_v3", "jd")


def test_the_rubric_digest_changes_with_a_requirement_or_its_importance() -> None:
    digests = {_profile("Rust").digest, _profile("Go").digest, _profile("Rust", "nice").digest}
    assert len(digests) == 3 and _profile("Rust").digest == _profile("Rust").digest


def test_concurrent_gets_share_one_analysis() -> None:
    calls: list[str] = []

    async def main() -> list[tuple[JobProfile, bool]]:
        cache: JobCache[JobProfile] = JobCache()

        async def analyze() -> JobProfile:
            calls.append("x")
            await asyncio.sleep(0.05)
            return _profile("Rust")

        results = await asyncio.gather(*(cache.get("k", analyze) for _ in range(50)))
        again = await cache.get("k", analyze)
        return [*results, again]

    results = asyncio.run(main())
    assert calls == ["x"]
    assert sum(ran for _, ran in results) == 1  # exactly one caller is charged the tokens
    assert all(p.requirements[0].text == "Rust" for p, _ in results)


def test_owner_going_away_does_not_cancel_the_shared_analysis() -> None:
    async def main() -> tuple[JobProfile, bool, bool]:
        cache: JobCache[JobProfile] = JobCache()
        started = asyncio.Event()

        async def analyze() -> JobProfile:
            started.set()
            await asyncio.sleep(0.05)
            return _profile("Go")

        owner = asyncio.ensure_future(cache.get("k", analyze))
        await started.wait()
        waiter = asyncio.ensure_future(cache.get("k", analyze))
        await asyncio.sleep(0)
        owner.cancel()
        value, ran = await waiter
        _, ran_later = await cache.get("k", analyze)  # and it was kept for the next one
        return value, ran, ran_later

    value, ran, ran_later = asyncio.run(main())
    assert value.requirements[0].text == "Go" and not ran and not ran_later


def test_a_failed_analysis_is_retried_by_a_waiter_and_not_cached() -> None:
    attempts: list[int] = []

    async def main() -> tuple[JobProfile, bool]:
        cache: JobCache[JobProfile] = JobCache()

        async def analyze() -> JobProfile:
            attempts.append(1)
            await asyncio.sleep(0.01)
            if len(attempts) == 1:
                raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            return _profile("SQL")

        first = asyncio.ensure_future(cache.get("k", analyze))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(cache.get("k", analyze))
        with pytest.raises(ServiceError):
            await first
        assert len(cache) == 0  # the failure was not cached
        return await second

    value, ran = asyncio.run(main())
    assert ran and value.requirements[0].text == "SQL" and len(attempts) == 2


def test_cache_evicts_the_least_recently_used() -> None:
    async def main() -> list[bool]:
        cache: JobCache[JobProfile] = JobCache(size=2)

        async def analyze() -> JobProfile:
            return _profile("x")

        for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
            await cache.get(key, analyze)
        assert len(cache) == 2
        return [(await cache.get(key, analyze))[1] for key in ("a", "c", "b")]

    assert asyncio.run(main()) == [False, False, True]
