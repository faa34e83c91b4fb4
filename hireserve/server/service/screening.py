"""ScreeningService: Screen, ScreenBatch and GenerateQuestions.

Thin: each RPC checks its request, hands it to the screening pipeline
(hireserve/server/screening/), and turns the typed result into protobuf
(service/screening_proto.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from hireserve.server.config import ServerConfig
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.errors import invalid_argument
from hireserve.server.prompts import questions_v1
from hireserve.server.screening.calls import Call
from hireserve.server.screening.pipeline import ScreeningPipeline
from hireserve.server.service import screening_proto as convert
from hireserve.server.service.calls import deadline_of
from hireserve.server.service.job_description import check_job_description
from hireserve.server.service.rpc import ServiceState, request_id, stream, unary
from hireserve.v1 import screening_pb2, screening_pb2_grpc


class ScreeningServicer(screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, engine: AsyncEngine, state: ServiceState, config: ServerConfig, *,
                 model_name: str) -> None:
        self.state = state
        self.config = config
        self.model_name = model_name
        self.pipeline = ScreeningPipeline(engine, state, config, model_name)

    @unary
    async def Screen(self, request: screening_pb2.ScreenRequest,
                     context: grpc.aio.ServicerContext) -> screening_pb2.ScreenResponse:
        jd = self._job_description(request.job_description, required=True)
        if not request.HasField("resume"):
            raise invalid_argument("resume", "the resume is missing")
        result = await self.pipeline.screen(jd, request.resume,
                                            convert.screen_settings(request.options),
                                            Call(request_id(), deadline_of(context)))
        return convert.screen_response(result, self.model_name)

    @stream
    async def ScreenBatch(
        self, request: screening_pb2.ScreenBatchRequest, context: grpc.aio.ServicerContext,
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
        settings = convert.screen_settings(request.options)
        results: dict[str, screening_pb2.ScreenBatchResult] = {}
        async for resume_id, outcome in self.pipeline.screen_batch(
                jd, [(item.resume_id, item.resume) for item in resumes], settings,
                Call(request_id(), deadline_of(context))):
            result = convert.batch_result(resume_id, outcome, self.model_name)
            results[resume_id] = result
            yield screening_pb2.ScreenBatchResponse(result=result)
        yield screening_pb2.ScreenBatchResponse(ranking=convert.ranking(resumes, results))

    @unary
    async def GenerateQuestions(
        self, request: screening_pb2.GenerateQuestionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> screening_pb2.GenerateQuestionsResponse:
        if not request.HasField("resume"):
            raise invalid_argument("resume", "the resume is missing")
        jd = self._job_description(request.job_description, required=False)
        n = request.num_questions or questions_v1.DEFAULT_NUM_QUESTIONS
        mix = convert.question_mix(request, n)
        outcome = await self.pipeline.questions(
            request.resume, jd, n, mix, convert.question_settings(request.options),
            Call(request_id(), deadline_of(context)))
        return convert.questions_response(outcome, self.model_name, questions_v1.PROMPT_VERSION)

    def _job_description(self, text: str, *, required: bool) -> str:
        return check_job_description(text, max_chars=self.config.max_job_description_chars,
                                     required=required)
