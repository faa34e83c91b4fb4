"""`HireClient`: the typed, blocking client of a hireserve server.

Methods take plain Python values (see `clients.documents` for what a document may be) and
return the protobuf responses of `hireserve.v1` (their fields are typed in the .pyi stubs).
Every failure raises `HireError`. UNAVAILABLE and RESOURCE_EXHAUSTED are retried per the
`RetryPolicy`, honouring the server's RetryInfo hint; each attempt gets the method's deadline.

    with HireClient("127.0.0.1:50051", token="...") as client:
        result = client.screen(Path("jd.txt"), Path("jane.pdf"))
        print(result.match_score, result.summary)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hireserve.clients import requests
from hireserve.clients.base import DEFAULT_TARGET, ClientSettings, new_request_id
from hireserve.clients.channel import TlsSetting, sync_channel
from hireserve.clients.documents import DocumentLike, StrPath
from hireserve.clients.errors import HireError
from hireserve.clients.retry import NO_RETRY, Deadlines, RetryPolicy
from hireserve.v1 import (
    generation_pb2,
    generation_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)

T = TypeVar("T")


class HireClient:
    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        token: str | None = None,
        tls: TlsSetting = None,
        *,
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = ClientSettings(target, token, tls, retry, deadlines)
        self._sleep = sleep
        self._channel = sync_channel(target, self.settings.tls)
        self._screening = screening_pb2_grpc.ScreeningServiceStub(  # type: ignore[no-untyped-call]
            self._channel
        )
        self._generation = generation_pb2_grpc.GenerationServiceStub(  # type: ignore[no-untyped-call]
            self._channel
        )
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> HireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ScreeningService -----------------------------------------------------------------

    def screen(
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
        """Score one resume against a job description (text, or a Path to a text file)."""
        request = requests.screen(
            job_description, resume,
            requests.options(output_language, blind, sampling, explain, prompt_version),
        )
        response: screening_pb2.ScreenResponse = self._unary(
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
    ) -> Iterator[screening_pb2.ScreenBatchResponse]:
        """Stream the batch's events: one `result` per resume as it finishes (its `response`
        or its google.rpc.Status `error`; `HireError.from_status` reads the latter), then the
        `ranking`. A list of resumes gets ids "0", "1", ...; a mapping keeps its keys."""
        request = requests.screen_batch(
            job_description, resumes,
            requests.options(output_language, blind, sampling, explain, prompt_version),
        )
        return self._stream(
            self._screening.ScreenBatch, request, timeout or self.settings.deadlines.screen_batch
        )

    def generate_questions(
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
        """Interview questions about a resume; `num_questions=0` is the server default (5)."""
        request = requests.questions(
            resume,
            job_description,
            num_questions,
            mix,
            requests.options(output_language, blind, sampling),
        )
        response: screening_pb2.GenerateQuestionsResponse = self._unary(
            self._screening.GenerateQuestions,
            request,
            timeout or self.settings.deadlines.generate_questions,
        )
        return response

    # --- GenerationService ----------------------------------------------------------------

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
    ) -> Iterator[generation_pb2.GenerateResponse]:
        """Stream a completion: a `str` is a raw prompt, a sequence of (role, content) pairs or
        {"role", "content"} dicts is a chat. The last chunk has finish_reason and usage."""
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

    def model_info(self, *, timeout: float | None = None) -> generation_pb2.GetModelInfoResponse:
        response: generation_pb2.GetModelInfoResponse = self._unary(
            self._generation.GetModelInfo,
            generation_pb2.GetModelInfoRequest(),
            timeout or self.settings.deadlines.model_info,
        )
        return response

    def health(
        self, service: str = "", *, timeout: float | None = None
    ) -> health_pb2.HealthCheckResponse:
        """grpc.health.v1 Check ("" = the whole server). Not retried: a probe must answer now.
        `HealthCheckResponse.ServingStatus.Name(r.status)` gives "SERVING" / "NOT_SERVING"."""
        response: health_pb2.HealthCheckResponse = self._unary(
            self._health.Check,
            health_pb2.HealthCheckRequest(service=service),
            timeout or self.settings.deadlines.health,
            policy=NO_RETRY,
        )
        return response

    # --- calls with retries ---------------------------------------------------------------

    def _unary(
        self,
        method: Callable[..., T],
        request: Any,
        timeout: float,
        policy: RetryPolicy | None = None,
    ) -> T:
        policy = policy or self.settings.retry
        rid = new_request_id()
        attempt = 0
        while True:
            attempt += 1
            try:
                metadata = self.settings.metadata(rid, request)
                return method(request, timeout=timeout, metadata=metadata)
            except grpc.RpcError as exc:
                error = HireError.from_rpc_error(exc, request_id=rid)
                error.attempts = attempt
                if not policy.should_retry(error, attempt):
                    raise error from exc
                self._sleep(policy.delay(error, attempt))

    def _stream(self, method: Callable[..., Any], request: Any, timeout: float) -> Iterator[Any]:
        policy = self.settings.retry
        rid = new_request_id()
        attempt = 0
        while True:
            attempt += 1
            received = 0
            call = method(request, timeout=timeout, metadata=self.settings.metadata(rid, request))
            try:
                for message in call:
                    received += 1
                    yield message
                return
            except grpc.RpcError as exc:
                error = HireError.from_rpc_error(exc, request_id=rid)
                error.attempts = attempt
                # Never replay a stream the caller has already seen part of.
                if received or not policy.should_retry(error, attempt):
                    raise error from exc
                wait = policy.delay(error, attempt)
            finally:
                call.cancel()  # the caller stopped early: free the server's work (no-op if done)
            self._sleep(wait)
