"""Structured output: decoding constrained by xgrammar to a JSON schema, valid by construction.

The engine compiles each schema once (the Screen schema is the same for every request of a
prompt version) and keeps one `GrammarMatcher` per constrained sequence. Before sampling, the
runner asks each matcher for its token bitmask; after sampling, the engine feeds it the token.
Once the JSON is complete the matcher allows only the stop tokens, so the sequence ends by EOS.
Where the mask allows exactly one token (keys, punctuation, the rest of an enum value), the
engine appends it without sampling (`forced_run`, see engine/fast_forward.py): token by token,
so the tokens are those sampling would give, with no retokenization of a jump-forward string.
xgrammar is imported here only, so the engine loads without it when nothing is constrained.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import torch

from hireserve.scheduler.sequence import Sequence

log = logging.getLogger(__name__)


class StructuredOutputError(RuntimeError):
    """The grammar refused a sampled token: a bug, counted (`failures`) and surfaced: the
    sequence ends with an error, the rest of the batch goes on."""


class GrammarCompilerCache:
    def __init__(self, hf_tokenizer: Any, vocab_size: int, stop_token_ids: list[int]) -> None:
        import xgrammar as xgr

        self._xgr = xgr
        self.vocab_size = vocab_size
        info = xgr.TokenizerInfo.from_huggingface(
            hf_tokenizer, vocab_size=vocab_size, stop_token_ids=sorted(stop_token_ids)
        )
        self.tokenizer_info = info  # the server's schema admission compiles with it too
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
        # The mask fast-forward computed for the current state: the next step's sampling mask
        # is the same, so it is copied instead of being computed twice per token.
        self._next_row: torch.Tensor | None = None

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        if self._next_row is not None:
            bitmask[row].copy_(self._next_row)
        else:
            self._matcher.fill_next_token_bitmask(bitmask, row)

    def accept(self, token_id: int) -> None:
        self._next_row = None
        if self._matcher.is_terminated():
            return  # the stop token that ended it: nothing more to check
        if not self._matcher.accept_token(token_id):
            raise StructuredOutputError(f"grammar rejected token {token_id}")

    @property
    def is_terminated(self) -> bool:
        return bool(self._matcher.is_terminated())

    def only_allowed_token(self, scratch: torch.Tensor) -> int | None:
        """The next token if the grammar allows exactly one, else None. `scratch` is a
        one-row bitmask the caller owns (overwritten). Forcing that token is what sampling
        would do under the mask whatever the logits, so it is exact at any temperature."""
        if self._matcher.is_terminated():
            return None
        self._matcher.fill_next_token_bitmask(scratch, 0)
        words = scratch[0]
        self._next_row = words.clone()  # valid until the next accept
        nonzero = words.nonzero()
        if nonzero.numel() != 1:
            return None
        index = int(nonzero[0, 0])
        word = int(words[index]) & 0xFFFFFFFF  # bit 31 makes the int32 negative
        if word & (word - 1):
            return None  # several bits in the one word
        return index * 32 + word.bit_length() - 1


class StructuredOutputManager:
    """The matchers of the constrained sequences in flight, keyed by sequence id. The runner
    asks it for the bitmask of a step's sampling rows and feeds it the sampled tokens."""

    def __init__(self, make_compiler: Callable[[], GrammarCompilerCache]) -> None:
        self._make_compiler = make_compiler
        self._compiler: GrammarCompilerCache | None = None
        self._states: dict[int, GrammarState] = {}
        # seq_id -> abort reason, for sequences whose grammar failed this step: the engine
        # finishes them alone (take_errors) instead of failing the whole batch.
        self._errors: dict[int, str] = {}
        self._init_lock = threading.Lock()  # `compiler` is also reached from the asyncio side
        self._scratch: torch.Tensor | None = None  # one-row bitmask for forced_token
        self.failures = 0  # tokens a grammar refused: must stay 0

    @property
    def compiler(self) -> GrammarCompilerCache:
        if self._compiler is None:  # xgrammar loads on the first constrained request
            with self._init_lock:
                if self._compiler is None:
                    self._compiler = self._make_compiler()
        return self._compiler

    def precompile(self, schema_json: str) -> None:
        """Compiles into the cache now (a server worker thread), so the engine thread finds it."""
        self.compiler.compile(schema_json)

    def take_errors(self) -> dict[int, str]:
        """The sequences whose grammar failed since the last call -> abort reason
        ("invalid_schema": it did not compile; "grammar_error": the matcher failed)."""
        errors, self._errors = self._errors, {}
        return errors

    def _fail(self, seq_id: int, reason: str) -> None:
        log.exception("structured output failed for sequence %d (%s)", seq_id, reason)
        self._errors[seq_id] = reason
        self._states.pop(seq_id, None)  # no further mask, accept or forced token for it

    def bitmask(self, seqs: list[Sequence]) -> torch.Tensor | None:
        """One row per sequence (all bits set where unconstrained); None if none is."""
        schemas = [_schema_of(s) for s in seqs]
        if not any(schemas):
            return None
        mask = self.compiler.allocate_bitmask(len(seqs))
        GrammarCompilerCache.reset_bitmask(mask)
        for row, (seq, schema) in enumerate(zip(seqs, schemas, strict=True)):
            if schema is None or seq.seq_id in self._errors:
                continue  # a failed row samples unconstrained; its token is thrown away
            state = self._states.get(seq.seq_id)
            try:
                if state is None:
                    try:
                        state = self._states[seq.seq_id] = self.compiler.matcher(schema)
                    except Exception:
                        self._fail(seq.seq_id, "invalid_schema")
                        continue
                state.fill_bitmask(mask, row)
            except Exception:
                self._fail(seq.seq_id, "grammar_error")
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
                self._fail(seq.seq_id, "grammar_error")
            except Exception:
                self._fail(seq.seq_id, "grammar_error")

    def release(self, seq_ids: Iterable[int]) -> None:
        for seq_id in seq_ids:
            self._states.pop(seq_id, None)

    @property
    def constraining(self) -> bool:
        """Whether any sequence in flight has a grammar."""
        return bool(self._states)

    def forced_run(self, seq: Sequence, limit: int) -> list[int]:
        """The tokens `seq`'s grammar forces from its state, at most `limit`: while its mask
        allows exactly one token, that token, accepted at once. Empty: unconstrained, a
        finished grammar, or a real choice next. The caller appends them all (fast-forward)."""
        state = self._states.get(seq.seq_id)
        if state is None or limit < 1:
            return []
        if self._scratch is None:
            self._scratch = self.compiler.allocate_bitmask(1)
        run: list[int] = []
        try:
            while len(run) < limit:
                token = state.only_allowed_token(self._scratch)
                # A bit past the vocabulary (mask padding) is never a token the sampler picks.
                if token is None or token >= self.compiler.vocab_size:
                    break
                state.accept(token)
                run.append(token)
        except Exception as exc:  # as in `bitmask`: this sequence ends alone, the batch goes on
            if isinstance(exc, StructuredOutputError):
                self.failures += 1
            self._fail(seq.seq_id, "grammar_error")
            return []
        return run


def _schema_of(seq: Sequence) -> str | None:
    params = seq.sampling_params
    return getattr(params, "json_schema", None) if params is not None else None
