"""From a screen_v2 answer to the typed rubric: verdicts, evidence, confidence, match_score.

The verdict probabilities come from the engine's top-k log-probabilities (SamplingParams
.logprobs), read at the two decisions the grammar leaves the model per requirement:
    after `"evidence": `  "0" is no evidence (missing), another digit opens a line number;
    after `"verdict": "`  "m..." is met, "p..." is partial (with a line, nothing else is allowed).
So P(missing) = P("0" at the evidence decision), P(met) = (1 - P(missing)) * P(m | line),
P(partial) likewise. The top-k is renormalised over the tokens it classifies; a decision the
grammar forced has all its mass on one token. Without log-probabilities the verdict is the
argmax and the confidence 0 (service/rubric.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hireserve.server.prompts.lines import Line, is_skills_list
from hireserve.server.prompts.screen_v2 import RequirementLine, RubricAnswer
from hireserve.server.service.rubric import Assessed, assess, match_score
from hireserve.v1 import screening_pb2

TokenLogprobs = dict[int, float]
_VERDICT_KEY = re.compile(r'"verdict"\s*:\s*"')
VERDICT_LOGPROBS = 5  # top-k asked of the engine: the decisions have 2 or 3 real options

_IMPORTANCE = {"must": screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE,
               "nice": screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE}
_VERDICT = {"met": screening_pb2.REQUIREMENT_VERDICT_MET,
            "partial": screening_pb2.REQUIREMENT_VERDICT_PARTIAL,
            "missing": screening_pb2.REQUIREMENT_VERDICT_MISSING}


@dataclass(frozen=True)
class Rubric:
    match_score: int
    requirements: list[screening_pb2.RequirementAssessment]
    matched: list[str]
    missing: list[str]


def build_rubric(requirements: Sequence[RequirementLine], numbered: Sequence[Line],
                 answer: RubricAnswer,
                 probabilities: Sequence[dict[str, float] | None] | None = None) -> Rubric:
    assessed: list[Assessed] = []
    out: list[screening_pb2.RequirementAssessment] = []
    for i, (req, verdict) in enumerate(zip(requirements, answer.verdicts, strict=True)):
        line = numbered[verdict.evidence - 1] if verdict.evidence else None
        listed = line is not None and is_skills_list(line)
        probs = probabilities[i] if probabilities else None
        a = assess(req.importance, verdict.verdict, listed, probs)
        assessed.append(a)
        out.append(screening_pb2.RequirementAssessment(
            requirement=req.text, importance=_IMPORTANCE[req.importance],
            verdict=_VERDICT[a.verdict], evidence=line.text if line else "",
            evidence_line=line.number if line else 0, confidence=a.confidence,
            skills_list_evidence=listed))
    return Rubric(
        match_score(assessed), out,
        matched=[r.text for r, a in zip(requirements, assessed, strict=True)
                 if a.verdict != "missing"],
        missing=[r.text for r, a in zip(requirements, assessed, strict=True)
                 if a.verdict == "missing"],
    )


def verdict_probabilities(
    token_ids: Sequence[int], logprobs: Sequence[TokenLogprobs] | None,
    text_of: Callable[[int], str], num_requirements: int,
) -> list[dict[str, float] | None] | None:
    """P(met), P(partial), P(missing) per requirement, or None without log-probabilities.
    `text_of` decodes one token id (the JSON keys and values are ASCII, so tokens decode
    alone)."""
    if not logprobs or len(logprobs) != len(token_ids):
        return None
    starts: list[int] = []
    text = ""
    for token in token_ids:
        starts.append(len(text))
        text += text_of(token)
    result: list[dict[str, float] | None] = []
    pos = 0
    for i in range(1, num_requirements + 1):
        key = re.compile(rf'"R{i}"\s*:\s*\{{\s*"evidence"\s*:\s*').search(text, pos)
        if key is None:
            return None
        at = key.end()
        p_missing = _share(token_ids, logprobs, starts, text_of, at,
                           lambda c: c == "0", lambda c: c in "123456789")
        verdict_key = _VERDICT_KEY.search(text, at)
        if verdict_key is None or p_missing is None:
            return None
        vat = verdict_key.end()
        if text.startswith("missing", vat):
            result.append({"missing": 1.0})
            pos = vat
            continue
        p_met = _share(token_ids, logprobs, starts, text_of, vat,
                       lambda c: c == "m", lambda c: c == "p")
        if p_met is None:
            return None
        line = 1.0 - p_missing
        result.append({"met": line * p_met, "partial": line * (1 - p_met),
                       "missing": p_missing})
        pos = vat
    return result


def _share(token_ids: Sequence[int], logprobs: Sequence[TokenLogprobs], starts: list[int],
           text_of: Callable[[int], str], at: int, first: Callable[[str], bool],
           second: Callable[[str], bool]) -> float | None:
    """Probability of `first` against `second` for the character at `at`. The decision can
    fall at the token holding the character before it (` "` against ` ` then a digit): start
    there; alternatives that stop short of `at` are undecided, and when the chosen token is one
    of them the next token's alternatives split its mass. Undecided mass off the chosen path is
    unknown and left out (the rest is renormalised)."""
    index = max(k for k, s in enumerate(starts) if s <= max(at - 1, 0))
    return _share_from(token_ids, logprobs, starts, text_of, index, at, first, second)


def _share_from(token_ids: Sequence[int], logprobs: Sequence[TokenLogprobs], starts: list[int],
                text_of: Callable[[int], str], index: int, at: int,
                first: Callable[[str], bool], second: Callable[[str], bool]) -> float | None:
    offset = at - starts[index]
    mass = {True: 0.0, False: 0.0}
    undecided = 0.0
    for token, lp in logprobs[index].items():
        piece = text_of(token)
        if len(piece) <= offset:
            undecided += math.exp(lp)
        elif first(piece[offset]) or second(piece[offset]):
            mass[first(piece[offset])] += math.exp(lp)
    if len(text_of(token_ids[index])) <= offset and index + 1 < len(token_ids):
        later = _share_from(token_ids, logprobs, starts, text_of, index + 1, at, first, second)
        if later is not None:
            mass[True] += undecided * later
            mass[False] += undecided * (1 - later)
    total = mass[True] + mass[False]
    return None if total <= 0 else mass[True] / total
