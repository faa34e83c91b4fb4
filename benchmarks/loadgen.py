"""Drive a running hireserve over gRPC: closed loop at a concurrency, or open loop with Poisson
or bursty (gamma) arrivals at a rate; bounded by a request count and a duration.

A `Call` is one request; `issue(client, call)` sends it with the typed async client and fills a
RequestRecord:
- "generate": the streaming Generate RPC with the screening chat messages (job description first,
  so requests against one job share a prefix), `ignore_eos` and a fixed `max_tokens`; TTFT is
  the first non-empty chunk, ITL the gaps between chunks.
- "screen": the unary Screen RPC (structured JSON answer): end to end only.
- "screen-batch": ScreenBatch with `batch_size` resumes of one job per call; each resume's
  result time is its end to end (from the call's start).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.stats import RequestRecord
from hireserve.clients.aio import AsyncHireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import NO_RETRY

Api = Literal["generate", "screen", "screen-batch"]
Arrival = Literal["poisson", "gamma"]


@dataclass(frozen=True)
class Call:
    """One request of a run. `messages` for generate; `job` + `resumes` for the screening RPCs."""

    messages: list[dict[str, str]] | None = None
    job: str = ""
    resumes: tuple[str, ...] = ()
    max_tokens: int = 0

    def __repr__(self) -> str:  # never show document text
        return f"Call(resumes={len(self.resumes)}, max_tokens={self.max_tokens})"


@dataclass(frozen=True)
class LoadShape:
    """Closed loop when `rate` is None (`concurrency` workers, each sends its next request when
    the last one ends); open loop otherwise (`rate` requests/s, `concurrency` caps how many are
    in flight, 0 = no cap). `burstiness` is the gamma shape: 1 = Poisson, < 1 burstier."""

    concurrency: int = 1
    rate: float | None = None
    arrival: Arrival = "poisson"
    burstiness: float = 1.0
    num_requests: int | None = None  # None: as many as the duration allows (cycling the calls)
    duration: float | None = None  # seconds after which no new request is sent
    seed: int = 0

    def describe(self) -> str:
        if self.rate is None:
            return f"closed loop, concurrency {self.concurrency}"
        kind = "Poisson" if self.arrival == "poisson" else f"gamma(k={self.burstiness:g})"
        cap = f", max {self.concurrency} in flight" if self.concurrency else ""
        return f"open loop, {kind} arrivals at {self.rate:g} req/s{cap}"


def arrival_gaps(shape: LoadShape) -> Iterator[float]:
    """Endless seconds between consecutive sends: exponential (a Poisson process) or gamma with
    mean 1/rate and shape `burstiness` (coefficient of variation 1/sqrt(burstiness))."""
    if shape.rate is None or shape.rate <= 0:
        raise ValueError("an open loop needs a positive rate")
    rng = random.Random(shape.seed)
    k = shape.burstiness
    while True:
        if shape.arrival == "poisson":
            yield rng.expovariate(shape.rate)
        else:
            yield rng.gammavariate(k, 1 / (shape.rate * k))


async def issue(client: AsyncHireClient, call: Call, api: Api) -> list[RequestRecord]:
    """Sends one call; one record per resume it carries (one for generate and screen)."""
    start = time.perf_counter()
    if api == "generate":
        assert call.messages is not None
        rec = RequestRecord(start=start)
        try:
            async for chunk in client.generate(call.messages, max_tokens=call.max_tokens,
                                               ignore_eos=True, sampling={"temperature": 0.0}):
                now = time.perf_counter()
                if chunk.text:
                    rec.chunk_times.append(now)
                    if rec.first_token is None:
                        rec.first_token = now
                if chunk.HasField("usage"):
                    _usage(rec, chunk.usage)
            rec.ok = True
        except HireError as exc:
            rec.error = exc.code.name
        rec.end = time.perf_counter()
        return [rec]
    if api == "screen":
        rec = RequestRecord(start=start)
        try:
            response = await client.screen(call.job, call.resumes[0])
            _usage(rec, response.usage)
            rec.ok = True
        except HireError as exc:
            rec.error = exc.code.name
        rec.end = time.perf_counter()
        return [rec]
    records: list[RequestRecord] = []
    try:
        async for event in client.screen_batch(call.job, list(call.resumes)):
            if event.WhichOneof("event") != "result":
                continue
            rec = RequestRecord(start=start, end=time.perf_counter())
            if event.result.WhichOneof("outcome") == "response":
                _usage(rec, event.result.response.usage)
                rec.ok = True
            else:
                rec.error = f"CODE_{event.result.error.code}"
            records.append(rec)
    except HireError as exc:
        records.append(RequestRecord(start=start, end=time.perf_counter(), error=exc.code.name))
    missing = len(call.resumes) - len(records)  # a failed stream loses the rest of its batch
    end = time.perf_counter()
    records.extend(RequestRecord(start=start, end=end, error="MISSING") for _ in range(missing))
    return records


def _usage(rec: RequestRecord, usage) -> None:  # type: ignore[no-untyped-def]
    rec.prompt_tokens = usage.prompt_tokens
    rec.cached_tokens = usage.cached_prompt_tokens
    rec.output_tokens = usage.generated_tokens


async def run_load(target: str, calls: Sequence[Call], api: Api, shape: LoadShape, *,
                   on_done: Callable[[int], None] | None = None) -> tuple[list[RequestRecord],
                                                                        float, int]:
    """Sends calls (cycled when `num_requests` exceeds them) in the given shape.
    -> (records, duration from first send to last completion, calls sent). Failures are
    recorded, never retried (a retry would hide overload)."""
    from hireserve.clients.retry import Deadlines

    total = shape.num_requests if shape.num_requests is not None else (
        len(calls) if shape.duration is None else 10**9)
    deadline = None if shape.duration is None else time.perf_counter() + shape.duration
    records: list[RequestRecord] = []
    sent = 0
    big = 3600.0
    async with AsyncHireClient(target, retry=NO_RETRY, deadlines=Deadlines(
            screen=big, screen_batch=big, generate=big)) as client:
        t0 = time.perf_counter()

        def next_call() -> Call | None:
            nonlocal sent
            if sent >= total or (deadline is not None and time.perf_counter() >= deadline):
                return None
            call = calls[sent % len(calls)]
            sent += 1
            return call

        async def one(call: Call) -> None:
            got = await issue(client, call, api)
            records.extend(got)
            if on_done:
                on_done(len(got))

        if shape.rate is None:
            async def worker() -> None:
                while (call := next_call()) is not None:
                    await one(call)

            await asyncio.gather(*(worker() for _ in range(max(1, shape.concurrency))))
        else:
            cap = asyncio.Semaphore(shape.concurrency) if shape.concurrency else None
            gaps = arrival_gaps(shape)
            tasks = []

            async def limited(call: Call) -> None:
                if cap is None:
                    await one(call)
                    return
                async with cap:
                    await one(call)

            when = t0
            while (call := next_call()) is not None:
                tasks.append(asyncio.create_task(limited(call)))
                when += next(gaps)
                await asyncio.sleep(max(0.0, when - time.perf_counter()))
            await asyncio.gather(*tasks)
        duration = max((r.end for r in records), default=t0) - t0
    return records, duration, sent
