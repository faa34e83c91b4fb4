"""The path every ScreeningService call shares: read the document, ask the model, audit.

    ModelCalls._prepare(doc, options, field)   Document -> PreparedResume (worker process)
    ModelCalls._answer(messages, schema, parse) chat template -> fitted schema -> constrained
                                                decode -> parsed value
    ModelCalls._audit(...)                       one audit record per decision

ScreeningServicer (service/screening.py) adds the RPCs and the prompts on top.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
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
from hireserve.server.prompts import AnswerError
from hireserve.server.prompts.budget import fit_schema
from hireserve.server.service.calls import Completion, run_completion
from hireserve.server.service.convert import sampling_from_proto, usage_of
from hireserve.server.service.resume import PreparedResume, read_resume
from hireserve.server.service.rpc import ServiceState
from hireserve.v1 import common_pb2, screening_pb2

# Screening is a decision: greedy by default, so the same inputs give the same answer.
DEFAULT_SAMPLING = SamplingParams(temperature=0.0)


@dataclass
class Answer:
    value: Any  # ScreenResult or QuestionsResult
    completion: Completion
    language: str
    params: SamplingParams

    def usage(self) -> common_pb2.Usage:
        return usage_of(self.completion.last)


class ModelCalls:
    def __init__(self, engine: AsyncEngine, state: ServiceState, config: ServerConfig, *,
                 model_name: str) -> None:
        self.engine = engine
        self.state = state
        self.config = config
        self.model_name = model_name

    async def _audit(self, rid: str, method: str, template: Any, answer: Answer,
                     started: float, inputs: dict[str, Any], response: Any,
                     derived: dict[str, Any] | None = None) -> None:
        """One record per decision, when --audit-log is set: hashes of the inputs (never the
        texts), the prompt and schema versions, sampling and seed, the typed result with every
        field (a score of 0 is a decision too), plus `derived` values the server computed on
        the way (screen_v2: the requirements' sha256), which are not inputs a reviewer brings."""
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
            result={**MessageToDict(response, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True),
                    **(derived or {})},
            latency_s=time.perf_counter() - started,
        )
        await asyncio.to_thread(audit.append, record)  # fsync may block on the disk

    async def _prepare(self, doc: common_pb2.Document, options: screening_pb2.ScreenOptions,
                       field: str, *, blind: bool | None = None) -> PreparedResume:
        metrics = self.state.metrics
        blind = options.blind_screening if blind is None else blind
        try:
            prepared = await read_resume(self.state.documents, doc, field=field, blind=blind)
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
                      language: str, logprobs: int | None = None) -> Answer:
        tokenizer = self.engine.tokenizer
        prompt_ids = await asyncio.to_thread(tokenizer.apply_chat_template, messages)
        context_len = self.engine.engine.max_model_len
        try:
            schema, max_tokens = fit_schema(build_schema, context_len - len(prompt_ids))
        except ValueError as exc:
            raise invalid_argument(
                field, f"the prompt is {len(prompt_ids)} tokens and the model's context is "
                       f"{context_len}: too little room for the answer ({exc})") from exc
        schema_json = json.dumps(schema)
        structured = self.engine.engine.runner.structured
        if structured is not None:
            # A screen_v2 grammar is new for each resume's line count: compile it here, on a
            # worker thread, not on the engine thread between steps of everyone else.
            await asyncio.to_thread(structured.precompile, schema_json)
        params = sampling_from_proto(
            options.sampling, field="options.sampling", default=DEFAULT_SAMPLING,
            max_tokens=max_tokens, json_schema=schema_json, logprobs=logprobs,
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


def document_content(doc: common_pb2.Document) -> str | bytes:
    return doc.text if doc.WhichOneof("content") == "text" else doc.data


def _declared_format(doc: common_pb2.Document) -> str:
    """For the documents metric when reading failed: what the caller said the document was."""
    if doc.WhichOneof("content") == "text":
        return "text"
    declared = declared_format(doc.media_type, doc.filename)
    return declared if declared not in (None, "other") else "unknown"
