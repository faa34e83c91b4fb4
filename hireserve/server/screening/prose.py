"""Generated prose for a Screen, only when the caller asks (ScreenOptions.explain).

The model writes the summary and the experience evaluation from the verdicts alone
(prompts/explain_v1.py), constrained to a short JSON answer. A repetition penalty is the
default here (a caller's sampling overrides it): a small model left greedy can loop on a phrase.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.prompts import explain_v1
from hireserve.server.screening.assess import Assessed
from hireserve.server.screening.calls import Call, ModelCalls, Tokens
from hireserve.server.screening.job import JobProfile

DEFAULT_REPETITION_PENALTY = 1.1


@dataclass(frozen=True)
class Prose:
    summary: str
    experience_evaluation: str
    tokens: Tokens


class ProseWriter:
    def __init__(self, calls: ModelCalls) -> None:
        self.calls = calls

    async def write(self, profile: JobProfile, assessed: Assessed, language: str,
                    sampling: SamplingParams, call: Call, *, field: str) -> Prose:
        rows = [(a.requirement.text, a.requirement.importance, a.verdict.value,
                 a.evidence.text if a.evidence else "") for a in assessed.assessments]
        if sampling.repetition_penalty == 1.0:
            sampling = dataclasses.replace(sampling, repetition_penalty=DEFAULT_REPETITION_PENALTY)
        answer = await self.calls.answer(explain_v1.messages(rows, language), explain_v1.schema,
                                         explain_v1.parse, sampling, call, field=field, tag="x")
        summary, evaluation = answer.value
        return Prose(summary, evaluation, answer.tokens)
