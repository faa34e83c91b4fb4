"""One resume against one analysed job: the questions, the verdicts, the evidence, the score.

    Assessor.assess(profile, prepared, call) -> Assessed

All of the resume's questions are submitted together: the engine computes the resume (the
shared prefix) once, then each question's few tokens. P(yes) is placed between the
requirement's anchors (screening/calibration.py), the verdict and the score follow in code
(screening/verdicts.py), and the evidence is one of the resume's own lines
(screening/evidence.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from hireserve.server.engine.outputs import ScoreOutput
from hireserve.server.prompts import screen_v3
from hireserve.server.prompts.lines import Line
from hireserve.server.prompts.protocol import ChatTokenizer, answer_candidates, sectioned_prompts
from hireserve.server.screening.calibration import yes_probability
from hireserve.server.screening.calls import Call, ModelCalls, Tokens
from hireserve.server.screening.evidence import choose_evidence
from hireserve.server.screening.job import JobProfile
from hireserve.server.screening.verdicts import Assessment, Verdict, match_score, verdict_of

SKILLS_LIST_CAP = 0.5  # the value of a requirement whose only evidence is a skills list


@dataclass(frozen=True)
class Assessed:
    assessments: tuple[Assessment, ...]
    match_score: int
    tokens: Tokens


def resume_rows(lines: Sequence[Line]) -> list[str]:
    """The resume as the model reads it: headings as they are, content lines as bullets."""
    return [line.text if line.heading else f"- {line.text}" for line in lines]


def resume_prompts(tokenizer: ChatTokenizer, lines: Sequence[Line],
                   requirement_texts: Sequence[str]
                   ) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """The token ids of each requirement's question about the resume (all sharing one prefix),
    and the token span of each content line (not headings) in that prefix."""
    _, spans, prompts = sectioned_prompts(
        tokenizer, screen_v3.sectioned_messages(),
        screen_v3.rows_for_model(resume_rows(lines)),
        [screen_v3.question(t) for t in requirement_texts])
    content = [span for line, span in zip(lines, spans, strict=True) if not line.heading]
    return prompts, content


class Assessor:
    def __init__(self, calls: ModelCalls) -> None:
        self.calls = calls
        words = answer_candidates(calls.tokenizer, screen_v3.ANSWER_WORDS)
        self.yes, self.no = words["yes"], words["no"]

    async def assess(self, profile: JobProfile, lines: Sequence[Line], call: Call, *,
                     field: str) -> Assessed:
        requirements = profile.requirements
        if not requirements:
            return Assessed((), 0, Tokens())
        prompts, spans = await asyncio.to_thread(
            resume_prompts, self.calls.tokenizer, lines, [r.text for r in requirements])
        outputs = await self.calls.score(prompts, [*self.yes, *self.no], call, field=field,
                                         attention_spans=spans)
        return self._verdicts(profile, lines, outputs)

    def _verdicts(self, profile: JobProfile, lines: Sequence[Line],
                  outputs: Sequence[ScoreOutput]) -> Assessed:
        p_yes = [yes_probability(o.logprobs, self.yes, self.no) for o in outputs]
        values = [a.value(p) for a, p in zip(profile.anchors, p_yes, strict=True)]
        content = [line for line in lines if not line.heading]
        attention = [list(o.attention) for o in outputs]
        evidence = choose_evidence(
            [r.text for r in profile.requirements], content,
            shown=[verdict_of(v) is not Verdict.MISSING for v in values], order=values,
            attention=attention if all(len(a) == len(content) for a in attention) else None)
        # A requirement shown only by a skills list is claimed, not shown in work: partial at
        # most (a keyword-stuffed skills section must not count as dated work does).
        values = [min(v, SKILLS_LIST_CAP) if ev is not None and ev.skills_list else v
                  for v, ev in zip(values, evidence, strict=True)]
        assessments = tuple(
            Assessment(r, v, verdict_of(v), max(p, 1.0 - p),
                       ev if verdict_of(v) is not Verdict.MISSING else None)
            for r, v, p, ev in zip(profile.requirements, values, p_yes, evidence, strict=True))
        return Assessed(assessments, match_score(assessments), Tokens.of_scores(outputs))
