"""Evidence precision on small hand-made inputs (what counts, what is a hit, what is left out),
and the labels file itself against the set: every key is in its job description, every labelled
piece is in its resume."""

from __future__ import annotations

import pytest

from benchmarks.quality import dataset, evidence
from benchmarks.quality.dataset import Item, Job

LABELS = evidence.EvidenceLabels.from_dict({"jobs": {
    "be": {"requirements": ["PostgreSQL in depth", "REST or gRPC"],
           "resumes": {"r1": {"PostgreSQL in depth": ["ledger schema", "PostgreSQL 15"],
                              "REST or gRPC": ["gRPC API"]},
                       "r2": {"PostgreSQL in depth": [], "REST or gRPC": ["Express proxy"]}}},
}})


def _job(job_id: str, rids: list[str]) -> Job:
    return Job(job_id, job_id, "en", "jd",
               tuple(Item(f"{job_id}/{r}", job_id, f"{job_id}/{r}", 2, "en", "t") for r in rids))


def _a(requirement: str, verdict: str, line: str) -> dict[str, str]:
    return {"requirement": requirement, "verdict": verdict, "evidence": line}


PG = "- PostgreSQL in depth: schema design, migrations on live tables."
API = "Designing and maintaining REST or gRPC APIs used by other teams."


def test_precision_counts_met_and_partial_verdicts_that_cite_a_line() -> None:
    jobs = [_job("be", ["r1", "r2"])]
    assessments = {
        "be/r1": [_a(PG, "met", "Redesigned the   LEDGER schema online"),  # hit: space, case
                  _a(API, "partial", "Skills: Go, Python")],  # miss: not a labelled line
        "be/r2": [_a(PG, "partial", "Node.js/Express proxy"),  # miss: nothing shows it
                  _a(API, "met", "One Node.js/Express proxy for the shop"),  # hit
                  _a(API, "missing", "")],  # not counted: missing cites nothing
    }
    result = evidence.precision(jobs, LABELS, assessments)
    assert (result["hits"], result["n"]) == (2, 4)
    assert result["precision"] == 0.5
    assert result["per_job"]["be"] == {"hits": 2, "n": 4, "precision": 0.5,
                                       "keys_matched": 2, "keys": 2}
    assert [(m["item"], m["requirement"]) for m in result["misses"]] == [
        ("be/r1", "REST or gRPC"), ("be/r2", "PostgreSQL in depth")]


def test_unlabelled_requirements_resumes_and_jobs_are_left_out() -> None:
    jobs = [_job("be", ["r1", "r3"]), _job("nurse", ["r1"])]
    assessments = {
        "be/r1": [_a("You will work in English.", "met", "Skills: Go"),  # no key in it
                  _a(PG, "met", "Go, PostgreSQL 15")],
        "be/r3": [_a(PG, "met", "anything")],  # resume not labelled
        "nurse/r1": [_a("RN licence", "met", "anything")],  # job not labelled
    }
    result = evidence.precision(jobs, LABELS, assessments)
    assert (result["hits"], result["n"], result["precision"]) == (1, 1, 1.0)
    assert set(result["per_job"]) == {"be"} and result["per_job"]["be"]["keys_matched"] == 1


def test_a_met_verdict_without_a_line_counts_nothing_and_nothing_counted_is_none() -> None:
    result = evidence.precision([_job("be", ["r1"])], LABELS,
                                {"be/r1": [_a(PG, "met", ""), _a(API, "missing", "")]})
    assert result["n"] == 0 and result["precision"] is None and result["job_mean"] is None


def test_labels_for_an_unknown_requirement_key_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown requirement keys"):
        evidence.EvidenceLabels.from_dict({"jobs": {"be": {
            "requirements": ["a"], "resumes": {"r1": {"a": [], "b": ["x"]}}}}})


def test_the_labels_file_matches_the_set() -> None:
    labels = evidence.EvidenceLabels.load()
    if labels is None:
        pytest.skip("benchmarks/quality/data/evidence.json is not in this tree")
    jobs = {j.id: j for j in dataset.load()}
    assert len(labels.keys) >= 2
    for job_id, keys in labels.keys.items():
        lines = jobs[job_id].description.splitlines()
        for key in keys:  # a key names exactly one line of the job description
            assert sum(key in line for line in lines) == 1, (job_id, key)
    for rid, by_key in labels.resumes.items():
        item = next(i for i in jobs[rid.split("/")[0]].base if i.id == rid)
        for key, pieces in by_key.items():
            for piece in pieces:
                assert piece in item.text, (rid, key, piece)
