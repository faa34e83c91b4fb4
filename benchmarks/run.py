"""One measured run: calls from a workload, the load shape, a progress bar, the server's
prefix-cache counters before and after, and the summary the reports are made of."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from benchmarks import prom
from benchmarks.loadgen import Api, Call, LoadShape, run_load
from benchmarks.stats import SLO, RequestRecord, summarize
from benchmarks.workload import LengthMix, Workload, make_workload


def build_calls(workload: Workload, api: Api, *, max_tokens: int,
                batch_size: int = 8) -> list[Call]:
    """generate: the screening chat messages (job description first, then the resume) with a
    fixed output length. screen: one call per resume. screen-batch: resumes of one job in
    calls of `batch_size`."""
    from benchmarks.quality import screen_v1  # the original single prompt; no torch

    if api == "generate":
        return [Call(messages=screen_v1.messages(job.text, resume.text, job.language),
                     max_tokens=max_tokens) for job, resume in workload.pairs()]
    if api == "screen":
        return [Call(job=job.text, resumes=(resume.text,)) for job, resume in workload.pairs()]
    calls = []
    for j, job in enumerate(workload.jobs):
        mine = [r.text for i, r in enumerate(workload.resumes) if workload.job_of[i] == j]
        calls.extend(Call(job=job.text, resumes=tuple(mine[k:k + batch_size]))
                     for k in range(0, len(mine), batch_size))
    return calls


def measure(target: str, calls: Sequence[Call], api: Api, shape: LoadShape, *, label: str,
            metrics_url: str | None = None, slo: SLO | None = None,
            progress: bool = True) -> dict[str, Any]:
    """Runs the load and returns its summary with `label`, the load shape, the prefix-cache hit
    rate (server metrics; the responses' usage when the endpoint is unreachable) and the raw
    latency samples for the CDF plots."""
    before = prom.scrape(metrics_url) if metrics_url else {}
    per_call = max(len(c.resumes) for c in calls) if api == "screen-batch" else 1
    expected = (shape.num_requests or len(calls)) * per_call
    records, duration, sent = _run_with_progress(target, calls, api, shape, expected, progress)
    after = prom.scrape(metrics_url) if metrics_url else {}
    requested = sum(len(calls[i % len(calls)].resumes) if api == "screen-batch" else 1
                    for i in range(sent))
    out = summarize(records, requested=requested, duration=duration, slo=slo)
    out["label"] = label
    out["api"] = api
    out["load"] = shape.describe()
    out["concurrency"] = shape.concurrency
    out["prefix_cache"] = _prefix_cache(before, after, records)
    done = [r for r in records if r.ok]
    out["samples"] = {
        "ttft": [r.ttft for r in done if r.ttft is not None],
        "itl": [g for r in done for g in r.itls()],
        "e2e": [r.e2e for r in done],
    }
    return out


def _prefix_cache(before: dict[str, float], after: dict[str, float],
                  records: Sequence[RequestRecord]) -> dict[str, Any]:
    rate = prom.prefix_hit_rate(before, after)
    if rate is not None:
        return {"hit_rate": rate, "source": "metrics"}
    prompt = sum(r.prompt_tokens for r in records if r.ok)
    cached = sum(r.cached_tokens for r in records if r.ok)
    return {"hit_rate": cached / prompt if prompt else None, "source": "usage"}


def _run_with_progress(target: str, calls: Sequence[Call], api: Api, shape: LoadShape,
                       expected: int, show: bool) -> tuple[list[RequestRecord], float, int]:
    if not show:
        return asyncio.run(run_load(target, calls, api, shape))
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(shape.describe(), total=expected if shape.duration is None else None)
        return asyncio.run(run_load(target, calls, api, shape,
                                    on_done=lambda n: bar.advance(task, n)))


def warm_up(target: str, api: Api, n: int, *, max_tokens: int) -> None:
    """A few requests before measuring (first-call costs: grammar compile, allocator growth),
    made from their own short workload: another job description and other resumes, so only
    the constant system prompt is left in the prefix cache, as on a long-running server."""
    if n <= 0:
        return
    spare = make_workload(n, seed=999_983, lengths=LengthMix.uniform(100, 200), zh_fraction=0)
    calls = build_calls(spare, api, max_tokens=max_tokens, batch_size=n)
    asyncio.run(run_load(target, calls, api, LoadShape(concurrency=n, num_requests=len(calls))))
