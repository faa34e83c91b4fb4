"""The workload generator: seeded determinism, lengths within their bounds (counted by a real
tokenizer), jobs shared across resumes, both languages; the statistics helpers against numpy."""

from __future__ import annotations

import random
import statistics

import numpy as np
import pytest

from benchmarks.loadgen import LoadShape, arrival_gaps
from benchmarks.stats import RequestRecord, percentile, summarize
from benchmarks.workload import LengthMix, make_workload


@pytest.fixture(scope="module")
def count(smollm2_tokenizer):
    return lambda text: len(smollm2_tokenizer.encode(text))


def test_same_seed_same_workload_other_seed_differs(count) -> None:
    a = make_workload(12, num_jobs=2, seed=3, lengths=LengthMix.uniform(200, 400),
                      count_tokens=count)
    b = make_workload(12, num_jobs=2, seed=3, lengths=LengthMix.uniform(200, 400),
                      count_tokens=count)
    c = make_workload(12, num_jobs=2, seed=4, lengths=LengthMix.uniform(200, 400),
                      count_tokens=count)
    assert [r.text for r in a.resumes] == [r.text for r in b.resumes]
    assert [j.text for j in a.jobs] == [j.text for j in b.jobs] and a.job_of == b.job_of
    assert [r.text for r in a.resumes] != [r.text for r in c.resumes]


def test_uniform_lengths_are_real_token_counts_within_bounds(smollm2_tokenizer, count) -> None:
    wl = make_workload(40, seed=1, lengths=LengthMix.uniform(300, 800), zh_fraction=0.5,
                       count_tokens=count)
    for r in wl.resumes:
        real = len(smollm2_tokenizer.encode(r.text))
        # pieces are counted one by one; joining them moves the count by a few tokens at most
        assert abs(real - r.num_tokens) <= max(10, 0.02 * real)
        assert 300 - 10 <= real <= 800 + 10
    assert {r.language for r in wl.resumes} == {"en", "zh"}
    assert any("\u4e00" <= ch <= "\u9fff" for r in wl.resumes if r.language == "zh"
               for ch in r.text)


def test_jobs_are_shared_by_many_resumes() -> None:
    wl = make_workload(60, num_jobs=3, seed=0, lengths=LengthMix.uniform(50, 80))
    assert sorted(wl.job_of.count(j) for j in range(3)) == [20, 20, 20]
    pairs = list(wl.pairs())
    assert len(pairs) == 60 and {id(job) for job, _ in pairs} == {id(j) for j in wl.jobs}


def test_realistic_mix_distribution() -> None:
    mix = LengthMix(long_fraction=0.05)
    rng = random.Random(0)
    xs = [mix.sample(rng) for _ in range(20_000)]
    assert min(xs) >= 500 and max(xs) <= 128_000
    body = sum(500 <= x <= 3_000 for x in xs) / len(xs)
    long = sum(x >= 64_000 for x in xs) / len(xs)
    tail = sum(3_000 < x <= 32_000 for x in xs) / len(xs)
    assert 0.82 < body < 0.88 and 0.04 < long < 0.06 and 0.08 < tail < 0.12
    assert not any(32_000 < x < 64_000 for x in xs)
    no_long = [LengthMix().sample(rng) for _ in range(2_000)]
    assert max(no_long) <= 32_000


def test_long_resumes_reach_their_length(count) -> None:
    mix = LengthMix(body_min=70_000, body_max=70_000, tail_fraction=0, tail_max=70_000)
    (resume,) = make_workload(1, seed=5, lengths=mix, count_tokens=count).resumes
    assert 69_500 <= count(resume.text) <= 70_500


def test_percentile_matches_numpy() -> None:
    rng = random.Random(2)
    xs = [rng.expovariate(1.0) for _ in range(101)]
    for q in (0, 50, 90, 99, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_summary_counts_failures_and_goodput() -> None:
    ok = [RequestRecord(start=0.0, end=1.0 + i, ok=True, first_token=0.5, output_tokens=3,
                        chunk_times=[0.5, 0.75, 1.0 + i]) for i in range(3)]
    bad = RequestRecord(start=0.0, end=0.1, error="UNAVAILABLE")
    from benchmarks.stats import SLO

    s = summarize([*ok, bad], requested=4, duration=4.0, slo=SLO(e2e=2.5))
    assert (s["completed"], s["failed"], s["errors"]) == (3, 1, {"UNAVAILABLE": 1})
    assert s["request_throughput"] == 0.75 and s["output_token_throughput"] == 9 / 4
    assert s["goodput"]["good"] == 2  # e2e 1 s and 2 s meet 2.5 s; 3 s does not
    assert s["tpot"]["mean_ms"] == pytest.approx(statistics.mean([250, 750, 1250]))
    assert s["itl"]["count"] == 6


def test_poisson_and_gamma_gaps_have_the_rate() -> None:
    for shape in (LoadShape(rate=4.0), LoadShape(rate=4.0, arrival="gamma", burstiness=0.25)):
        gaps = [g for g, _ in zip(arrival_gaps(shape), range(20_000), strict=False)]
        assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.05)
        cv = statistics.stdev(gaps) / statistics.mean(gaps)
        assert cv == pytest.approx(1 / shape.burstiness**0.5, rel=0.1)
