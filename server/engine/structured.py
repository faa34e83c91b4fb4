"""Structured output: decoding constrained by xgrammar to a JSON schema, valid by construction.

The engine compiles each schema once (the Screen schema is the same for every request of a
prompt version) and keeps one `GrammarMatcher` per constrained sequence. Before sampling, the
runner asks each matcher for its token bitmask; after sampling, the engine feeds it the token.
Once the JSON is complete the matcher allows only the stop tokens, so the sequence ends by EOS.
xgrammar is imported here only, so the engine loads without it when nothing is constrained.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import torch


class StructuredOutputError(RuntimeError):
    """The grammar refused a sampled token: a bug, counted and surfaced, never swallowed."""


class GrammarCompilerCache:
    def __init__(self, hf_tokenizer: Any, vocab_size: int, stop_token_ids: list[int]) -> None:
        import xgrammar as xgr

        self._xgr = xgr
        self.vocab_size = vocab_size
        info = xgr.TokenizerInfo.from_huggingface(
            hf_tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_token_ids)
        )
        self._compiler = xgr.GrammarCompiler(info)
        self._lock = threading.Lock()  # compile may be called from the asyncio side too

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one cache per engine, lives as long
    def compile(self, schema_json: str) -> Any:
        with self._lock:
            # No free whitespace: a weak model would otherwise pad forever.
            return self._compiler.compile_json_schema(
                schema_json, any_whitespace=False, strict_mode=True
            )

    def matcher(self, schema_json: str) -> GrammarState:
        return GrammarState(self._xgr, self._xgr.GrammarMatcher(self.compile(schema_json)))

    def allocate_bitmask(self, rows: int) -> torch.Tensor:
        return self._xgr.allocate_token_bitmask(rows, self.vocab_size)

    @staticmethod
    def reset_bitmask(bitmask: torch.Tensor) -> None:
        bitmask.fill_(-1)  # all bits set: every token allowed in unconstrained rows


class GrammarState:
    """The matcher of one sequence."""

    def __init__(self, xgr: Any, matcher: Any) -> None:
        self._xgr = xgr
        self._matcher = matcher

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        self._matcher.fill_next_token_bitmask(bitmask, row)

    def accept(self, token_id: int) -> None:
        if self._matcher.is_terminated():
            return  # the stop token that ended it: nothing more to check
        if not self._matcher.accept_token(token_id):
            raise StructuredOutputError(f"grammar rejected token {token_id}")

    @property
    def is_terminated(self) -> bool:
        return bool(self._matcher.is_terminated())
