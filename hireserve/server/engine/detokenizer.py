"""Incremental detokenization for streaming: text is emitted only once its characters are whole.

A byte-level BPE token can end in the middle of a UTF-8 character (CJK, Arabic, emoji), and
some tokenizers change how a token decodes depending on what precedes it (leading spaces). So
each step decodes a short window twice, from `prefix_offset` up to `read_offset` (already
emitted) and up to the end, and emits the difference, unless it ends in U+FFFD, the mark of an
unfinished character, in which case it waits for the next token. This is the prefix/read offset
scheme of vLLM and text-generation-inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

REPLACEMENT_CHAR = "\ufffd"
# Prompt tokens kept as context before the first output token, so its leading space decodes as
# it would mid-text (SentencePiece tokenizers drop a leading space at the start of a decode).
PROMPT_CONTEXT_TOKENS = 5


class Decoder(Protocol):
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str: ...


class IncrementalDetokenizer:
    def __init__(
        self,
        tokenizer: Decoder,
        prompt_token_ids: Sequence[int] | None = None,
        skip_special_tokens: bool = True,
    ) -> None:
        self._tokenizer = tokenizer
        self._skip_special_tokens = skip_special_tokens
        # Only the prompt's tail is kept: it is context for decoding, never emitted.
        self._ids: list[int] = list(prompt_token_ids or ())[-PROMPT_CONTEXT_TOKENS:]
        self._prefix_offset = 0
        self._read_offset = len(self._ids)
        self._chunks: list[str] = []

    @property
    def text(self) -> str:
        """All text emitted so far (held-back bytes of an unfinished character excluded)."""
        return "".join(self._chunks)

    def push(self, new_token_ids: Sequence[int]) -> str:
        """Add generated tokens; return the newly completed text ("" while a character is
        still unfinished)."""
        self._ids.extend(new_token_ids)
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        if len(new_text) <= len(prefix_text) or new_text.endswith(REPLACEMENT_CHAR):
            return ""
        delta = new_text[len(prefix_text) :]
        self._prefix_offset = self._read_offset
        self._read_offset = len(self._ids)
        self._chunks.append(delta)
        return delta

    def flush(self) -> str:
        """At the end of generation: whatever is still held back, unfinished character
        included (it decodes as U+FFFD, as a full decode would)."""
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        delta = new_text[len(prefix_text) :]
        self._prefix_offset = self._read_offset = len(self._ids)
        if delta:
            self._chunks.append(delta)
        return delta

    def _decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=self._skip_special_tokens)

    def __repr__(self) -> str:  # no token ids or text: they may be personal data
        return f"IncrementalDetokenizer(emitted_chars={sum(len(c) for c in self._chunks)})"
