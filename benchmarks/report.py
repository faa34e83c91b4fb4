"""A run's results as JSON, a Markdown table and PNG plots (matplotlib, imported only here)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    ("run", lambda r: r["label"]),
    ("done / req", lambda r: f"{r['completed']}/{r['requested']}"),
    ("failed", lambda r: str(r["failed"])),
    ("req/s", lambda r: _f(r["request_throughput"], 3)),
    ("resumes/min", lambda r: _f(r["resumes_per_minute"], 1)),
    ("out tok/s", lambda r: _f(r["output_token_throughput"], 1)),
    ("TTFT mean / p50 / p90 / p99 (ms)", lambda r: _dist(r["ttft"])),
    ("TPOT mean / p50 / p90 / p99 (ms)", lambda r: _dist(r["tpot"])),
    ("ITL mean / p50 / p90 / p99 (ms)", lambda r: _dist(r["itl"])),
    ("e2e mean / p50 / p90 / p99 (ms)", lambda r: _dist(r["e2e"])),
    ("goodput (req/s)", lambda r: _f(r["goodput"]["requests_per_s"], 3)),
    ("prefix hit", lambda r: _hit(r.get("prefix_cache"))),
)


def _f(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _dist(d: dict[str, float]) -> str:
    if not d.get("count"):
        return "-"
    return " / ".join(_f(d[k]) for k in ("mean_ms", "p50_ms", "p90_ms", "p99_ms"))


def _hit(p: dict[str, Any] | None) -> str:
    if not p or p.get("hit_rate") is None:
        return "-"
    return f"{p['hit_rate']:.0%} ({p['source']})"


def markdown_table(runs: Sequence[dict[str, Any]]) -> str:
    head = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    rule = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    rows = ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in runs]
    return "\n".join([head, rule, *rows])


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    return str(x)


def plot_latency_cdfs(runs: Sequence[dict[str, Any]], path: Path) -> Path:
    """One panel per metric (TTFT, ITL, e2e), one curve per run; x in seconds, log scale."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    metrics = (("ttft", "time to first token"), ("itl", "inter-token latency"),
               ("e2e", "end-to-end latency"))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4))
    for ax, (key, title) in zip(axes, metrics, strict=True):
        for run in runs:
            xs = sorted(run["samples"].get(key, []))
            if not xs:
                continue
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=run["label"])
        ax.set_title(title)
        ax.set_xlabel("seconds")
        ax.set_ylabel("fraction of requests" if key != "itl" else "fraction of gaps")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labels on decades only
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_throughput(series: dict[str, list[tuple[int, float]]], path: Path, *,
                    xlabel: str = "concurrency (requests in flight / static batch size)",
                    ylabel: str = "resumes per minute") -> Path:
    """One line per system: (concurrency or batch size, throughput) points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in series.items():
        pts = sorted(points)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
