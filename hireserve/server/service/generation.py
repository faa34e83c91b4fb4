"""GenerationService: raw streaming completions and model information."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

import hireserve
from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import invalid_argument
from hireserve.server.service.calls import deadline_of, stream_completion
from hireserve.server.service.convert import FINISH_REASONS, sampling_from_proto, usage_of
from hireserve.server.service.rpc import ServiceState, request_id, stream, unary
from hireserve.server.service.schema_compiler import SchemaAdmission
from hireserve.v1 import common_pb2, generation_pb2, generation_pb2_grpc


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, engine: AsyncEngine, state: ServiceState, *, model_name: str,
                 retry_after_s: float, default_max_tokens: int,
                 max_schema_bytes: int = 64 * 1024, schema_compile_timeout_s: float = 5.0
                 ) -> None:
        self.engine = engine
        self.state = state
        self.model_name = model_name
        self.retry_after_s = retry_after_s
        self.default_max_tokens = default_max_tokens
        self.schemas = SchemaAdmission(engine, max_bytes=max_schema_bytes,
                                       compile_timeout_s=schema_compile_timeout_s)

    @stream
    async def Generate(
        self, request: generation_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[generation_pb2.GenerateResponse]:
        tokenizer = self.engine.tokenizer
        which = request.WhichOneof("input")
        if which == "prompt":
            if not request.prompt:
                raise invalid_argument("prompt", "the prompt is empty")
            # Tokenizing a long prompt takes milliseconds: off the event loop.
            prompt_ids = await asyncio.to_thread(tokenizer.encode, request.prompt)
            field = "prompt"
        elif which == "chat":
            if not request.chat.messages:
                raise invalid_argument("chat.messages", "no chat messages")
            for i, m in enumerate(request.chat.messages):
                if m.role not in ("system", "user", "assistant"):
                    raise invalid_argument(f"chat.messages[{i}].role",
                                           f"unknown role {m.role!r}")
            messages = [{"role": m.role, "content": m.content} for m in request.chat.messages]
            prompt_ids = await asyncio.to_thread(
                tokenizer.apply_chat_template, messages, add_generation_prompt=True)
            field = "chat"
        else:
            raise invalid_argument("input", "set prompt or chat")
        params = sampling_from_proto(
            request.sampling,
            field="sampling",
            default=SamplingParams(temperature=1.0),
            max_tokens=request.max_tokens or self.default_max_tokens,
            ignore_eos=request.ignore_eos,
            json_schema=request.json_schema or None,
        )
        if request.json_schema:  # validated and compiled here, never on the engine thread
            await self.schemas.admit(request.json_schema)
        stops = [s for s in request.stop if s]
        hold = max((len(s) for s in stops), default=1) - 1
        pending = ""
        stream = stream_completion(
            self.engine, prompt_ids, params, deadline=deadline_of(context),
            request_id=f"gen-{request_id()}", field=field,
            retry_after_s=self.retry_after_s,
        )
        async for out in stream:
            pending += out.new_text
            hit = _first_stop(pending, stops)
            if hit is not None:  # stop string: cut before it, end the request
                yield generation_pb2.GenerateResponse(
                    text=pending[:hit],
                    finish_reason=common_pb2.FINISH_REASON_STOP,
                    usage=usage_of(out),
                )
                await stream.aclose()  # aborts the sequence, frees its blocks
                return
            if out.finished:
                yield generation_pb2.GenerateResponse(
                    text=pending, finish_reason=FINISH_REASONS[out.finish_reason],
                    usage=usage_of(out),
                )
                return
            emit = len(pending) - hold
            if emit > 0:
                yield generation_pb2.GenerateResponse(text=pending[:emit])
                pending = pending[emit:]

    @unary
    async def GetModelInfo(
        self, request: generation_pb2.GetModelInfoRequest, context: grpc.aio.ServicerContext
    ) -> generation_pb2.GetModelInfoResponse:
        info = self.engine.info
        return generation_pb2.GetModelInfoResponse(
            model=self.model_name,
            context_length=info.context_length,
            dtype=info.dtype,
            tensor_parallel_size=info.tensor_parallel_size,
            attention_backend=info.attention_backend,
            build_version=hireserve.__version__,
        )


def _first_stop(text: str, stops: list[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None
