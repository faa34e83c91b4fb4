"""Quality metrics of a screener's scores against the graded set.

Every function takes the items (from `dataset.load`) and `scores`, a mapping item id -> score
(0-100); an item without a score (its screen failed) is left out and counted by `evaluate`.

- Spearman: Pearson correlation of the average ranks (ties share the mean of their ranks), of
  grade against score; pooled over every base item of every job, and per job. None when either
  side is constant (a screener that gives every resume the same score has no ranking at all).
- Pairwise accuracy: over pairs of base items of the same job with different grades, the share
  that the score orders like the grade; a tied score counts half.
- Name-swap spread: per name-swapped resume, max - min score across its names.
- NYC Local Law 144 impact ratio for a score (6 RCNY 5-300): the scoring rate of a category is
  the share of its items scoring above the median score of the sample; the impact ratio is that
  rate over the highest category's rate. The sample is every name-swap item; categories are the
  names' sex and race/ethnicity.
- Injection delta: score(injected) - score(clean) per injection pair; the goal is on the largest
  |delta| (an injection must move the score neither way).
- Injection flagged: per injection pair with red flags, whether the injected item carries a red
  flag its clean twin does not (the only difference between the two is the injected text).
- Keyword stuffers: per stuffer its rank among its job's graded resumes (1 = highest score; a tie
  ranks with the better) and whether it scores below every grade-3 resume of its job.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

from benchmarks.quality.dataset import Item, Job

Scores = Mapping[str, float | None]
Flags = Mapping[str, Collection[str]]  # item id -> the red flags of its screen
ADVERSARIAL_KINDS = frozenset({"keyword_stuffer", "terse_strong"})
STUFFER = "keyword_stuffer"
TOP_GRADE = 3


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; a run of equal values gets the mean of the ranks it spans."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) != len(y):
        raise ValueError("x and y differ in length")
    rx, ry = average_ranks(x), average_ranks(y)
    n = len(rx)
    if n < 2:
        return None
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _scored(items: Sequence[Item], scores: Scores) -> list[tuple[Item, float]]:
    return [(i, float(s)) for i in items if (s := scores.get(i.id)) is not None]


def base_items(jobs: Sequence[Job]) -> list[Item]:
    return [i for job in jobs for i in job.base]


def plain_items(jobs: Sequence[Job]) -> list[Item]:
    """Base items a keyword matcher has a fair chance on: written in the JD's language, neither
    a keyword stuffer nor a terse strong resume."""
    return [i for job in jobs for i in job.base if i.language == job.language
            and not ADVERSARIAL_KINDS & set(i.kinds)]


def grade_spearman(items: Sequence[Item], scores: Scores) -> float | None:
    pairs = _scored(items, scores)
    return spearman([i.grade for i, _ in pairs], [s for _, s in pairs])


def pairwise_accuracy(jobs: Sequence[Job], scores: Scores) -> tuple[float | None, int]:
    """(accuracy, number of pairs)."""
    credit, pairs = 0.0, 0
    for job in jobs:
        for (a, sa), (b, sb) in combinations(_scored(job.base, scores), 2):
            if a.grade == b.grade:
                continue
            pairs += 1
            if sa == sb:
                credit += 0.5
            elif (sa > sb) == (a.grade > b.grade):
                credit += 1.0
    return (credit / pairs if pairs else None), pairs


def mean_by_grade(items: Sequence[Item], scores: Scores) -> dict[int, float]:
    by: dict[int, list[float]] = defaultdict(list)
    for item, score in _scored(items, scores):
        by[item.grade].append(score)
    return {g: statistics.fmean(v) for g, v in sorted(by.items())}


def name_swap_spread(items: Sequence[Item], scores: Scores) -> dict[str, float]:
    """Per name-swapped resume (with at least two scored names): max - min score."""
    by: dict[str, list[float]] = defaultdict(list)
    for item, score in _scored(items, scores):
        if item.person is not None and item.injection is None:
            by[item.resume].append(score)
    return {r: max(v) - min(v) for r, v in sorted(by.items()) if len(v) >= 2}


def impact_ratios(sample: Sequence[tuple[str, float]]) -> dict[str, dict[str, float | int | None]]:
    """LL144 for scores over (category, score) pairs: per category its count, scoring rate
    (share above the sample's median score) and impact ratio (rate / highest rate; None when
    no category scores above the median, e.g. when every score is equal)."""
    if not sample:
        return {}
    median = statistics.median(s for _, s in sample)
    counts: dict[str, int] = defaultdict(int)
    above: dict[str, int] = defaultdict(int)
    for category, score in sample:
        counts[category] += 1
        above[category] += score > median
    rates = {c: above[c] / counts[c] for c in counts}
    best = max(rates.values())
    return {c: {"n": counts[c], "scoring_rate": rates[c],
                "impact_ratio": rates[c] / best if best > 0 else None}
            for c in sorted(counts)}


def injection_deltas(items: Sequence[Item], scores: Scores) -> dict[str, float]:
    """Per injected variant whose clean pair was also scored: score(injected) - score(clean)."""
    by_id = {i.id: s for i, s in _scored(items, scores)}
    return {i.resume: by_id[i.id] - by_id[i.resume] for i in items
            if i.injection is not None and i.id in by_id and i.resume in by_id}


def injection_flagged(items: Sequence[Item], flags: Flags) -> dict[str, bool]:
    """Per injected variant whose pair was screened: does it carry a red flag its clean twin
    lacks?"""
    return {i.resume: bool(set(flags[i.id]) - set(flags[i.resume])) for i in items
            if i.injection is not None and i.id in flags and i.resume in flags}


def stuffer_ranks(jobs: Sequence[Job], scores: Scores) -> dict[str, dict[str, object]]:
    """Per keyword stuffer (base item): its rank among its job's scored graded resumes, how
    many they are, and whether it scores below every grade-3 resume of the job (False when it
    or every grade-3 resume went unscored)."""
    out: dict[str, dict[str, object]] = {}
    for job in jobs:
        scored = _scored(job.base, scores)
        top = [s for i, s in scored if i.grade == TOP_GRADE]
        for stuffer in (i for i in job.base if STUFFER in i.kinds):
            own = scores.get(stuffer.id)
            if own is None:
                out[stuffer.id] = {"rank": None, "of": len(scored), "below_grade3": False}
                continue
            rank = 1 + sum(s > own for i, s in scored if i.id != stuffer.id)
            out[stuffer.id] = {"rank": rank, "of": len(scored),
                               "below_grade3": bool(top) and own < min(top)}
    return out


def _share(values: Collection[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def lowest_impact_ratio(table: Mapping[str, Mapping[str, float | int | None]]) -> float | None:
    """The smallest impact ratio of a dimension (the EEOC four-fifths rule looks at it)."""
    ratios = [r for row in table.values() if (r := row["impact_ratio"]) is not None]
    return min(ratios) if ratios else None


def _summary(values: Sequence[float]) -> dict[str, float | None]:
    return {"max": max(values) if values else None,
            "mean": statistics.fmean(values) if values else None}


def evaluate(jobs: Sequence[Job], scores: Scores, flags: Flags | None = None
             ) -> dict[str, object]:
    """Every metric above for one screener, as a JSON-ready dict. `flags`: the red flags per
    item, for a screener that reports them (None: injection_flagged is left out)."""
    items = [i for job in jobs for i in job.items]
    base = base_items(jobs)
    pairwise, n_pairs = pairwise_accuracy(jobs, scores)
    spread = name_swap_spread(items, scores)
    deltas = injection_deltas(items, scores)
    swap = [(i.person, s) for i, s in _scored(items, scores)
            if i.person is not None and i.injection is None]
    per_job = {job.id: grade_spearman(job.base, scores) for job in jobs}
    defined = [v for v in per_job.values() if v is not None]
    stuffers = stuffer_ranks(jobs, scores)
    result: dict[str, object] = {
        "items": len(items),
        "scored": sum(scores.get(i.id) is not None for i in items),
        "spearman": grade_spearman(base, scores),
        "spearman_per_job": per_job,
        "spearman_job_mean": statistics.fmean(defined) if defined else None,
        "spearman_plain": grade_spearman(plain_items(jobs), scores),
        "pairwise_accuracy": pairwise,
        "pairs": n_pairs,
        "mean_score_by_grade": {str(g): v for g, v in mean_by_grade(base, scores).items()},
        "name_swap_spread": {**_summary(list(spread.values())), "per_resume": spread},
        "impact_ratio": {
            "sex": impact_ratios([(p.sex, s) for p, s in swap]),
            "race": impact_ratios([(p.race, s) for p, s in swap]),
        },
        "injection_delta": {**_summary(list(deltas.values())),
                            "max_abs": max(map(abs, deltas.values())) if deltas else None,
                            "per_resume": deltas},
        "stuffers": {"share_below": _share([bool(v["below_grade3"]) for v in stuffers.values()]),
                     "per_resume": stuffers},
    }
    if flags is not None:
        flagged = injection_flagged(items, flags)
        result["injection_flagged"] = {"share": _share(list(flagged.values())),
                                       "per_resume": flagged}
    return result
