"""The rubric's values: requirements, verdicts, evidence, and the score computed from them.

    Requirement            a line of the job description, must-have (weight 2) or nice (1)
    Assessment             one requirement judged: calibrated value in [0, 1], verdict, evidence
    match_score(items)     round(100 * sum(w * value) / sum(w)): computed here, never written
                           by a model

Pure values and functions: no model, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

WEIGHTS = {"must": 2, "nice": 1}
# value >= MET_AT reads as met, >= PARTIAL_AT as partial: thirds of the calibrated scale, where
# 0 is what the model says of an empty resume and 1 what it says of a resume that states the
# requirement outright (screening/calibration.py).
MET_AT = 2 / 3
PARTIAL_AT = 1 / 3


class Verdict(enum.Enum):
    MET = "met"
    PARTIAL = "partial"
    MISSING = "missing"


@dataclass(frozen=True)
class Requirement:
    text: str  # the job description's line, verbatim (bullet marker removed)
    importance: str  # "must" | "nice"
    label: str  # a short name for it (skills_matched, summaries)
    line: int = 0  # 1-based line of the job description

    @property
    def weight(self) -> int:
        return WEIGHTS[self.importance]


@dataclass(frozen=True)
class EvidenceLine:
    text: str  # the resume's line, verbatim as the model read it (after redaction)
    number: int  # 1-based line of the resume's extracted text
    skills_list: bool = False  # a bare list of skills: a claim, not applied use


@dataclass(frozen=True)
class Assessment:
    requirement: Requirement
    value: float  # calibrated expected value in [0, 1]: what the requirement adds to the score
    verdict: Verdict
    confidence: float  # how sure the model was of the verdict's side (yes or no), in [0, 1]
    evidence: EvidenceLine | None = None

    @property
    def skills_list_only(self) -> bool:
        return self.evidence is not None and self.evidence.skills_list


def verdict_of(value: float) -> Verdict:
    if value >= MET_AT:
        return Verdict.MET
    if value >= PARTIAL_AT:
        return Verdict.PARTIAL
    return Verdict.MISSING


def match_score(assessments: Sequence[Assessment]) -> int:
    """0-100; 0 when there is nothing to judge."""
    total = sum(a.requirement.weight for a in assessments)
    if total == 0:
        return 0
    earned = sum(a.requirement.weight * a.value for a in assessments)
    return max(0, min(100, round(100 * earned / total)))
