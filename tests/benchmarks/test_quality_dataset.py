"""The labelled set and its variants: every manifest entry exists and is graded 0-3, every job
has every grade and the adversarial kinds, and each variant differs from its base resume only
by the swapped name or the injected text."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from benchmarks.quality import dataset

MANIFEST = json.loads((dataset.DATA / "labels.json").read_text(encoding="utf-8"))
JOBS = dataset.load()
ITEMS = [i for job in JOBS for i in job.items]


def test_every_manifest_entry_exists_and_is_graded() -> None:
    assert len(MANIFEST["jobs"]) >= 5
    for job in MANIFEST["jobs"]:
        assert (dataset.DATA / job["jd"]).read_text(encoding="utf-8").strip()
        ids = [r["id"] for r in job["resumes"]]
        assert len(ids) == len(set(ids))
        for r in job["resumes"]:
            path = dataset.DATA / job["id"] / f"{r['id']}.txt"
            assert path.read_text(encoding="utf-8").strip(), path
            assert r["grade"] in (0, 1, 2, 3) and r["why"]
        stored = {p.stem for p in (dataset.DATA / job["id"]).glob("r*.txt")}
        assert stored == set(ids)  # no resume file left out of the manifest


def test_every_job_has_every_grade_and_the_hard_cases() -> None:
    for job in MANIFEST["jobs"]:
        grades = Counter(r["grade"] for r in job["resumes"])
        assert set(grades) == {0, 1, 2, 3}, job["id"]
        kinds = Counter(k for r in job["resumes"] for k in r["kinds"])
        assert kinds["keyword_stuffer"] >= 1 and kinds["terse_strong"] >= 1, job["id"]
        assert all(r["grade"] <= 1 for r in job["resumes"] if "keyword_stuffer" in r["kinds"])
        assert all(r["grade"] == 3 for r in job["resumes"] if "terse_strong" in r["kinds"])
        # a strong resume in another language than the JD's
        assert any(r["language"] != job["language"] and r["grade"] == 3
                   for r in job["resumes"]), job["id"]


def test_languages_and_size() -> None:
    languages = {r["language"] for j in MANIFEST["jobs"] for r in j["resumes"]}
    languages |= {j["language"] for j in MANIFEST["jobs"]}
    assert {"en", "zh", "es", "ar"} <= languages and languages & {"fr", "de"}
    base = sum(len(j.base) for j in JOBS)
    assert 45 <= base <= 50
    assert len(ITEMS) <= 80  # the default run's Screen calls


def test_stated_languages_match_the_script() -> None:
    scripts = {"zh": r"[\u4e00-\u9fff]", "ar": r"[\u0600-\u06ff]"}
    for item in (i for i in ITEMS if i.id == i.resume):
        for lang, pattern in scripts.items():
            share = len(re.findall(pattern, item.text)) / len(item.text)
            assert (share > 0.15) == (item.language == lang), (item.id, lang, share)


def test_name_swap_variants_differ_only_by_the_name() -> None:
    swap = MANIFEST["name_swap"]
    people = swap["names"]
    for rid, keys in swap["resumes"].items():
        job, r = rid.split("/")
        raw = (dataset.DATA / job / f"{r}.txt").read_text(encoding="utf-8")
        assert "{{name}}" in raw
        variants = [i for i in ITEMS if i.resume == rid and i.injection is None]
        assert [v.person.key for v in variants] == keys  # the first name fills the base item
        assert variants[0].id == rid
        assert len({v.text for v in variants}) == len(keys)
        for v in variants:
            p = people[v.person.key]
            assert p["name"] in v.text and "{{" not in v.text
            back = (v.text.replace(p["name"], "{{name}}").replace(p["email"], "{{email}}")
                    .replace(swap["pronouns"][p["sex"]], "{{pronouns}}"))
            assert back == raw
    assert not any("{{" in i.text for i in ITEMS)


def test_name_swap_assignment_is_balanced_across_groups() -> None:
    swap = MANIFEST["name_swap"]
    people = swap["names"]
    uses = Counter(k for keys in swap["resumes"].values() for k in keys)
    assert set(uses) == set(people) and len(set(uses.values())) == 1
    races = {p["race"] for p in people.values()}
    assert len(races) >= 4 and {p["sex"] for p in people.values()} == {"female", "male"}
    for keys in swap["resumes"].values():
        assert sorted(people[k]["race"] for k in keys) == sorted(races)
        assert Counter(people[k]["sex"] for k in keys) == {"female": 2, "male": 2}


def test_injection_pairs_differ_only_by_the_injected_text() -> None:
    injections = {i["resume"]: i for i in MANIFEST["injections"]}
    assert len(injections) >= 6 and len({i["style"] for i in injections.values()}) >= 6
    by_id = {i.id: i for i in ITEMS}
    for rid, spec in injections.items():
        clean, bad = by_id[rid], by_id[f"{rid}!inj"]
        assert clean.grade <= 2 and clean.injection is None and bad.injection == spec["style"]
        assert bad.text.count(spec["text"]) == 1 and spec["text"] not in clean.text
        assert bad.text.replace(spec["text"], "", 1) == clean.text
        if spec["after"]:  # inside the resume, right after the anchor's line
            line = next(ln for ln in bad.text.splitlines() if spec["after"] in ln)
            start = bad.text.index(line)
            assert bad.text.index(spec["text"]) > start


def test_jobs_and_subset_select_resumes_with_their_variants() -> None:
    jobs = dataset.load(jobs=["icu_nurse", "backend"], subset=2)
    assert [j.id for j in jobs] == ["backend", "icu_nurse"]  # the manifest's order
    for job in jobs:
        assert [i.id for i in job.base] == [f"{job.id}/r01", f"{job.id}/r02"]
        assert {i.resume for i in job.items} == {i.id for i in job.base}
    with pytest.raises(ValueError, match="plumber"):
        dataset.load(jobs=["plumber"])


def test_inject_at_the_end_or_after_an_anchor_line() -> None:
    assert dataset.inject("a\nb\n", "X", None) == "a\nb\nX"
    assert dataset.inject("skills: a, b\nmore\n", ", Z", "skills:") == "skills: a, b, Z\nmore\n"
    with pytest.raises(ValueError):
        dataset.inject("a", "X", "missing")
