"""The load generator against a live server subprocess (tiny random Llama): a few requests,
closed and open loop, and the report's fields checked against what was asked for."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import serve
from benchmarks.servers import ServerProcess

MAX_TOKENS = 6
NUM_RESUMES = 4


@pytest.fixture(scope="module")
def server(tiny_chat: Path):
    with ServerProcess(["--model", str(tiny_chat), "--max-num-seqs", "8"],
                       startup_timeout=120) as s:
        yield s


def _run(server: ServerProcess, tiny_chat: Path, out: Path, *extra: str) -> dict:
    code = serve.main([
        "--target", server.target, "--metrics-url", server.metrics_url,
        "--model", str(tiny_chat), "--num-resumes", str(NUM_RESUMES),
        "--resume-tokens", "40", "90", "--job-tokens", "60", "60", "--zh-fraction", "0.5",
        "--max-tokens", str(MAX_TOKENS), "--warmup", "1", "--no-progress",
        "--out", str(out), *extra,
    ])
    assert code == 0
    return json.loads((out / "results.json").read_text())


def _check_run(run: dict, *, streamed: bool) -> None:
    assert run["requested"] == run["completed"] == NUM_RESUMES
    assert run["failed"] == 0 and run["errors"] == {}
    # ignore_eos + max_tokens: every request generates exactly MAX_TOKENS tokens
    assert run["output_tokens"] == NUM_RESUMES * MAX_TOKENS
    assert run["duration_s"] > 0
    assert math.isclose(run["request_throughput"], NUM_RESUMES / run["duration_s"])
    assert math.isclose(run["output_token_throughput"],
                        NUM_RESUMES * MAX_TOKENS / run["duration_s"])
    e2e, ttft, tpot = run["e2e"], run["ttft"], run["tpot"]
    assert e2e["count"] == NUM_RESUMES
    assert 0 < e2e["p50_ms"] <= e2e["p90_ms"] <= e2e["p99_ms"]
    # no request can take longer than the whole run
    assert e2e["p99_ms"] <= run["duration_s"] * 1e3 + 1
    if streamed:
        assert ttft["count"] == NUM_RESUMES and tpot["count"] == NUM_RESUMES
        assert 0 < ttft["p50_ms"] <= ttft["p99_ms"]
        assert ttft["mean_ms"] < e2e["mean_ms"]
        assert tpot["mean_ms"] > 0 and run["itl"]["count"] > 0
        # TTFT + (n - 1) * TPOT is the end to end of each request, so also of the means
        assert math.isclose(ttft["mean_ms"] + (MAX_TOKENS - 1) * tpot["mean_ms"],
                            e2e["mean_ms"], rel_tol=1e-6)
    assert 0 <= run["goodput"]["good"] <= run["completed"]


def test_closed_loop_report(server: ServerProcess, tiny_chat: Path, tmp_path: Path) -> None:
    report = _run(server, tiny_chat, tmp_path, "--concurrency", "1", "2")
    runs = report["runs"]
    assert [r["label"] for r in runs] == ["c=1", "c=2"]
    for run in runs:
        _check_run(run, streamed=True)
        # every prompt starts with the system prompt and the one job description: the cache
        # serves a real share of the prompt tokens, and the server's counters say so
        cache = run["prefix_cache"]
        assert cache["source"] == "metrics"
        usage_rate = run["cached_prompt_tokens"] / run["prompt_tokens"]
        assert 0.2 < cache["hit_rate"] < 1 and 0.2 < usage_rate < 1
    for name in ("results.md", "latency_cdf.png", "throughput.png"):
        assert (tmp_path / name).stat().st_size > 0
    table = (tmp_path / "results.md").read_text().splitlines()
    assert len(table) == 2 + len(runs) and "TTFT" in table[0]


def test_open_loop_gamma_arrivals(server: ServerProcess, tiny_chat: Path,
                                    tmp_path: Path) -> None:
    report = _run(server, tiny_chat, tmp_path / "open", "--rate", "50", "--arrival", "gamma",
                  "--burstiness", "0.5", "--no-plots")
    (run,) = report["runs"]
    assert run["load"].startswith("open loop, gamma")
    _check_run(run, streamed=True)
