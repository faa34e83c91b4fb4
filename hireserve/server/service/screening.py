"""ScreeningService: Screen, ScreenBatch and GenerateQuestions.

Each call: read the document (worker process), build the versioned prompt (shared part first, so a
batch against one job description reuses its cached prefix), fit the answer schema to what the
prompt leaves of the context, decode constrained to that schema, parse into the typed response.

Screen (screen_v2, the default) runs in two model calls: the job description's requirements,
extracted once per job description and cached (service/requirements.py), then per resume a
verdict with evidence for each requirement; the score is computed from the verdicts
(service/assessment.py, service/rubric.py). The caller that ran the extraction is charged its
tokens in `usage`; the others share it for free.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc

from hireserve.server.config import ServerConfig
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.errors import ServiceError, invalid_argument
from hireserve.server.prompts import (
    QuestionMix,
    build_questions_messages,
    build_screen_messages,
    parse_questions_result,
    parse_screen_result,
    questions_schema,
    questions_v1,
    requirements_v1,
    resolve_output_language,
    screen_schema,
    screen_v1,
    screen_v2,
)
from hireserve.server.service.assessment import (
    VERDICT_LOGPROBS,
    build_rubric,
    verdict_probabilities,
)
from hireserve.server.service.job_description import check_job_description, job_lines_off_loop
from hireserve.server.service.model_calls import ModelCalls, document_content
from hireserve.server.service.requirements import (
    Requirements,
    RequirementsCache,
    cache_key,
    heading_label,
)
from hireserve.server.service.rpc import ServiceState, stream, unary
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

BATCH_CONCURRENCY = 256  # resumes of one batch in the engine at once; the rest wait their turn
SCREEN_PROMPTS = ("screen_v2", "screen_v1")  # ScreenOptions.prompt_version; "" is the first


class ScreeningServicer(ModelCalls, screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, engine: AsyncEngine, state: ServiceState, config: ServerConfig, *,
                 model_name: str) -> None:
        super().__init__(engine, state, config, model_name=model_name)
        self.requirements = RequirementsCache()

    # -- RPCs --------------------------------------------------------------------------------

    @unary
    async def Screen(self, request: screening_pb2.ScreenRequest,
                     context: grpc.aio.ServicerContext, rid: str) -> screening_pb2.ScreenResponse:
        jd = self._job_description(request.job_description, required=True)
        if not request.HasField("resume"):
            raise invalid_argument("resume", "the resume is missing")
        return await self._screen_one(jd, request.resume, request.options, context,
                                      rid, field="resume")

    @stream
    async def ScreenBatch(
        self, request: screening_pb2.ScreenBatchRequest, context: grpc.aio.ServicerContext,
        rid: str,
    ) -> AsyncIterator[screening_pb2.ScreenBatchResponse]:
        jd = self._job_description(request.job_description, required=True)
        resumes = list(request.resumes)
        if not resumes:
            raise invalid_argument("resumes", "the batch holds no resume")
        if len(resumes) > self.config.max_batch_resumes:
            raise invalid_argument(
                "resumes", f"{len(resumes)} resumes; at most {self.config.max_batch_resumes}")
        seen: set[str] = set()
        for i, item in enumerate(resumes):
            if not item.resume_id:
                raise invalid_argument(f"resumes[{i}].resume_id", "empty resume id")
            if item.resume_id in seen:
                raise invalid_argument(f"resumes[{i}].resume_id",
                                       f"duplicate resume id {item.resume_id!r}")
            seen.add(item.resume_id)

        gate = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(i: int, item: screening_pb2.BatchResume) -> screening_pb2.ScreenBatchResult:
            async with gate:
                try:
                    response = await self._screen_one(
                        jd, item.resume, request.options, context, f"{rid}-{i}",
                        field=f"resumes[{i}].resume")
                    return screening_pb2.ScreenBatchResult(resume_id=item.resume_id,
                                                           response=response)
                except ServiceError as exc:
                    if exc.code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL,
                                    grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise  # the whole call is over, not this resume
                    return screening_pb2.ScreenBatchResult(resume_id=item.resume_id,
                                                           error=exc.to_status())

        with self.state.documents.batch_lane():  # the tasks read their documents in one lane
            tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(resumes)]
        results: dict[str, screening_pb2.ScreenBatchResult] = {}
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done
                results[result.resume_id] = result
                yield screening_pb2.ScreenBatchResponse(result=result)
        finally:
            for task in tasks:  # client gone or a fatal error: abort the rest, free their blocks
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        yield screening_pb2.ScreenBatchResponse(ranking=_ranking(resumes, results))

    @unary
    async def GenerateQuestions(
        self, request: screening_pb2.GenerateQuestionsRequest,
        context: grpc.aio.ServicerContext, rid: str,
    ) -> screening_pb2.GenerateQuestionsResponse:
        if not request.HasField("resume"):
            raise invalid_argument("resume", "the resume is missing")
        jd = self._job_description(request.job_description, required=False)
        n = request.num_questions or questions_v1.DEFAULT_NUM_QUESTIONS
        mix = QuestionMix()
        if request.HasField("mix"):
            mix = QuestionMix(request.mix.technical, request.mix.behavioural,
                              request.mix.open_ended)
        try:
            mix.check(n)
        except ValueError as exc:
            raise invalid_argument("num_questions" if "num_questions" in str(exc) else "mix",
                                   str(exc)) from exc
        started = time.perf_counter()
        prepared = await self._prepare(request.resume, request.options, "resume")
        language = _language(request.options, prepared.text)
        messages = build_questions_messages(prepared.text, jd, n=n, mix=mix, language=language)
        answer = await self._answer(
            messages, lambda scale: questions_schema(n, mix, scale),
            lambda text: parse_questions_result(text, n, mix),
            options=request.options, context=context, rid=rid, field="resume",
            language=language,
        )
        questions = [
            screening_pb2.Question(
                type=screening_pb2.QuestionType.Value(f"QUESTION_TYPE_{q.type.name}"),
                question=q.question, probes=q.probes)
            for q in answer.value.questions
        ]
        response = screening_pb2.GenerateQuestionsResponse(
            questions=questions, usage=answer.usage(), model=self.model_name,
            prompt_version=questions_v1.PROMPT_VERSION,
            redactions=prepared.redaction_counts(), output_language=language,
            document=prepared.report(),
        )
        await self._audit(rid, "GenerateQuestions", questions_v1, answer, started,
                          {"job_description": jd, "resume": document_content(request.resume),
                           "num_questions": n, "mix": request.mix,
                           "options": request.options}, response)
        return response

    def _job_description(self, text: str, *, required: bool) -> str:
        return check_job_description(text, max_chars=self.config.max_job_description_chars,
                                     required=required)

    # -- Screen --------------------------------------------------------------------------------

    async def _screen_one(self, jd: str, doc: common_pb2.Document,
                          options: screening_pb2.ScreenOptions,
                          context: grpc.aio.ServicerContext, rid: str, *, field: str
                          ) -> screening_pb2.ScreenResponse:
        version = options.prompt_version or SCREEN_PROMPTS[0]
        if version not in SCREEN_PROMPTS:
            raise invalid_argument("options.prompt_version",
                                   f"{version!r}; expected one of {', '.join(SCREEN_PROMPTS)}")
        if version == "screen_v1":
            return await self._screen_v1(jd, doc, options, context, rid, field=field)
        return await self._screen_v2(jd, doc, options, context, rid, field=field)

    async def _screen_v2(self, jd: str, doc: common_pb2.Document,
                         options: screening_pb2.ScreenOptions,
                         context: grpc.aio.ServicerContext, rid: str, *, field: str
                         ) -> screening_pb2.ScreenResponse:
        started = time.perf_counter()
        # Always blind: the rubric never needs a name, and name-swapped resumes get one prompt.
        prepared = await self._prepare(doc, options, field, blind=True)
        language = _language(options, prepared.text)
        requirements, ran_extraction = await self.requirements.get(
            cache_key(self.model_name, jd),
            lambda: self._extract_requirements(jd, context, f"{rid}-requirements"))
        items = list(requirements.items)
        messages, numbered = screen_v2.build_screen_v2_messages(items, prepared.lines, language)
        k, m = len(items), len(numbered)
        answer = await self._answer(
            messages, lambda scale: screen_v2.screen_v2_schema(k, m, scale),
            lambda text: screen_v2.parse_screen_v2(text, k, m),
            options=options, context=context, rid=rid, field=field, language=language,
            logprobs=VERDICT_LOGPROBS,
        )
        tokenizer = self.engine.tokenizer
        # Decoding the answer's tokens one by one is tokenizer work: off the event loop.
        probabilities = await asyncio.to_thread(
            verdict_probabilities, answer.completion.token_ids, answer.completion.logprobs,
            lambda token: tokenizer.decode([token], skip_special_tokens=False), k)
        rubric = build_rubric(items, numbered, answer.value, probabilities)
        usage = answer.usage()
        if ran_extraction:  # this request paid for the shared extraction: say so once
            usage = _add_usage(usage, requirements.usage)
        response = screening_pb2.ScreenResponse(
            match_score=rubric.match_score,
            skills_matched=rubric.matched,
            skills_missing=rubric.missing,
            experience_evaluation=answer.value.experience_evaluation,
            red_flags=[*prepared.red_flags, *prepared.withheld_flag()],
            summary=answer.value.summary,
            usage=usage,
            model=self.model_name,
            prompt_version=screen_v2.PROMPT_VERSION,
            redactions=prepared.redaction_counts(),
            output_language=language,
            document=prepared.report(),
            requirements=rubric.requirements,
            requirements_fallback=requirements.fallback,
        )
        await self._audit(rid, "Screen", screen_v2, answer, started,
                          {"job_description": jd, "resume": document_content(doc),
                           "options": options}, response,
                          derived={"requirements_sha256": requirements.digest})
        return response

    async def _extract_requirements(self, jd: str, context: grpc.aio.ServicerContext,
                                    rid: str) -> Requirements:
        lines = await job_lines_off_loop(jd)
        candidates = [lines[i] for i in requirements_v1.candidate_ids(lines)]
        if all(heading_label(line) for line in candidates):  # the headings decide every line
            return Requirements.from_labels(lines, ["none"] * len(candidates),
                                            common_pb2.Usage())
        n = len(candidates)
        # Greedy whatever the caller's sampling: the rubric is shared by every resume.
        answer = await self._answer(
            requirements_v1.build_requirements_messages(lines),
            lambda _scale: requirements_v1.requirements_schema(n),
            lambda text: requirements_v1.parse_requirements(text, n),
            options=screening_pb2.ScreenOptions(), context=context, rid=rid,
            field="job_description", language="en",
        )
        return Requirements.from_labels(lines, answer.value, answer.usage())

    async def _screen_v1(self, jd: str, doc: common_pb2.Document,
                         options: screening_pb2.ScreenOptions,
                         context: grpc.aio.ServicerContext, rid: str, *, field: str
                         ) -> screening_pb2.ScreenResponse:
        started = time.perf_counter()
        prepared = await self._prepare(doc, options, field)
        language = _language(options, prepared.text)
        messages = build_screen_messages(jd, prepared.text, language)
        answer = await self._answer(messages, screen_schema, parse_screen_result,
                                    options=options, context=context, rid=rid, field=field,
                                    language=language)
        result = answer.value
        response = screening_pb2.ScreenResponse(
            match_score=result.match_score,
            skills_matched=result.skills_matched,
            skills_missing=result.skills_missing,
            experience_evaluation=result.experience_evaluation,
            red_flags=[*prepared.red_flags, *result.red_flags],
            summary=result.summary,
            usage=answer.usage(),
            model=self.model_name,
            prompt_version=screen_v1.PROMPT_VERSION,
            redactions=prepared.redaction_counts(),
            output_language=language,
            document=prepared.report(),
        )
        await self._audit(rid, "Screen", screen_v1, answer, started,
                          {"job_description": jd, "resume": document_content(doc),
                           "options": options}, response)
        return response

def _add_usage(a: common_pb2.Usage, b: common_pb2.Usage) -> common_pb2.Usage:
    return common_pb2.Usage(prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                            cached_prompt_tokens=a.cached_prompt_tokens + b.cached_prompt_tokens,
                            generated_tokens=a.generated_tokens + b.generated_tokens)


def _language(options: screening_pb2.ScreenOptions, resume_text: str) -> str:
    try:
        return resolve_output_language(options.output_language, resume_text)
    except ValueError as exc:
        raise invalid_argument("options.output_language", str(exc)) from exc


def _ranking(resumes: list[screening_pb2.BatchResume],
             results: dict[str, screening_pb2.ScreenBatchResult]) -> screening_pb2.BatchRanking:
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
