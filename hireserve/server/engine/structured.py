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
from collections.abc import Callable, Iterable
from typing import Any

import torch

from hireserve.scheduler.sequence import Sequence


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


class StructuredOutputManager:
    """The matchers of the constrained sequences in flight, keyed by sequence id. The runner
    asks it for the bitmask of a step's sampling rows and feeds it the sampled tokens."""

    def __init__(self, make_compiler: Callable[[], GrammarCompilerCache]) -> None:
        self._make_compiler = make_compiler
        self._compiler: GrammarCompilerCache | None = None
        self._states: dict[int, GrammarState] = {}
        self.failures = 0  # tokens a grammar refused: must stay 0

    @property
    def compiler(self) -> GrammarCompilerCache:
        if self._compiler is None:  # xgrammar loads on the first constrained request
            self._compiler = self._make_compiler()
        return self._compiler

    def bitmask(self, seqs: list[Sequence]) -> torch.Tensor | None:
        """One row per sequence (all bits set where unconstrained); None if none is."""
        schemas = [_schema_of(s) for s in seqs]
        if not any(schemas):
            return None
        mask = self.compiler.allocate_bitmask(len(seqs))
        GrammarCompilerCache.reset_bitmask(mask)
        for row, (seq, schema) in enumerate(zip(seqs, schemas, strict=True)):
            if schema is None:
                continue
            state = self._states.get(seq.seq_id)
            if state is None:
                state = self._states[seq.seq_id] = self.compiler.matcher(schema)
            state.fill_bitmask(mask, row)
        return mask

    def accept(self, seqs: list[Sequence], tokens: list[int]) -> None:
        for seq, token in zip(seqs, tokens, strict=True):
            state = self._states.get(seq.seq_id)
            if state is None:
                continue
            try:
                state.accept(token)
            except StructuredOutputError:
                self.failures += 1
                raise

    def release(self, seq_ids: Iterable[int]) -> None:
        for seq_id in seq_ids:
            self._states.pop(seq_id, None)


def _schema_of(seq: Sequence) -> str | None:
    params = seq.sampling_params
    return getattr(params, "json_schema", None) if params is not None else None
