"""How the screening pipeline asks the engine: scored questions and constrained answers.

    Call                                  whose request it is: request id and deadline
    Tokens                                prompt / cached / generated token counts of a decision
    ModelCalls.score(prompts, candidates) prefill-only questions, all submitted at once so the
                                          scheduler packs them and computes a shared prefix once
    ModelCalls.answer(messages, schema, parse)
                                          a JSON answer constrained to its schema (xgrammar),
                                          fitted to what the prompt leaves of the context

Everything goes through the AsyncEngine's public API. Engine outcomes become ServiceErrors here,
once: a prompt too long -> INVALID_ARGUMENT on the caller's field, a full queue ->
RESOURCE_EXHAUSTED with RetryInfo, a passed deadline -> DEADLINE_EXCEEDED, engine failure ->
INTERNAL. When one question of a group fails, the others are aborted (their KV blocks freed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.engine.errors import EngineDeadError, PromptTooLongError, QueueFullError
from hireserve.server.engine.outputs import ScoreOutput
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import ServiceError, invalid_argument, resource_exhausted
from hireserve.server.prompts import AnswerError
from hireserve.server.prompts.budget import fit_schema
from hireserve.server.service.calls import Completion, aborted_error, run_completion

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    request_id: str
    deadline: float | None = None  # time.monotonic(); None: none


@dataclass(frozen=True)
class Tokens:
    prompt: int = 0
    cached: int = 0
    generated: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.prompt + other.prompt, self.cached + other.cached,
                      self.generated + other.generated)

    @classmethod
    def of_scores(cls, outputs: Sequence[ScoreOutput]) -> Tokens:
        return cls(sum(o.num_prompt_tokens for o in outputs),
                   sum(o.num_cached_tokens for o in outputs))


@dataclass(frozen=True)
class Answer:
    value: Any
    completion: Completion
    params: SamplingParams

    @property
    def tokens(self) -> Tokens:
        last = self.completion.last
        return Tokens(last.num_prompt_tokens, last.num_cached_tokens, last.num_output_tokens)


class ModelCalls:
    def __init__(self, engine: AsyncEngine, *, retry_after_s: float) -> None:
        self.engine = engine
        self.retry_after_s = retry_after_s

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    async def score(self, prompts: Sequence[list[int]], candidates: Sequence[int], call: Call,
                    *, field: str, tag: str = "q",
                    attention_spans: Sequence[tuple[int, int]] = ()) -> list[ScoreOutput]:
        """One ScoreOutput per prompt, in order. All are submitted before any is awaited.
        `attention_spans`: prompt spans each answer reports its attention over (shared)."""
        if not prompts:
            return []

        async def one(i: int, ids: list[int]) -> ScoreOutput:
            try:
                out = await self.engine.score(ids, candidates, deadline=call.deadline,
                                              request_id=f"{call.request_id}-{tag}{i}",
                                              attention_spans=attention_spans)
            except PromptTooLongError as exc:
                raise invalid_argument(field, str(exc)) from exc
            except QueueFullError as exc:
                raise resource_exhausted(str(exc), self.retry_after_s) from exc
            except EngineDeadError as exc:
                raise ServiceError(grpc.StatusCode.INTERNAL, "the engine is not running") from exc
            if out.finish_reason == "abort":
                raise aborted_error(out.abort_reason)
            return out

        return await all_or_none([one(i, ids) for i, ids in enumerate(prompts)])

    async def answer(self, messages: list[dict[str, str]],
                     build_schema: Callable[[float], dict[str, Any]],
                     parse: Callable[[str], T], params: SamplingParams, call: Call, *,
                     field: str, tag: str = "a") -> Answer:
        """A JSON answer constrained to the largest scaling of its schema that fits."""
        prompt_ids = await asyncio.to_thread(self.tokenizer.apply_chat_template, messages)
        context_len = self.engine.info.context_length
        try:
            schema, max_tokens = fit_schema(build_schema, context_len - len(prompt_ids))
        except ValueError as exc:
            raise invalid_argument(
                field, f"the prompt is {len(prompt_ids)} tokens and the model's context is "
                       f"{context_len}: too little room for the answer ({exc})") from exc
        schema_json = json.dumps(schema)
        # A schema new to the engine compiles on a worker thread, not between everyone's steps.
        await self.engine.precompile_schema(schema_json)
        params = dataclasses.replace(params, max_tokens=max_tokens, json_schema=schema_json)
        completion = await run_completion(
            self.engine, prompt_ids, params, deadline=call.deadline,
            request_id=f"{call.request_id}-{tag}", field=field,
            retry_after_s=self.retry_after_s)
        try:
            value = parse(completion.text)
        except AnswerError as exc:  # impossible under the grammar: our bug if it happens
            raise ServiceError(grpc.StatusCode.INTERNAL,
                               f"the model's answer did not parse: {exc}") from exc
        return Answer(value, completion, params)


async def all_or_none(awaitables: Sequence[Any]) -> list[Any]:
    """Like asyncio.gather, but the first failure (or our own cancellation) cancels the rest
    and is raised once they have ended: no question outlives the call that asked it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
