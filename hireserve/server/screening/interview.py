"""GenerateQuestions: interview questions tailored to a resume, generated under their schema.

The question mix is enforced by position in the schema (prompts/questions_v1.py), so it holds
by construction; the answer is greedy unless the caller's sampling says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.prompts import QuestionMix, QuestionsResult, questions_v1
from hireserve.server.screening.calls import Call, ModelCalls, Tokens
from hireserve.server.service.resume import PreparedResume


@dataclass(frozen=True)
class Interview:
    questions: QuestionsResult
    tokens: Tokens
    params: SamplingParams


class InterviewWriter:
    def __init__(self, calls: ModelCalls) -> None:
        self.calls = calls

    async def write(self, resume: PreparedResume, jd: str, n: int, mix: QuestionMix,
                    language: str, sampling: SamplingParams, call: Call, *, field: str
                    ) -> Interview:
        messages = questions_v1.build_questions_messages(resume.text, jd, n=n, mix=mix,
                                                         language=language)
        answer = await self.calls.answer(
            messages, lambda scale: questions_v1.questions_schema(n, mix, scale),
            lambda text: questions_v1.parse_questions_result(text, n, mix), sampling, call,
            field=field, tag="iq")
        return Interview(answer.value, answer.tokens, answer.params)
