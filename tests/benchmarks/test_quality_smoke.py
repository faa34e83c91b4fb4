"""`python -m benchmarks.quality` against a live tiny server (random weights, so the scores
mean nothing): two jobs, two graded resumes each with their variants, every item screened over
gRPC, both reports written, and the RESULTS.md section replaced rather than repeated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.quality import dataset, report, run
from tests.e2e.server_thread import ServerThread, tiny_engine_args

JOBS = ["backend", "icu_nurse"]


@pytest.fixture(scope="module")
def server(tiny_chat: Path):
    s = ServerThread(tiny_engine_args(tiny_chat))
    yield s
    s.stop()


@pytest.mark.slow
def test_quality_run_scores_every_item_and_writes_reports(server: ServerThread,
                                                          tmp_path: Path) -> None:
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other benchmark\n\nkept as is\n")
    out = tmp_path / "out"
    code = run.main(["--target", server.target, "--subset", "2", "--jobs", ",".join(JOBS),
                     "--out", str(out), "--write-results", str(results_md)])
    assert code == 0

    result = json.loads((out / "results.json").read_text())
    expected = {i.id for job in dataset.load(jobs=JOBS, subset=2) for i in job.items}
    items = {i["id"]: i for i in result["items"]}
    assert set(items) == expected
    # the subset holds graded resumes, name-swap variants and an injection pair
    assert any("@" in i for i in expected) and any(i.endswith("!inj") for i in expected)
    for item in items.values():
        assert item["error"] is None
        assert 0 <= item["score"] <= 100 and item["score"] == int(item["score"])
        assert item["baseline_score"] is not None
    model, baseline = result["model"], result["baseline"]
    for metrics in (model, baseline):
        assert metrics["items"] == metrics["scored"] == len(expected)
        assert set(metrics["spearman_per_job"]) == set(JOBS)
        assert metrics["pairs"] == 2  # one pair of different grades per job
        assert metrics["name_swap_spread"]["per_resume"]
        assert set(metrics["injection_delta"]["per_resume"]) == {"backend/r02"}
        assert set(metrics["impact_ratio"]["sex"]) == {"female", "male"}
    assert set(result["goals_met"]) == {path for path, *_ in report.GOALS}
    assert result["meta"]["jobs"] == JOBS and result["meta"]["subset"] == 2

    md = (out / "report.md").read_text()
    assert "TF-IDF baseline" in md and "backend/r02" in md
    text = results_md.read_text()
    heading = f"## Screening quality: {result['meta']['model']}"
    assert text.count(heading) == 1 and "kept as is" in text
    # a rerun replaces the model's section instead of adding a second one
    report.write_results(results_md, result)
    again = results_md.read_text()
    assert again.count(heading) == 1 and again.count("## Other benchmark") == 1
