"""`AsyncHireClient`: the asyncio twin of `HireClient` (same methods, same types, same retries).

Build it inside a running event loop (grpc.aio channels belong to the loop that made them):

    async with AsyncHireClient("127.0.0.1:50051") as client:
        async for event in client.screen_batch(jd, [Path("a.pdf"), Path("b.docx")]):
            ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hireserve.clients import requests
from hireserve.clients.base import DEFAULT_TARGET, ClientSettings, new_request_id
from hireserve.clients.channel import TlsSetting, aio_channel
from hireserve.clients.documents import DocumentLike, StrPath
from hireserve.clients.errors import HireError
from hireserve.clients.retry import NO_RETRY, Deadlines, RetryPolicy
from hireserve.v1 import (
    generation_pb2,
    generation_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)


class AsyncHireClient:
    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        token: str | None = None,
        tls: TlsSetting = None,
        *,
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.settings = ClientSettings(target, token, tls, retry, deadlines)
        self._channel = aio_channel(target, self.settings.tls)
        self._screening = screening_pb2_grpc.ScreeningServiceStub(  # type: ignore[no-untyped-call]
            self._channel
        )
        self._generation = generation_pb2_grpc.GenerationServiceStub(  # type: ignore[no-untyped-call]
            self._channel
        )
        self._health = health_pb2_grpc.HealthStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncHireClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def screen(
        self,
        job_description: StrPath,
        resume: DocumentLike,
        *,
        output_language: str = "",
        blind: bool = False,
        sampling: requests.SamplingLike | None = None,
        explain: bool = False,
        prompt_version: str = "",
        timeout: float | None = None,
    ) -> screening_pb2.ScreenResponse:
        request = requests.screen(
            job_description, resume,
            requests.options(output_language, blind, sampling, explain, prompt_version),
        )
        response: screening_pb2.ScreenResponse = await self._unary(
            self._screening.Screen, request, timeout or self.settings.deadlines.screen
        )
        return response

    def screen_batch(
        self,
        job_description: StrPath,
        resumes: requests.ResumesLike,
        *,
        output_language: str = "",
        blind: bool = False,
        sampling: requests.SamplingLike | None = None,
        explain: bool = False,
        prompt_version: str = "",
        timeout: float | None = None,
    ) -> AsyncIterator[screening_pb2.ScreenBatchResponse]:
        request = requests.screen_batch(
            job_description, resumes,
            requests.options(output_language, blind, sampling, explain, prompt_version),
        )
        return self._stream(
            self._screening.ScreenBatch, request, timeout or self.settings.deadlines.screen_batch
        )

    async def generate_questions(
        self,
        resume: DocumentLike,
        *,
        job_description: StrPath | None = None,
        num_questions: int = 0,
        mix: requests.MixLike | None = None,
        output_language: str = "",
        blind: bool = False,
        sampling: requests.SamplingLike | None = None,
        timeout: float | None = None,
    ) -> screening_pb2.GenerateQuestionsResponse:
        request = requests.questions(
            resume,
            job_description,
            num_questions,
            mix,
            requests.options(output_language, blind, sampling),
        )
        response: screening_pb2.GenerateQuestionsResponse = await self._unary(
            self._screening.GenerateQuestions,
            request,
            timeout or self.settings.deadlines.generate_questions,
        )
        return response

    def generate(
        self,
        prompt: str | requests.ChatLike,
        *,
        max_tokens: int = 0,
        sampling: requests.SamplingLike | None = None,
        stop: Sequence[str] = (),
        json_schema: str = "",
        ignore_eos: bool = False,
        timeout: float | None = None,
    ) -> AsyncIterator[generation_pb2.GenerateResponse]:
        request = requests.generate(
            prompt,
            max_tokens=max_tokens,
            sampling_params=sampling,
            stop=stop,
            json_schema=json_schema,
            ignore_eos=ignore_eos,
        )
        return self._stream(
            self._generation.Generate, request, timeout or self.settings.deadlines.generate
        )

    async def model_info(
        self, *, timeout: float | None = None
    ) -> generation_pb2.GetModelInfoResponse:
        response: generation_pb2.GetModelInfoResponse = await self._unary(
            self._generation.GetModelInfo,
            generation_pb2.GetModelInfoRequest(),
            timeout or self.settings.deadlines.model_info,
        )
        return response

    async def health(
        self, service: str = "", *, timeout: float | None = None
    ) -> health_pb2.HealthCheckResponse:
        response: health_pb2.HealthCheckResponse = await self._unary(
            self._health.Check,
            health_pb2.HealthCheckRequest(service=service),
            timeout or self.settings.deadlines.health,
            policy=NO_RETRY,
        )
        return response

    async def _unary(
        self,
        method: Callable[..., Any],
        request: Any,
        timeout: float,
        policy: RetryPolicy | None = None,
    ) -> Any:
        policy = policy or self.settings.retry
        rid = new_request_id()
        attempt = 0
        while True:
            attempt += 1
            try:
                metadata = self.settings.metadata(rid, request)
                return await method(request, timeout=timeout, metadata=metadata)
            except grpc.RpcError as exc:
                error = HireError.from_rpc_error(exc, request_id=rid)
                error.attempts = attempt
                if not policy.should_retry(error, attempt):
                    raise error from exc
                await asyncio.sleep(policy.delay(error, attempt))

    async def _stream(
        self, method: Callable[..., Any], request: Any, timeout: float
    ) -> AsyncIterator[Any]:
        policy = self.settings.retry
        rid = new_request_id()
        attempt = 0
        while True:
            attempt += 1
            received = 0
            call = method(request, timeout=timeout, metadata=self.settings.metadata(rid, request))
            try:
                async for message in call:
                    received += 1
                    yield message
                return
            except grpc.RpcError as exc:
                error = HireError.from_rpc_error(exc, request_id=rid)
                error.attempts = attempt
                if received or not policy.should_retry(error, attempt):
                    raise error from exc
                wait = policy.delay(error, attempt)
            finally:
                call.cancel()
            await asyncio.sleep(wait)
