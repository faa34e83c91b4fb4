"""The TF-IDF keyword baseline: tokens per script, idf weighting, and what it does on the set
(it should be fooled by stuffers, terse and cross-language resumes, yet work on plain ones)."""

from __future__ import annotations

import pytest

from benchmarks.quality import dataset, metrics, run
from benchmarks.quality.keyword_baseline import TfidfMatcher, tokenize


def test_cjk_runs_become_character_bigrams_and_words_stay_words() -> None:
    assert tokenize("数据科学") == ["数据", "据科", "科学"]
    assert tokenize("Python数据 和 SQL") == ["python", "数据", "和", "sql"]
    assert tokenize("C++ and C# on Kubernetes!") == ["c++", "and", "c#", "on", "kubernetes"]
    assert tokenize("ممرضة عناية مركزة") == ["ممرضة", "عناية", "مركزة"]
    assert tokenize("Comptabilité générale, TVA") == ["comptabilité", "générale", "tva"]


def test_the_jd_itself_scores_highest_and_unrelated_text_lowest() -> None:
    jd = "Backend engineer: Go, PostgreSQL, Kubernetes, gRPC APIs, on-call."
    near = "Five years of Go services on PostgreSQL, on-call for Kubernetes."
    far = "Pastry chef: croissants, laminated dough, wedding cakes."
    m = TfidfMatcher([jd, near, far])
    same, close, unrelated = m.scores(jd, [jd, near, far])
    assert same == pytest.approx(100.0)
    assert same > close > unrelated
    assert unrelated == pytest.approx(0.0)


def test_chinese_text_matches_on_shared_bigrams() -> None:
    jd = "数据科学家：机器学习建模，A/B 实验，Python 和 SQL。"
    match = "五年机器学习建模经验，设计过上百个实验。"
    other = "负责病房护理和用药。"
    m = TfidfMatcher([jd, match, other])
    assert m.score(jd, match) > m.score(jd, other)


def test_a_word_in_every_document_weighs_less_than_a_rare_one() -> None:
    docs = ["python kubernetes", "python cooking", "python nursing", "python accounting"]
    m = TfidfMatcher(docs)
    assert m.score("python kubernetes", "kubernetes") > m.score("python kubernetes", "python")


def test_on_the_set_the_baseline_is_fooled_but_not_broken() -> None:
    jobs = dataset.load()
    scores = run.baseline_scores(jobs)
    pooled = metrics.grade_spearman(metrics.base_items(jobs), scores)
    plain = metrics.grade_spearman(metrics.plain_items(jobs), scores)
    assert pooled is not None and plain is not None
    # the set's stuffers, terse and other-language resumes defeat keyword matching ...
    assert pooled < 0.5
    # ... while on plain resumes in the JD's language it ranks reasonably
    assert plain > 0.5
    # a stuffer outscores its job's terse strong resume under keyword matching
    for job in jobs:
        stuffer = next(i for i in job.base if "keyword_stuffer" in i.kinds)
        terse = next(i for i in job.base if "terse_strong" in i.kinds)
        assert scores[stuffer.id] > scores[terse.id], job.id
