"""ScreeningService's protobuf <-> the pipeline's typed values, both ways."""

from __future__ import annotations

from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import ServiceError, invalid_argument
from hireserve.server.prompts import QuestionMix, screen_v3
from hireserve.server.screening.calls import Tokens
from hireserve.server.screening.pipeline import (
    GREEDY,
    QuestionSettings,
    QuestionsOutcome,
    ScreenResult,
    ScreenSettings,
)
from hireserve.server.screening.verdicts import Verdict
from hireserve.server.service.convert import sampling_from_proto
from hireserve.v1 import common_pb2, screening_pb2

_VERDICT = {Verdict.MET: screening_pb2.REQUIREMENT_VERDICT_MET,
            Verdict.PARTIAL: screening_pb2.REQUIREMENT_VERDICT_PARTIAL,
            Verdict.MISSING: screening_pb2.REQUIREMENT_VERDICT_MISSING}
_IMPORTANCE = {"must": screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE,
               "nice": screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE}


def _sampling(options: screening_pb2.ScreenOptions) -> SamplingParams:
    return sampling_from_proto(options.sampling, field="options.sampling", default=GREEDY)


def screen_settings(options: screening_pb2.ScreenOptions) -> ScreenSettings:
    return ScreenSettings(output_language=options.output_language, explain=options.explain,
                          sampling=_sampling(options), prompt_version=options.prompt_version,
                          options=options)


def question_settings(options: screening_pb2.ScreenOptions) -> QuestionSettings:
    return QuestionSettings(output_language=options.output_language,
                            blind=options.blind_screening, sampling=_sampling(options),
                            options=options)


def question_mix(request: screening_pb2.GenerateQuestionsRequest, n: int) -> QuestionMix:
    mix = QuestionMix()
    if request.HasField("mix"):
        mix = QuestionMix(request.mix.technical, request.mix.behavioural, request.mix.open_ended)
    try:
        mix.check(n)
    except ValueError as exc:
        raise invalid_argument("num_questions" if "num_questions" in str(exc) else "mix",
                               str(exc)) from exc
    return mix


def usage(tokens: Tokens) -> common_pb2.Usage:
    return common_pb2.Usage(prompt_tokens=tokens.prompt, cached_prompt_tokens=tokens.cached,
                            generated_tokens=tokens.generated)


def screen_response(result: ScreenResult, model: str) -> screening_pb2.ScreenResponse:
    resume = result.resume
    return screening_pb2.ScreenResponse(
        match_score=result.assessed.match_score,
        skills_matched=result.skills_matched,
        skills_missing=result.skills_missing,
        experience_evaluation=result.experience_evaluation,
        red_flags=result.red_flags,
        summary=result.summary,
        usage=usage(result.tokens),
        model=model,
        prompt_version=screen_v3.PROMPT_VERSION,
        redactions=resume.redaction_counts(),
        output_language=result.output_language,
        document=resume.report(),
        requirements=[
            screening_pb2.RequirementAssessment(
                requirement=a.requirement.text, importance=_IMPORTANCE[a.requirement.importance],
                verdict=_VERDICT[a.verdict], evidence=a.evidence.text if a.evidence else "",
                evidence_line=a.evidence.number if a.evidence else 0,
                confidence=a.confidence, skills_list_evidence=a.skills_list_only,
                value=a.value, label=a.requirement.label)
            for a in result.assessed.assessments],
        requirements_fallback=result.profile.fallback,
    )


def batch_result(resume_id: str, outcome: ScreenResult | ServiceError, model: str
                 ) -> screening_pb2.ScreenBatchResult:
    if isinstance(outcome, ServiceError):
        return screening_pb2.ScreenBatchResult(resume_id=resume_id, error=outcome.to_status())
    return screening_pb2.ScreenBatchResult(resume_id=resume_id,
                                           response=screen_response(outcome, model))


def ranking(resumes: list[screening_pb2.BatchResume],
            results: dict[str, screening_pb2.ScreenBatchResult]) -> screening_pb2.BatchRanking:
    """Screened resumes by score, ties in request order; then the ids that failed."""
    order = {item.resume_id: i for i, item in enumerate(resumes)}
    ok = [r for r in results.values() if r.WhichOneof("outcome") == "response"]
    ok.sort(key=lambda r: (-r.response.match_score, order[r.resume_id]))
    return screening_pb2.BatchRanking(
        ranked=[screening_pb2.RankedResume(resume_id=r.resume_id,
                                           match_score=r.response.match_score, rank=i + 1)
                for i, r in enumerate(ok)],
        failed_resume_ids=[item.resume_id for item in resumes
                           if results.get(item.resume_id) is None
                           or results[item.resume_id].WhichOneof("outcome") == "error"],
    )


def questions_response(outcome: QuestionsOutcome, model: str, prompt_version: str
                       ) -> screening_pb2.GenerateQuestionsResponse:
    questions = [
        screening_pb2.Question(
            type=screening_pb2.QuestionType.Value(f"QUESTION_TYPE_{q.type.name}"),
            question=q.question, probes=q.probes)
        for q in outcome.interview.questions.questions
    ]
    resume = outcome.resume
    return screening_pb2.GenerateQuestionsResponse(
        questions=questions, usage=usage(outcome.interview.tokens), model=model,
        prompt_version=prompt_version, redactions=resume.redaction_counts(),
        output_language=outcome.output_language, document=resume.report(),
    )
