"""Running one model call on behalf of an RPC: admission, deadline, cancellation, errors.

Every servicer goes through `run_completion`, so the mapping from engine outcomes to gRPC codes
lives in one place: admission errors -> INVALID_ARGUMENT / RESOURCE_EXHAUSTED, deadline ->
DEADLINE_EXCEEDED, client cancellation -> CANCELLED (the engine frees the KV blocks either way),
engine failure -> INTERNAL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import grpc

from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.engine.errors import EngineDeadError, PromptTooLongError, QueueFullError
from hireserve.server.engine.outputs import RequestOutput
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import ServiceError, invalid_argument, resource_exhausted


@dataclass
class Completion:
    token_ids: list[int]
    text: str
    last: RequestOutput
    # Aligned with token_ids when the request asked for them (SamplingParams.logprobs).
    logprobs: list[dict[int, float]] | None = None


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The call's deadline on the engine's clock (time.monotonic)."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


async def stream_completion(
    engine: AsyncEngine,
    prompt_ids: list[int],
    params: SamplingParams,
    *,
    deadline: float | None,
    request_id: str,
    field: str,
    retry_after_s: float,
) -> AsyncGenerator[RequestOutput, None]:
    """Submits and streams; `field` names the request field a too-long prompt is blamed on,
    `deadline` is on the engine's clock (see deadline_of)."""
    try:
        stream = await engine.submit(prompt_ids, params, request_id=request_id, deadline=deadline)
    except PromptTooLongError as exc:
        raise invalid_argument(field, str(exc)) from exc
    except QueueFullError as exc:
        raise resource_exhausted(str(exc), retry_after_s) from exc
    except EngineDeadError as exc:
        raise ServiceError(grpc.StatusCode.INTERNAL, "the engine is not running") from exc
    try:
        async for out in stream:
            if out.finished and out.finish_reason == "abort":
                raise aborted_error(out.abort_reason)
            yield out
    except EngineDeadError as exc:
        raise ServiceError(grpc.StatusCode.INTERNAL, f"engine failure: {exc}") from exc


async def run_completion(
    engine: AsyncEngine,
    prompt_ids: list[int],
    params: SamplingParams,
    **kwargs: object,
) -> Completion:
    ids: list[int] = []
    text: list[str] = []
    logprobs: list[dict[int, float]] | None = [] if getattr(params, "logprobs", None) else None
    last: RequestOutput | None = None
    async for out in stream_completion(engine, prompt_ids, params, **kwargs):  # type: ignore[arg-type]
        ids.extend(out.new_token_ids)
        text.append(out.new_text)
        new = getattr(out, "new_logprobs", None)
        if logprobs is not None and out.new_token_ids:
            if new is None or len(new) != len(out.new_token_ids):
                logprobs = None  # an engine without them, or a gap: none rather than misaligned
            else:
                logprobs.extend(new)
        last = out
    assert last is not None and last.finished
    return Completion(ids, "".join(text), last, logprobs)


def aborted_error(reason: str | None) -> ServiceError:
    """The error of a request the engine aborted, by the engine's abort reason."""
    if reason == "deadline":
        return ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
    if reason == "shutdown":
        return ServiceError(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
    if reason == "invalid_schema":  # admission let through what xgrammar refused
        return invalid_argument("json_schema", "the grammar engine could not compile the schema")
    if reason in ("grammar_error", "output_error"):  # this request only, logged
        return ServiceError(grpc.StatusCode.INTERNAL,
                            f"generation failed for this request ({reason})")
    return ServiceError(grpc.StatusCode.CANCELLED, f"request aborted ({reason})")
