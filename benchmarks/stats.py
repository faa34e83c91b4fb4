"""What one benchmark request measured, and the summary of a run: throughput, latency
percentiles (TTFT, TPOT, ITL, end to end) and goodput under an SLO.

Definitions (as vLLM's benchmark uses them):
- TTFT: request sent -> first non-empty streamed chunk.
- ITL: the gaps between consecutive non-empty chunks of one request.
- TPOT: (end to end - TTFT) / (output tokens - 1), per request; requests of one token have none.
- goodput: completed requests per second that met every bound of the SLO.
Times are `time.perf_counter()` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PERCENTILES = (50, 90, 99)


@dataclass
class RequestRecord:
    start: float
    end: float = 0.0
    ok: bool = False
    error: str = ""  # gRPC status name, never request text
    first_token: float | None = None  # None for unary calls
    chunk_times: list[float] = field(default_factory=list)
    output_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    @property
    def e2e(self) -> float:
        return self.end - self.start

    @property
    def ttft(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.start

    @property
    def tpot(self) -> float | None:
        if self.first_token is None or self.output_tokens < 2:
            return None
        return (self.end - self.first_token) / (self.output_tokens - 1)

    def itls(self) -> list[float]:
        return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:], strict=False)]


@dataclass(frozen=True)
class SLO:
    """A request is "good" when it completed and met every bound that is set (seconds)."""

    ttft: float | None = None
    tpot: float | None = None
    e2e: float | None = None

    def met(self, r: RequestRecord) -> bool:
        if not r.ok:
            return False
        checks = ((self.ttft, r.ttft), (self.tpot, r.tpot), (self.e2e, r.e2e))
        return all(bound is None or (value is not None and value <= bound)
                   for bound, value in checks)

    def describe(self) -> str:
        parts = [f"{name} <= {bound * 1e3:g} ms" for name, bound in
                 (("TTFT", self.ttft), ("TPOT", self.tpot), ("e2e", self.e2e)) if bound]
        return " and ".join(parts) or "none"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def distribution(values: Iterable[float | None]) -> dict[str, float]:
    """mean, p50, p90, p99 (and count) in milliseconds; NaN when there are no values."""
    xs = [v for v in values if v is not None]
    out: dict[str, float] = {"count": float(len(xs)),
                             "mean_ms": sum(xs) / len(xs) * 1e3 if xs else math.nan}
    for q in PERCENTILES:
        out[f"p{q}_ms"] = percentile(xs, q) * 1e3
    return out


def summarize(records: Sequence[RequestRecord], *, requested: int, duration: float,
              slo: SLO | None = None) -> dict[str, Any]:
    """The numbers of one run. `duration`: first request sent -> last one done (seconds)."""
    done = [r for r in records if r.ok]
    slo = slo or SLO()
    out_tokens = sum(r.output_tokens for r in done)
    prompt_tokens = sum(r.prompt_tokens for r in done)
    good = sum(slo.met(r) for r in records)
    errors: dict[str, int] = {}
    for r in records:
        if not r.ok:
            errors[r.error or "UNKNOWN"] = errors.get(r.error or "UNKNOWN", 0) + 1
    per_s = 1 / duration if duration > 0 else math.nan
    return {
        "requested": requested,
        "completed": len(done),
        "failed": len(records) - len(done),
        "errors": errors,
        "duration_s": duration,
        "request_throughput": len(done) * per_s,
        "resumes_per_minute": len(done) * per_s * 60,
        "output_token_throughput": out_tokens * per_s,
        "total_token_throughput": (out_tokens + prompt_tokens) * per_s,
        "prompt_tokens": prompt_tokens,
        "output_tokens": out_tokens,
        "cached_prompt_tokens": sum(r.cached_tokens for r in done),
        "ttft": distribution(r.ttft for r in done),
        "tpot": distribution(r.tpot for r in done),
        "itl": distribution(gap for r in done for gap in r.itls()),
        "e2e": distribution(r.e2e for r in done),
        "goodput": {"slo": slo.describe(), "good": good, "requests_per_s": good * per_s,
                    "fraction": good / len(records) if records else math.nan},
    }


def records_to_json(records: Sequence[RequestRecord], t0: float) -> list[dict[str, Any]]:
    """Per-request rows relative to `t0` (for plots and later analysis)."""
    rows = []
    for r in records:
        row = asdict(r)
        row["start"] = r.start - t0
        row["end"] = r.end - t0
        row["first_token"] = None if r.first_token is None else r.first_token - t0
        row["chunk_times"] = [t - t0 for t in r.chunk_times]
        rows.append(row)
    return rows
