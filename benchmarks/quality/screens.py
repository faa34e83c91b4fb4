"""The screen_v3 passes of a quality run: every item through ScreenBatch, then single Screens.

    screen_job(client, job)          one ScreenBatch per job: a record per item, the call's wall
    time_screens(client, items)      single Screen calls one at a time: seconds each

A record keeps what the metrics read from a ScreenResponse: the score, the red flags and the
rubric (requirement, verdict, evidence line). The speed numbers are client-side wall times:
resumes per minute of the ScreenBatch calls, and seconds per Screen, a job's first Screen
(cold: its analysis not yet cached) apart from the warm ones.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.quality.dataset import Item, Job

Record = dict[str, Any]


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def record_of(response: Any) -> Record:
    """The parts of a ScreenResponse the metrics read, JSON-ready."""
    from hireserve.v1 import screening_pb2 as pb

    return {
        "score": float(response.match_score),
        "red_flags": list(response.red_flags),
        "requirements": [
            {"requirement": a.requirement,
             "importance": _enum_name(pb.RequirementImportance, a.importance,
                                      "REQUIREMENT_IMPORTANCE_"),
             "verdict": _enum_name(pb.RequirementVerdict, a.verdict, "REQUIREMENT_VERDICT_"),
             "evidence": a.evidence, "evidence_line": a.evidence_line,
             "confidence": round(float(a.confidence), 6),
             "skills_list_evidence": a.skills_list_evidence}
            for a in response.requirements],
        "prompt_tokens": response.usage.prompt_tokens,
        "cached_prompt_tokens": response.usage.cached_prompt_tokens,
    }


@dataclass
class BatchRun:
    records: dict[str, Record] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    walls: dict[str, float] = field(default_factory=dict)  # job id -> seconds of its ScreenBatch

    @property
    def scores(self) -> dict[str, float]:
        return {k: r["score"] for k, r in self.records.items()}

    @property
    def flags(self) -> dict[str, list[str]]:
        return {k: r["red_flags"] for k, r in self.records.items()}

    def add(self, job: Job, records: Mapping[str, Record], errors: Mapping[str, str],
            wall: float) -> None:
        self.records.update(records)
        self.errors.update(errors)
        self.walls[job.id] = wall


def screen_job(client: Any, job: Job, *, temperature: float, timeout: float
               ) -> tuple[dict[str, Record], dict[str, str], float]:
    """(records, errors, wall seconds) of every item of the job, from one ScreenBatch."""
    from hireserve.clients.errors import HireError

    records: dict[str, Record] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    stream = client.screen_batch(job.description, {i.id: i.text for i in job.items},
                                 sampling={"temperature": temperature}, timeout=timeout)
    try:
        for event in stream:
            if event.WhichOneof("event") != "result":
                continue
            result = event.result
            if result.WhichOneof("outcome") == "response":
                records[result.resume_id] = record_of(result.response)
            else:
                errors[result.resume_id] = HireError.from_status(result.error).one_line()
    except HireError as exc:  # the whole batch failed: every item not yet answered did
        for item in job.items:
            if item.id not in records:
                errors.setdefault(item.id, exc.one_line())
    wall = time.perf_counter() - started
    for item in job.items:
        if item.id not in records:
            errors.setdefault(item.id, "no result in the stream")
    return records, errors, wall


def fresh(text: str) -> str:
    """The resume under a unique first line, so that no part of it is in the server's prefix
    cache: a speed pass must not time a resume the quality pass already computed (name-swap
    and injection variants are the same prompt as their base after redaction)."""
    return f"Application reference {uuid.uuid4().hex[:12]}\n{text}"


def time_screen(client: Any, job: Job, item: Item, *, timeout: float) -> float:
    """Seconds of one Screen call (client side), on an uncached copy of the resume."""
    text = fresh(item.text)
    started = time.perf_counter()
    client.screen(job.description, text, timeout=timeout)
    return time.perf_counter() - started


def speed_batch(client: Any, jobs: Sequence[Job], *, timeout: float) -> dict[str, float]:
    """One ScreenBatch per job of its graded resumes, each an uncached copy (`fresh`), after
    the job's analysis is cached: {"items", "wall_s"} over all jobs."""
    items = wall = 0.0
    for job in jobs:
        started = time.perf_counter()
        stream = client.screen_batch(job.description,
                                     {i.id: fresh(i.text) for i in job.base}, timeout=timeout)
        items += sum(1 for e in stream if e.WhichOneof("event") == "result"
                     and e.result.WhichOneof("outcome") == "response")
        wall += time.perf_counter() - started
    return {"items": items, "wall_s": wall}


def time_screens(client: Any, work: Sequence[tuple[Job, Item]], *, timeout: float
                 ) -> list[dict[str, Any]]:
    """One Screen at a time; a failed call is recorded with its error instead of a time."""
    from hireserve.clients.errors import HireError

    out = []
    for job, item in work:
        try:
            out.append({"item": item.id, "s": time_screen(client, job, item, timeout=timeout)})
        except HireError as exc:
            out.append({"item": item.id, "s": None, "error": exc.one_line()})
    return out


def speed_summary(batch: BatchRun, cold: Sequence[Mapping[str, Any]],
                  warm: Sequence[Mapping[str, Any]],
                  throughput: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Resumes per minute of the ScreenBatch calls (results received over their summed wall:
    the uncached speed pass when there is one, else the quality pass, whose name-swap and
    injection variants hit the prefix cache) and the Screen times: median of the warm calls,
    the cold ones apart."""
    wall = sum(batch.walls.values())
    done = len(batch.records)
    if throughput is not None and throughput["wall_s"] > 0:
        wall, done = throughput["wall_s"], int(throughput["items"])
    warm_s = [c["s"] for c in warm if c["s"] is not None]
    cold_s = [c["s"] for c in cold if c["s"] is not None]
    per_job = {}
    for job_id, seconds in batch.walls.items():
        n = sum(1 for k in batch.records if k.split("/", 1)[0] == job_id)
        per_job[job_id] = {"items": n, "wall_s": seconds,
                           "per_min": 60.0 * n / seconds if seconds > 0 else None}
    return {
        "batch_items": done, "batch_wall_s": wall,
        "batch_per_min": 60.0 * done / wall if done and wall > 0 else None,
        "batch_per_job": per_job,
        "screen_median_s": statistics.median(warm_s) if warm_s else None,
        "screen_max_s": max(warm_s) if warm_s else None,
        "screen_n": len(warm_s),
        "screen_cold_s": statistics.median(cold_s) if cold_s else None,
        "screens": {"cold": list(cold), "warm": list(warm)},
    }
