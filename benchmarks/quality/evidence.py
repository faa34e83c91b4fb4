"""Evidence precision: are the resume lines a screener cites for its verdicts the right ones?

`data/evidence.json` labels two jobs: per graded resume and per requirement (named by a unique
piece of the requirement's text, its key), pieces of the resume lines that show it (an empty
list: no line bears on it). A screener's assessment counts when its verdict is met or partial
and it cites an evidence line; the assessment's requirement is matched to a label by the key
its text contains. It is a hit when the cited line contains one of the labelled pieces
(whitespace collapsed, case folded). Precision = hits / counted assessments, over the labelled
jobs' base items. Requirements, resumes and jobs without a label are left out.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.quality.dataset import DATA, Job

EVIDENCE = DATA / "evidence.json"
SHOWN = ("met", "partial")  # verdicts that must cite a line

# resume id ("backend/r01") -> requirement key -> pieces of acceptable lines
Labels = Mapping[str, Mapping[str, Sequence[str]]]


@dataclass(frozen=True)
class EvidenceLabels:
    keys: Mapping[str, tuple[str, ...]]  # job id -> its requirement keys
    resumes: Labels

    @classmethod
    def load(cls, path: Path = EVIDENCE) -> EvidenceLabels | None:
        """None when the file does not exist."""
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EvidenceLabels:
        keys: dict[str, tuple[str, ...]] = {}
        resumes: dict[str, dict[str, list[str]]] = {}
        for job, entry in raw["jobs"].items():
            keys[job] = tuple(entry["requirements"])
            for rid, labels in entry["resumes"].items():
                unknown = set(labels) - set(keys[job])
                if unknown:
                    raise ValueError(f"{job}/{rid}: labels for unknown requirement keys "
                                     f"{sorted(unknown)}")
                resumes[f"{job}/{rid}"] = {k: list(v) for k, v in labels.items()}
        return cls(keys, resumes)

    def key_of(self, job: str, requirement: str) -> str | None:
        """The job's key that the requirement's text contains (the first, if several do)."""
        return next((k for k in self.keys.get(job, ()) if k in requirement), None)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_hit(evidence: str, pieces: Iterable[str]) -> bool:
    line = _norm(evidence)
    return any(_norm(p) in line for p in pieces if p.strip())


def precision(jobs: Sequence[Job], labels: EvidenceLabels,
              assessments: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """`assessments`: item id -> its requirement assessments as dicts with "requirement",
    "verdict" ("met" | "partial" | "missing") and "evidence" (the cited line, "" for none).
    Returns the precision (None when nothing was counted), the counts, per job, the
    requirement keys the screener's rubric matched, and the misses."""
    hits, counted, misses = 0, 0, []
    per_job: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.id not in labels.keys:
            continue
        job_hits = job_counted = 0
        matched: set[str] = set()
        for item in job.base:
            resume = labels.resumes.get(item.id)
            if resume is None:
                continue
            for a in assessments.get(item.id, ()):
                key = labels.key_of(job.id, a["requirement"])
                if key is None:
                    continue
                matched.add(key)
                if a["verdict"] not in SHOWN or not a["evidence"] or key not in resume:
                    continue
                job_counted += 1
                if is_hit(a["evidence"], resume[key]):
                    job_hits += 1
                else:
                    misses.append({"item": item.id, "requirement": key,
                                   "evidence": a["evidence"]})
        per_job[job.id] = {"hits": job_hits, "n": job_counted,
                           "precision": job_hits / job_counted if job_counted else None,
                           "keys_matched": len(matched), "keys": len(labels.keys[job.id])}
        hits += job_hits
        counted += job_counted
    defined = [v["precision"] for v in per_job.values() if v["precision"] is not None]
    return {"precision": hits / counted if counted else None, "hits": hits, "n": counted,
            "job_mean": statistics.fmean(defined) if defined else None,
            "per_job": per_job, "misses": misses}
