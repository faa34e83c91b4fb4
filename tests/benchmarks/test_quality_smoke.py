"""`python -m benchmarks.quality` against a live tiny server (random weights, so the scores
mean nothing): two jobs, two graded resumes each with their variants, every item screened over
gRPC, the speed passes timed, evidence matched to the server's rubric, both reports written and
the RESULTS.md section replaced rather than repeated. Also: one screen_v1 baseline item through
Generate with its schema, and the transformers baseline scoring the very questions the server
asked (its confidences equal the server's)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks.quality import dataset, report, run
from benchmarks.quality.v1 import run_v1
from tests.e2e.server_thread import ServerThread, tiny_engine_args

JOBS = ["backend", "icu_nurse"]
# Two keys of the backend JD's requirement lines; r01's lines that show them.
LABELS = {"jobs": {"backend": {
    "requirements": ["PostgreSQL in depth", "REST or gRPC APIs"],
    "resumes": {"r01": {"PostgreSQL in depth": ["Redesigned the ledger schema"],
                        "REST or gRPC APIs": ["Designed the gRPC API"]}}}}}
SCREEN_V3 = importlib.util.find_spec("hireserve.server.screening") is not None


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
    labels = tmp_path / "evidence.json"
    labels.write_text(json.dumps(LABELS))
    out = tmp_path / "out"
    code = run.main(["--target", server.target, "--subset", "2", "--jobs", ",".join(JOBS),
                     "--single", "2", "--no-v1", "--no-hf", "--evidence", str(labels),
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
        assert item["screen"]["requirements"], "the server's rubric is kept per item"
    model, baseline = result["model"], result["baseline"]
    for metrics in (model, baseline):
        assert metrics["items"] == metrics["scored"] == len(expected)
        assert set(metrics["spearman_per_job"]) == set(JOBS)
        assert metrics["pairs"] == 2  # one pair of different grades per job
        assert metrics["name_swap_spread"]["per_resume"]
        assert set(metrics["injection_delta"]["per_resume"]) == {"backend/r02"}
        assert set(metrics["impact_ratio"]["sex"]) == {"female", "male"}
    # the injection detector runs on the server whatever the model: the pair is flagged
    assert model["injection_flagged"]["per_resume"] == {"backend/r02": True}
    assert "injection_flagged" not in baseline
    assert result["v1"] is None and result["hf"] is None
    assert set(result["goals_met"]) == {path for path, *_ in report.GOALS}
    assert result["meta"]["jobs"] == JOBS and result["meta"]["subset"] == 2
    assert len(result["meta"]["load_start"]) == len(result["meta"]["load_end"]) == 3

    # the labelled keys are found in the server's requirement lines
    ev = model["evidence"]
    assert ev["per_job"]["backend"]["keys_matched"] == 2 and "icu_nurse" not in ev["per_job"]
    assert ev["hits"] + len(ev["misses"]) == ev["n"] <= 2

    speed = model["speed"]
    # Throughput comes from the uncached speed pass: the graded resumes only, not the variants.
    graded = {i for i in expected if "@" not in i and "!" not in i}
    assert speed["batch_items"] == len(graded) and speed["batch_per_min"] > 0
    assert set(speed["batch_per_job"]) == set(JOBS)
    assert [c["item"] for c in speed["screens"]["cold"]] == ["backend/r01"]
    assert [c["item"] for c in speed["screens"]["warm"]] == ["backend/r01", "backend/r02"]
    assert speed["screen_n"] == 2 and 0 < speed["screen_median_s"] <= speed["screen_max_s"]
    assert speed["hf_ratio"] is None

    md = (out / "report.md").read_text()
    assert "TF-IDF" in md and "backend/r02" in md and "## Speed" in md
    text = results_md.read_text()
    heading = f"## Screening quality: {result['meta']['model']}"
    assert text.count(heading) == 1 and "kept as is" in text
    # a rerun replaces the model's section instead of adding a second one
    report.write_results(results_md, result)
    again = results_md.read_text()
    assert again.count(heading) == 1 and again.count("## Other benchmark") == 1


@pytest.mark.slow
def test_screen_v1_baseline_through_generate(server: ServerThread) -> None:
    from hireserve.clients.client import HireClient

    job = dataset.load(jobs=["backend"], subset=1)[0]
    job = dataclasses.replace(job, items=job.items[:1])
    with HireClient(server.target) as client:
        info = client.model_info()
        v1 = run_v1(client, [job], context_length=info.context_length, concurrency=1,
                    temperature=0.0, timeout=300)
    outcome = v1.outcomes["backend/r01"]
    assert outcome.error is None
    assert 0 <= outcome.score <= 100  # parsed from the schema-constrained JSON
    assert outcome.prompt_tokens > 500 and outcome.generated_tokens > 0
    assert v1.scores == {"backend/r01": float(outcome.score)} and v1.per_minute() > 0


@pytest.mark.slow
@pytest.mark.skipif(not SCREEN_V3, reason="the screen_v3 pipeline is not in this tree")
def test_transformers_scores_the_questions_the_server_asked(server: ServerThread,
                                                            tiny_chat: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    run.main(["--target", server.target, "--subset", "1", "--jobs", "backend", "--single", "0",
              "--no-v1", "--hf-model", str(tiny_chat), "--hf-items", "2",
              "--hf-batch-sizes", "1,4", "--out", str(out)])
    result = json.loads((out / "results.json").read_text())
    hf = result["hf"]
    assert "error" not in hf, hf.get("error")
    assert hf["resumes"] == ["backend/r01"] and hf["questions"] > 1
    assert set(hf["per_batch_size"]) == {"1", "4"} and hf["per_min"] > 0
    # the same prompts, fp32 on both sides: the server's confidences come back
    assert hf["max_confidence_diff"] < 1e-3
    assert result["model"]["speed"]["hf_ratio"] > 0
