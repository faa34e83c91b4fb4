"""ScreeningService: Screen, ScreenBatch and GenerateQuestions.

Each call: read the document (worker thread), build the versioned prompt (shared part first, so a
batch against one job description reuses its cached prefix), fit the answer schema to what the
prompt leaves of the context, decode constrained to that schema, parse into the typed response.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from hireserve.server.audit import make_record
from hireserve.server.config import ServerConfig
from hireserve.server.documents.detect import declared_format
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import ServiceError, invalid_argument
from hireserve.server.prompts import (
    AnswerError,
    QuestionMix,
    build_questions_messages,
    build_screen_messages,
    parse_questions_result,
    parse_screen_result,
    questions_schema,
    questions_v1,
    resolve_output_language,
    screen_schema,
    screen_v1,
)
from hireserve.server.prompts.budget import fit_schema
from hireserve.server.service.calls import Completion, run_completion
from hireserve.server.service.convert import sampling_from_proto, usage_of
from hireserve.server.service.resume import PreparedResume, prepare_resume
from hireserve.server.service.rpc import ServiceState, stream, unary
from hireserve.v1 import common_pb2, screening_pb2, screening_pb2_grpc

# Screening is a decision: greedy by default, so the same inputs give the same answer.
DEFAULT_SAMPLING = SamplingParams(temperature=0.0)
BATCH_CONCURRENCY = 256  # resumes of one batch in the engine at once; the rest wait their turn


@dataclass
class Answer:
    value: Any  # ScreenResult or QuestionsResult
    completion: Completion
    language: str
    params: SamplingParams

    def usage(self) -> common_pb2.Usage:
        return usage_of(self.completion.last)


class ScreeningServicer(screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, engine: AsyncEngine, state: ServiceState, config: ServerConfig, *,
                 model_name: str) -> None:
        self.engine = engine
        self.state = state
        self.config = config
        self.model_name = model_name

    # -- RPCs --------------------------------------------------------------------------------

    @unary
    async def Screen(self, request: screening_pb2.ScreenRequest,
                     context: grpc.aio.ServicerContext, rid: str) -> screening_pb2.ScreenResponse:
        jd = _job_description(request.job_description, required=True)
        if not request.HasField("resume"):
            raise invalid_argument("resume", "the resume is missing")
        return await self._screen_one(jd, request.resume, request.options, context,
                                      rid, field="resume")

    @stream
    async def ScreenBatch(
        self, request: screening_pb2.ScreenBatchRequest, context: grpc.aio.ServicerContext,
        rid: str,
    ) -> AsyncIterator[screening_pb2.ScreenBatchResponse]:
        jd = _job_description(request.job_description, required=True)
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
        jd = _job_description(request.job_description, required=False)
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
                          {"job_description": jd, "resume": _document_content(request.resume),
                           "num_questions": n, "mix": request.mix,
                           "options": request.options}, response)
        return response

    # -- the shared path ---------------------------------------------------------------------

    async def _screen_one(self, jd: str, doc: common_pb2.Document,
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
                          {"job_description": jd, "resume": _document_content(doc),
                           "options": options}, response)
        return response

    async def _audit(self, rid: str, method: str, template: Any, answer: Answer,
                     started: float, inputs: dict[str, Any], response: Any) -> None:
        """One record per decision, when --audit-log is set: hashes of the inputs (never the
        texts), the prompt and schema versions, sampling and seed, the typed result."""
        audit = self.state.audit
        if audit is None:
            return
        record = make_record(
            request_id=rid, method=method, model_id=self.model_name,
            weights_fingerprint=self.state.weights_fingerprint,
            prompt_version=template.PROMPT_VERSION, schema_version=template.SCHEMA_VERSION,
            sampling=answer.params,
            inputs={k: (MessageToDict(v) if isinstance(v, Message) else v)
                    for k, v in inputs.items()},
            result=MessageToDict(response, preserving_proto_field_name=True),
            latency_s=time.perf_counter() - started,
        )
        await asyncio.to_thread(audit.append, record)  # fsync may block on the disk

    async def _prepare(self, doc: common_pb2.Document, options: screening_pb2.ScreenOptions,
                       field: str) -> PreparedResume:
        limits = self.config.document_limits
        metrics = self.state.metrics
        try:
            prepared = await asyncio.to_thread(prepare_resume, doc, field=field,
                                               blind=options.blind_screening, limits=limits)
        except ServiceError:
            if metrics is not None:
                metrics.record_document(_declared_format(doc), "rejected")
            raise
        except Exception:
            if metrics is not None:
                metrics.record_document(_declared_format(doc), "error")
            raise
        if metrics is not None:
            metrics.record_document(prepared.document.format, "ok")
        return prepared

    async def _answer(self, messages: list[dict[str, str]],
                      build_schema: Callable[[float], dict[str, Any]],
                      parse: Callable[[str], Any], *, options: screening_pb2.ScreenOptions,
                      context: grpc.aio.ServicerContext, rid: str, field: str,
                      language: str) -> Answer:
        tokenizer = self.engine.tokenizer
        prompt_ids = await asyncio.to_thread(tokenizer.apply_chat_template, messages)
        context_len = self.engine.engine.max_model_len
        try:
            schema, max_tokens = fit_schema(build_schema, context_len - len(prompt_ids))
        except ValueError as exc:
            raise invalid_argument(
                field, f"the prompt is {len(prompt_ids)} tokens and the model's context is "
                       f"{context_len}: too little room for the answer ({exc})") from exc
        params = sampling_from_proto(
            options.sampling, field="options.sampling", default=DEFAULT_SAMPLING,
            max_tokens=max_tokens, json_schema=json.dumps(schema),
        )
        completion = await run_completion(
            self.engine, prompt_ids, params, context=context, request_id=rid, field=field,
            retry_after_s=self.config.retry_after_s,
        )
        try:
            value = parse(completion.text)
        except AnswerError as exc:
            # Constrained decoding makes this impossible; if it happens it is our bug.
            if self.state.metrics is not None:
                self.state.metrics.record_structured_output_failure()
            raise ServiceError(grpc.StatusCode.INTERNAL,
                               f"the model's answer did not parse: {exc}") from exc
        return Answer(value, completion, language, params)


def _document_content(doc: common_pb2.Document) -> str | bytes:
    return doc.text if doc.WhichOneof("content") == "text" else doc.data


def _declared_format(doc: common_pb2.Document) -> str:
    """For the documents metric when reading failed: what the caller said the document was."""
    if doc.WhichOneof("content") == "text":
        return "text"
    declared = declared_format(doc.media_type, doc.filename)
    return declared if declared not in (None, "other") else "unknown"


def _job_description(text: str, *, required: bool) -> str:
    jd = text.strip()
    if required and not jd:
        raise invalid_argument("job_description", "the job description is empty")
    return jd


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
