"""The offline API, like vLLM's: `LLM(model, **engine_args).generate(prompts, sampling_params)`,
and `LLM.score(prompts, candidate_token_ids)` for prefill-only scoring requests.

It drives the same scheduler and runner as the server, on the caller's thread, without gRPC.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence as Seq
from typing import Any, TypeVar

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.llm_engine import LLMEngine
from hireserve.server.engine.outputs import CompletionOutput, ScoreOutput, TokenLogprobs
from hireserve.server.engine.sampling_params import SamplingParams, ScoringParams

Prompt = str | list[int]
_T = TypeVar("_T")


class LLM:
    def __init__(self, model: str = "default", **engine_args: Any) -> None:
        self.engine = LLMEngine(EngineArgs(model=str(model), **engine_args))
        self.tokenizer = self.engine.tokenizer
        self._ids = itertools.count()

    def generate(
        self,
        prompts: Prompt | Seq[Prompt],
        sampling_params: SamplingParams | Seq[SamplingParams] | None = None,
    ) -> list[CompletionOutput]:
        """One output per prompt, in prompt order. Strings are tokenized as they are (apply a
        chat template yourself, e.g. with `llm.tokenizer.apply_chat_template`)."""
        prompt_list = _prompt_list(prompts)
        if sampling_params is None:
            sampling_params = SamplingParams()
        if isinstance(sampling_params, SamplingParams):
            params_list = [sampling_params] * len(prompt_list)
        else:
            params_list = list(sampling_params)
            if len(params_list) != len(prompt_list):
                raise ValueError("give one SamplingParams, or one per prompt")

        token_lists = [self._tokens(p) for p in prompt_list]
        order = self._add(token_lists, params_list)
        results: list[CompletionOutput | None] = [None] * len(prompt_list)
        tokens: dict[str, list[int]] = {rid: [] for rid in order}
        texts: dict[str, list[str]] = {rid: [] for rid in order}
        logprobs: dict[str, list[TokenLogprobs]] = {}
        while self.engine.has_unfinished():
            for out in self.engine.step().outputs:
                assert not isinstance(out, ScoreOutput)
                tokens[out.request_id].extend(out.new_token_ids)
                texts[out.request_id].append(out.new_text)
                if out.new_logprobs is not None:
                    logprobs.setdefault(out.request_id, []).extend(out.new_logprobs)
                if out.finished:
                    i = order[out.request_id]
                    results[i] = CompletionOutput(
                        prompt_token_ids=token_lists[i],
                        token_ids=tokens[out.request_id],
                        text="".join(texts[out.request_id]),
                        finish_reason=out.finish_reason,
                        num_cached_tokens=out.num_cached_tokens,
                        logprobs=(logprobs.get(out.request_id, [])
                                  if params_list[i].logprobs is not None else None),
                    )
        return _all(results)

    def score(
        self,
        prompts: Prompt | Seq[Prompt],
        candidate_token_ids: Seq[int] | Seq[Seq[int]],
    ) -> list[ScoreOutput]:
        """Prefill-only scoring: for each prompt, the log-probabilities of the candidate tokens
        at its last position (nothing is generated). `candidate_token_ids` is one list for every
        prompt, or one list per prompt. Prompts sharing a prefix compute it once."""
        prompt_list = _prompt_list(prompts)
        candidates = list(candidate_token_ids)
        if candidates and all(isinstance(c, Seq) for c in candidates):
            if len(candidates) != len(prompt_list):
                raise ValueError("give one candidate list, or one per prompt")
            params_list = [ScoringParams(tuple(c)) for c in candidates]  # type: ignore[arg-type]
        else:
            params_list = [ScoringParams(tuple(candidates))] * len(prompt_list)  # type: ignore[arg-type]
        order = self._add([self._tokens(p) for p in prompt_list], params_list)
        results: list[ScoreOutput | None] = [None] * len(prompt_list)
        while self.engine.has_unfinished():
            for out in self.engine.step().outputs:
                assert isinstance(out, ScoreOutput)
                results[order[out.request_id]] = out
        return _all(results)

    def _tokens(self, prompt: Prompt) -> list[int]:
        return self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)

    def _add(self, token_lists: list[list[int]],
             params_list: Seq[SamplingParams | ScoringParams]) -> dict[str, int]:
        """Queues every prompt; -> request id -> prompt index."""
        order: dict[str, int] = {}
        for i, (ids, params) in enumerate(zip(token_lists, params_list, strict=True)):
            request_id = f"offline-{next(self._ids)}"
            order[request_id] = i
            self.engine.add_request(request_id, ids, params)
        return order


def _prompt_list(prompts: Prompt | Seq[Prompt]) -> list[Prompt]:
    if isinstance(prompts, str) or (
        isinstance(prompts, list) and prompts and isinstance(prompts[0], int)
    ):
        return [prompts]
    return list(prompts)


def _all(results: list[_T | None]) -> list[_T]:
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"the engine stopped with prompts {missing} unfinished")
    return results  # type: ignore[return-value]
