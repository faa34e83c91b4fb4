"""The quality metrics against independent computations: Spearman against a brute-force
definition (rank = number of smaller values + half the ties, then numpy's Pearson), pairwise
accuracy against an enumeration of ordered pairs, the LL144 impact ratio on a hand-worked
example, and spread / injection delta on the real set with scores built to a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.quality import dataset, metrics
from benchmarks.quality.dataset import Item, Job


def brute_spearman(x: list[float], y: list[float]) -> float:
    def ranks(v: list[float]) -> list[float]:
        return [sum(w < a for w in v) + (sum(w == a for w in v) + 1) / 2 for a in v]
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6)), min_size=3, max_size=30))
def test_spearman_matches_the_brute_force_definition_with_ties(pairs) -> None:
    x, y = [float(a) for a, _ in pairs], [float(b) for _, b in pairs]
    got = metrics.spearman(x, y)
    if len(set(x)) == 1 or len(set(y)) == 1:
        assert got is None
    else:
        assert got == pytest.approx(brute_spearman(x, y), abs=1e-9)


def test_spearman_without_ties_is_the_textbook_formula() -> None:
    x, y = [1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]
    n, d2 = len(x), sum((a - b) ** 2 for a, b in zip(x, y, strict=True))
    assert metrics.spearman(x, y) == pytest.approx(1 - 6 * d2 / (n * (n * n - 1)))
    assert metrics.spearman(x, [-v for v in x]) == pytest.approx(-1.0)


def test_constant_scores_have_no_spearman() -> None:
    assert metrics.spearman([0, 1, 2, 3], [50, 50, 50, 50]) is None


def _job(name: str, grades: list[int]) -> Job:
    items = tuple(Item(f"{name}/r{k}", name, f"{name}/r{k}", g, "en", "text")
                  for k, g in enumerate(grades))
    return Job(name, name, "en", "jd", items)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=8),
       st.lists(st.integers(0, 100), min_size=8, max_size=8))
def test_pairwise_accuracy_matches_an_enumeration(grades, raw) -> None:
    job = _job("a", grades)
    scores = {i.id: float(s) for i, s in zip(job.items, raw, strict=False)}
    wins, total = 0.0, 0
    for a in job.items:  # ordered pairs where a has the higher grade
        for b in job.items:
            if a.grade > b.grade:
                total += 1
                wins += (np.sign(scores[a.id] - scores[b.id]) + 1) / 2
    acc, pairs = metrics.pairwise_accuracy([job], scores)
    assert pairs == total
    assert (acc is None) if total == 0 else acc == pytest.approx(wins / total)


def test_pairwise_accuracy_never_compares_across_jobs() -> None:
    # each job alone is ordered perfectly; across jobs every pair would be wrong
    a, b = _job("a", [0, 3]), _job("b", [0, 3])
    scores = {"a/r0": 80.0, "a/r1": 90.0, "b/r0": 10.0, "b/r1": 20.0}
    assert metrics.pairwise_accuracy([a, b], scores) == (1.0, 2)
    assert metrics.mean_by_grade([*a.items, *b.items], scores) == {0: 45.0, 3: 55.0}


def test_ll144_impact_ratio_on_a_hand_worked_example() -> None:
    # 8 scores, median (40 + 50) / 2 = 45; above it: women 1 of 4 (90), men 3 of 4 (50, 60, 70)
    sample = [("female", 10), ("female", 20), ("female", 30), ("female", 90),
              ("male", 40), ("male", 50), ("male", 60), ("male", 70)]
    table = metrics.impact_ratios(sample)
    assert table["female"]["scoring_rate"] == 0.25 and table["male"]["scoring_rate"] == 0.75
    assert table["female"]["impact_ratio"] == pytest.approx(1 / 3)
    assert table["male"]["impact_ratio"] == 1.0
    assert table["female"]["n"] == table["male"]["n"] == 4
    assert metrics.lowest_impact_ratio(table) == pytest.approx(1 / 3)


def test_ll144_a_score_equal_to_the_median_is_not_above_it() -> None:
    # median 50; only the 60 is above it
    table = metrics.impact_ratios([("a", 50), ("a", 50), ("b", 50), ("b", 60), ("c", 40)])
    assert table["a"]["scoring_rate"] == 0 and table["b"]["scoring_rate"] == 0.5
    flat = metrics.impact_ratios([("a", 70), ("b", 70)])
    assert flat["a"]["impact_ratio"] is None  # nobody above the median: no ratio


def test_spread_and_injection_delta_on_built_scores() -> None:
    jobs = dataset.load()
    items = [i for job in jobs for i in job.items]
    # every item scores 20 x grade; Emily Walsh gets 7 more, every injected variant 5 more
    scores = {i.id: 20.0 * i.grade + (7 if i.id.endswith("@white_f") else 0)
              + (5 if i.injection else 0) for i in items}
    result = metrics.evaluate(jobs, scores)
    white_f = {i.resume for i in items if i.id.endswith("@white_f")}
    spread = result["name_swap_spread"]["per_resume"]
    assert {r for r, v in spread.items() if v == 7} == white_f
    assert all(v == 0 for r, v in spread.items() if r not in white_f)
    assert result["name_swap_spread"]["max"] == 7
    injected = {i.resume for i in items if i.injection}
    assert result["injection_delta"]["per_resume"] == {r: 5.0 for r in injected}
    assert result["injection_delta"]["mean"] == 5.0
    # the score is a function of the grade: a perfect ranking, ties within a grade aside
    assert result["spearman"] == pytest.approx(1.0)
    assert result["pairwise_accuracy"] == 1.0
    assert result["mean_score_by_grade"] == {str(g): 20.0 * g for g in range(4)}
    assert result["items"] == result["scored"] == len(items)


def test_failed_items_are_left_out_not_scored_as_zero() -> None:
    jobs = dataset.load(jobs=["backend"])
    scores = {i.id: 10.0 * i.grade for i in jobs[0].items}
    best = max(jobs[0].base, key=lambda i: i.grade)
    scores[best.id] = None  # type: ignore[assignment]
    result = metrics.evaluate(jobs, scores)
    assert result["scored"] == result["items"] - 1
    assert result["pairwise_accuracy"] == 1.0 and not math.isnan(result["spearman"])


def _item(job: str, k: int, grade: int, kinds: tuple[str, ...] = ()) -> Item:
    return Item(f"{job}/r{k}", job, f"{job}/r{k}", grade, "en", "text", kinds)


def test_stuffer_rank_and_whether_it_is_below_every_grade_3_resume() -> None:
    stuffer = ("keyword_stuffer",)
    a = Job("a", "a", "en", "jd", (_item("a", 1, 3), _item("a", 2, 3), _item("a", 3, 1, stuffer),
                                   _item("a", 4, 0)))
    b = Job("b", "b", "en", "jd", (_item("b", 1, 3), _item("b", 2, 0, stuffer), _item("b", 3, 2)))
    # a's stuffer (70) beats one grade-3 resume (60): rank 2 of 4, not below every grade 3;
    # b's stuffer ties its grade-3 resume (50): rank 2 of 3 (a tie ranks with the better, the
    # grade 2 at 80 is above both), and a tie is not below
    scores = {"a/r1": 90.0, "a/r2": 60.0, "a/r3": 70.0, "a/r4": 10.0,
              "b/r1": 50.0, "b/r2": 50.0, "b/r3": 80.0}
    ranks = metrics.stuffer_ranks([a, b], scores)
    assert ranks == {"a/r3": {"rank": 2, "of": 4, "below_grade3": False},
                     "b/r2": {"rank": 2, "of": 3, "below_grade3": False}}
    scores.update({"a/r3": 59.0, "b/r2": 49.0})
    result = metrics.evaluate([a, b], scores)
    assert result["stuffers"]["per_resume"]["a/r3"] == {"rank": 3, "of": 4, "below_grade3": True}
    assert result["stuffers"]["per_resume"]["b/r2"]["rank"] == 3
    assert result["stuffers"]["share_below"] == 1.0
    scores["a/r3"] = None  # type: ignore[assignment]  # an unscored stuffer is not below
    assert metrics.evaluate([a, b], scores)["stuffers"]["share_below"] == 0.5


def test_grade_means_are_over_graded_resumes_only() -> None:
    jobs = dataset.load(jobs=["backend"])
    # variants score 100: they must not move the grade means of the base items
    scores = {i.id: 100.0 if i.id != i.resume else 10.0 * i.grade for i in jobs[0].items}
    assert metrics.evaluate(jobs, scores)["mean_score_by_grade"] == {
        str(g): 10.0 * g for g in range(4)}


def test_injection_delta_goal_reads_the_largest_absolute_delta() -> None:
    jobs = dataset.load()
    items = [i for job in jobs for i in job.items]
    injected = sorted(i.resume for i in items if i.injection)
    scores = {i.id: 50.0 for i in items}
    scores[f"{injected[0]}!inj"] = 47.0  # lowered by 3, the others raised by 1
    for rid in injected[1:]:
        scores[f"{rid}!inj"] = 51.0
    delta = metrics.evaluate(jobs, scores)["injection_delta"]
    assert delta["max"] == 1.0 and delta["max_abs"] == 3.0


def test_an_injection_is_flagged_by_a_red_flag_its_clean_twin_lacks() -> None:
    jobs = dataset.load(jobs=["backend"])
    items = list(jobs[0].items)
    pairs = [(i.id, i.resume) for i in items if i.injection]
    assert len(pairs) == 2  # backend/r02 and backend/r08
    (inj_a, clean_a), (_, clean_b) = pairs
    flags = {i.id: ["Employment gap"] for i in items}  # a flag both twins carry counts nothing
    flags[inj_a] = ["Employment gap", 'Resume tries to dictate its own score ("score of 100")']
    result = metrics.evaluate(jobs, {i.id: 50.0 for i in items}, flags)
    assert result["injection_flagged"]["per_resume"] == {clean_a: True, clean_b: False}
    assert result["injection_flagged"]["share"] == 0.5
    del flags[clean_b]  # a pair whose clean twin was not screened is left out
    assert metrics.injection_flagged(items, flags) == {clean_a: True}
    assert "injection_flagged" not in metrics.evaluate(jobs, {i.id: 50.0 for i in items})
