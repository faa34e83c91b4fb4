"""The speed summary and the goals of a quality run, on built results: a screener that meets
every goal of issue 14 is reported as such, one that misses some is named for each, and the
report shows every baseline beside screen_v3."""

from __future__ import annotations

import pytest

from benchmarks.quality import dataset, metrics, report, screens


def _batch(jobs: list[dataset.Job], scores: dict[str, float], walls: dict[str, float]
           ) -> screens.BatchRun:
    batch = screens.BatchRun()
    for job in jobs:
        records = {i.id: {"score": scores[i.id], "red_flags": ["injected"] if i.injection else [],
                          "requirements": []} for i in job.items}
        batch.add(job, records, {}, walls[job.id])
    return batch


def test_speed_summary_rates_the_batches_and_keeps_the_cold_screen_apart() -> None:
    jobs = dataset.load(jobs=["backend", "icu_nurse"])
    n = sum(len(j.items) for j in jobs)
    batch = _batch(jobs, {i.id: 1.0 for j in jobs for i in j.items},
                   {"backend": 30.0, "icu_nurse": 90.0})
    cold = [{"item": "backend/r01", "s": 20.0}]
    warm = [{"item": "a", "s": 4.0}, {"item": "b", "s": 2.0}, {"item": "c", "s": 9.0},
            {"item": "d", "s": None, "error": "DEADLINE_EXCEEDED"}]
    speed = screens.speed_summary(batch, cold, warm)
    assert speed["batch_items"] == n and speed["batch_wall_s"] == 120.0
    assert speed["batch_per_min"] == pytest.approx(n / 2)
    backend = len(jobs[0].items)
    assert speed["batch_per_job"]["backend"] == {"items": backend, "wall_s": 30.0,
                                                 "per_min": pytest.approx(backend * 2)}
    assert (speed["screen_median_s"], speed["screen_max_s"], speed["screen_n"]) == (4.0, 9.0, 3)
    assert speed["screen_cold_s"] == 20.0


def _result(scores: dict[str, float], *, screen_s: float, hf_per_min: float) -> dict:
    jobs = dataset.load()
    batch = _batch(jobs, scores, {j.id: 10.0 for j in jobs})
    model = metrics.evaluate(jobs, batch.scores, batch.flags)
    model["evidence"] = {"precision": 0.9, "hits": 9, "n": 10, "job_mean": 0.9, "misses": [],
                         "per_job": {"backend": {"hits": 9, "n": 10, "precision": 0.9,
                                                 "keys_matched": 8, "keys": 8}}}
    speed = screens.speed_summary(batch, [{"item": "backend/r01", "s": 30.0}],
                                  [{"item": "backend/r01", "s": screen_s}])
    speed.update(v1_per_min=1.0, hf_per_min=hf_per_min,
                 hf_ratio=speed["batch_per_min"] / hf_per_min)
    model["speed"] = speed
    hf = {"dtype": "float32", "threads": 1, "resumes": ["backend/r01"], "questions": 8,
          "prompt_tokens": 4000, "per_batch_size": {"1": {"wall_s": 60.0, "per_min": 1.0}},
          "best_batch_size": 1, "per_min": hf_per_min, "max_confidence_diff": 0.001}
    return {"meta": {"model": "m", "date": "2026-12-06", "machine": "2-CPU", "commit": "abc",
                     "threads": {"server": 1, "transformers": 1}, "load_start": [1.0, 1.0, 1.0],
                     "load_end": [2.0, 2.0, 2.0], "wall_s": 600.0, "jobs": [j.id for j in jobs],
                     "subset": None, "argv": "--model m"},
            "model": model, "v1": metrics.evaluate(jobs, {}), "hf": hf,
            "baseline": metrics.evaluate(jobs, {i.id: 50.0 for j in jobs for i in j.items}),
            "items": []}


def _ideal(jobs: list[dataset.Job]) -> dict[str, float]:
    # 10 / 40 / 60 / 90 by grade (stuffers are graded 0-1), the same for every variant
    return {i.id: (10.0, 40.0, 60.0, 90.0)[i.grade] for j in jobs for i in j.items}


def test_a_screener_that_meets_every_goal_is_reported_so() -> None:
    result = _result(_ideal(dataset.load()), screen_s=3.0, hf_per_min=1.0)
    assert all(report.goals(result["model"]).values())
    assert report.verdict(result["model"]) == "all goals met"
    md = report.render(result)
    assert "**screen_v3: all goals met.**" in md
    assert "| screen_v3 | screen_v1 | TF-IDF |" in md  # every baseline beside it
    assert "| backend/r04 | 7 of 10 | yes |" in md  # the backend stuffer (grade 1, at 40)
    assert "ScreenBatch / transformers = " in md and "| backend | 9 / 10 | 0.90 | 8 of 8 |" in md


def test_each_missed_goal_is_named() -> None:
    jobs = dataset.load()
    scores = _ideal(jobs)
    # each stuffer scores 70 (three are graded 0: the grade-0 mean rises past 30), the grade 3s
    # fall to 65; the Screen is slow and transformers fast
    for job in jobs:
        for i in job.items:
            scores[i.id] = 65.0 if i.grade == 3 else scores[i.id]
            if "keyword_stuffer" in i.kinds:
                scores[i.id] = 70.0
    result = _result(scores, screen_s=7.5, hf_per_min=1000.0)
    met = report.goals(result["model"])
    missed = {path for path, ok in met.items() if not ok}
    assert missed == {"mean_score_by_grade.0", "mean_score_by_grade.3", "stuffers.share_below",
                      "spearman", "pairwise_accuracy", "speed.screen_median_s",
                      "speed.hf_ratio"}
    verdict = report.verdict(result["model"])
    assert "mean score, grade 3" in verdict and "Screen, median of warm calls (s)" in verdict
    assert "evidence precision" not in verdict


def test_goals_are_issue_14s_and_a_missing_metric_is_not_met() -> None:
    assert {(path, op, t) for path, _, op, t in report.GOALS} == {
        ("spearman", ">=", 0.85), ("pairwise_accuracy", ">=", 0.92),
        ("mean_score_by_grade.0", "<=", 30), ("mean_score_by_grade.3", ">=", 70),
        ("stuffers.share_below", ">=", 1), ("name_swap_spread.max", "<=", 2),
        ("injection_delta.max_abs", "<=", 2), ("injection_flagged.share", ">=", 1),
        ("evidence.precision", ">=", 0.8), ("speed.screen_median_s", "<=", 6),
        ("speed.batch_per_min", ">=", 15), ("speed.hf_ratio", ">=", 4)}
    assert report.lookup({"a": {"b": None}}, "a.b.c") is None
    assert report.lookup({"a": {}}, "a.b") is None
    assert not report.goals({})["evidence.precision"]
