"""The offline API, like vLLM's: `LLM(model, **engine_args).generate(prompts, sampling_params)`.

It drives the same scheduler and runner as the server, on the caller's thread, without gRPC.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence as Seq
from typing import Any

from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.llm_engine import LLMEngine
from hireserve.server.engine.outputs import CompletionOutput, TokenLogprobs
from hireserve.server.engine.sampling_params import SamplingParams

Prompt = str | list[int]


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
        if isinstance(prompts, str) or (
            isinstance(prompts, list) and prompts and isinstance(prompts[0], int)
        ):
            prompts = [prompts]
        prompt_list = list(prompts)
        if sampling_params is None:
            sampling_params = SamplingParams()
        if isinstance(sampling_params, SamplingParams):
            params_list = [sampling_params] * len(prompt_list)
        else:
            params_list = list(sampling_params)
            if len(params_list) != len(prompt_list):
                raise ValueError("give one SamplingParams, or one per prompt")

        order: dict[str, int] = {}
        token_lists: list[list[int]] = []
        for i, (prompt, params) in enumerate(zip(prompt_list, params_list, strict=True)):
            ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
            token_lists.append(ids)
            request_id = f"offline-{next(self._ids)}"
            order[request_id] = i
            self.engine.add_request(request_id, ids, params)

        results: list[CompletionOutput | None] = [None] * len(prompt_list)
        tokens: dict[str, list[int]] = {rid: [] for rid in order}
        texts: dict[str, list[str]] = {rid: [] for rid in order}
        logprobs: dict[str, list[TokenLogprobs]] = {}
        while self.engine.has_unfinished():
            for out in self.engine.step():
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
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"the engine stopped with prompts {missing} unfinished")
        return results  # type: ignore[return-value]
