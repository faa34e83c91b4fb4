"""match_score from per-requirement verdicts: pure functions, no model, no I/O.

    match_score = round(100 * sum(w_i * v_i) / sum(w_i))

    w: must-have 2, nice-to-have 1
    v: met 1, partial 0.5, missing 0

Rules, and why:
- A "met" whose evidence is a bare skills-list line (a line in a "Skills" section, or a list of
  short keywords: prompts/lines.is_skills_list) counts as partial. Naming a tool is a claim;
  applying it in work is evidence. This is what keeps a keyword-stuffed resume below one that
  describes the same skills in its experience.
- A missing must-have does not cap the score. A cap would give every candidate who lacks one
  must-have the same score and lose the ranking among them; the double weight already makes
  each missing must-have cost twice a missing nice-to-have.
- When the engine reports the probabilities of the verdict tokens, v_i is the expected value
  over them (`expected_value`), which breaks ties between candidates with the same argmax
  verdicts; until then v_i is the value of the argmax verdict and the confidence is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WEIGHTS = {"must": 2.0, "nice": 1.0}
VALUES = {"met": 1.0, "partial": 0.5, "missing": 0.0}


@dataclass(frozen=True)
class Assessed:
    importance: str  # "must" or "nice"
    verdict: str  # the verdict after the rules: "met", "partial" or "missing"
    value: float  # v_i in [0, 1]
    confidence: float  # probability of `verdict` when known, else 0.0


def effective_verdict(verdict: str, evidence_is_skills_list: bool) -> str:
    """The skills-list rule: "met" on a bare keyword line is "partial"."""
    return "partial" if verdict == "met" and evidence_is_skills_list else verdict


def expected_value(probabilities: Mapping[str, float], evidence_is_skills_list: bool) -> float:
    """E[v] over the verdict distribution (renormalised over the known verdicts), with the
    skills-list rule applied to each outcome."""
    total = sum(p for v, p in probabilities.items() if v in VALUES)
    if total <= 0:
        raise ValueError("no probability on any verdict")
    return sum(p * VALUES[effective_verdict(v, evidence_is_skills_list)]
               for v, p in probabilities.items() if v in VALUES) / total


def assess(importance: str, verdict: str, evidence_is_skills_list: bool,
           probabilities: Mapping[str, float] | None = None) -> Assessed:
    if importance not in WEIGHTS:
        raise ValueError(f"unknown importance {importance!r}")
    if verdict not in VALUES:
        raise ValueError(f"unknown verdict {verdict!r}")
    final = effective_verdict(verdict, evidence_is_skills_list)
    if probabilities:
        return Assessed(importance, final, expected_value(probabilities, evidence_is_skills_list),
                        float(probabilities.get(verdict, 0.0)))
    return Assessed(importance, final, VALUES[final], 0.0)


def match_score(assessed: Sequence[Assessed]) -> int:
    """0..100; 0 when there is nothing to assess."""
    total = sum(WEIGHTS[a.importance] for a in assessed)
    if total == 0:
        return 0
    got = sum(WEIGHTS[a.importance] * a.value for a in assessed)
    # round half up, not to even: 62.5 is 63 whichever way Python rounds floats.
    return min(100, max(0, int(100 * got / total + 0.5)))
