"""What a prompt template provides, whichever way its answer is read.

    ScoredTemplate      shared prefix + one short question each; the answer is read from the
                        next-token probabilities of a few answer words (nothing generated)
    GeneratedTemplate   messages + a JSON schema the decoding is constrained to + a parser

`question_prompts` turns a scored template's prefix and questions into token ids so that every
question starts with the very same prefix tokens: the engine's prefix cache then computes the
prefix (the system prompt and the resume) once for all of its questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# Marks where the question goes in the rendered chat; never in user text (fence.defuse and
# the chat template leave it alone: it is plain ASCII that no resume is likely to hold, and
# the text around it is split on it only once).
_SLOT = "\x00QUESTION\x00"
BODY_SLOT = "\x00BODY\x00"  # where a document's rows go, one per line (sectioned_prompts)


class ChatTokenizer(Protocol):
    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]: ...

    def render_chat(self, messages: list[dict[str, str]],
                    add_generation_prompt: bool = True) -> str: ...


class ScoredTemplate(Protocol):
    PROMPT_VERSION: str

    def prefix_messages(self, document: str) -> list[dict[str, str]]:
        """The chat with the question slot at the end of the last user message."""
        ...

    def question(self, item: str) -> str: ...

    def answer_words(self) -> dict[str, tuple[str, ...]]:
        """Answer name -> the words that spell it (first token of each is a candidate)."""
        ...


class GeneratedTemplate(Protocol):
    PROMPT_VERSION: str
    SCHEMA_VERSION: str

    def messages(self, *args: Any) -> list[dict[str, str]]: ...

    def schema(self, scale: float) -> dict[str, Any]: ...

    def parse(self, answer: str) -> Any: ...


def with_slot(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """`messages` with the question slot appended to the last message's content."""
    *head, last = messages
    return [*head, {**last, "content": last["content"] + _SLOT}]


def question_prompts(tokenizer: ChatTokenizer, messages: list[dict[str, str]],
                     questions: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    """(prefix ids, one prompt per question). Each prompt = prefix ids + the ids of its
    question and of the chat's tail (end of turn, assistant header). The prefix is encoded
    once, on its own: a question can never change how the prefix is tokenized."""
    rendered = tokenizer.render_chat(with_slot(messages), add_generation_prompt=True)
    head, sep, tail = rendered.partition(_SLOT)
    if not sep or _SLOT in tail:
        raise ValueError("the chat template lost or repeated the question slot")
    prefix = tokenizer.encode(head)
    return prefix, [prefix + tokenizer.encode(q + tail) for q in questions]


def answer_candidates(tokenizer: ChatTokenizer, words: Mapping[str, tuple[str, ...]]
                      ) -> dict[str, tuple[int, ...]]:
    """Answer name -> the distinct first-token ids of its spellings ("yes", "Yes")."""
    out: dict[str, tuple[int, ...]] = {}
    seen: set[int] = set()
    for name, spellings in words.items():
        ids: list[int] = []
        for word in spellings:
            encoded = tokenizer.encode(word)
            if encoded and encoded[0] not in seen:
                seen.add(encoded[0])
                ids.append(encoded[0])
        if not ids:
            raise ValueError(f"no token spells the answer {name!r}")
        out[name] = tuple(ids)
    return out


def sectioned_prompts(tokenizer: ChatTokenizer, messages: list[dict[str, str]],
                      rows: Sequence[str], questions: Sequence[str]
                      ) -> tuple[list[int], list[tuple[int, int]], list[list[int]]]:
    """Like `question_prompts`, for messages holding BODY_SLOT where `rows` go (one per line,
    each followed by a newline): also the token span [start, end) of each row in the prefix,
    for questions that ask where the model looked (ScoringParams.attention_spans). Each row is
    encoded on its own, so its tokens are exactly its span's."""
    rendered = tokenizer.render_chat(with_slot(messages), add_generation_prompt=True)
    head, sep, rest = rendered.partition(BODY_SLOT)
    middle, sep2, tail = rest.partition(_SLOT)
    if not sep or not sep2 or BODY_SLOT in rest or _SLOT in tail:
        raise ValueError("the chat template lost or repeated a slot")
    prefix = tokenizer.encode(head)
    spans: list[tuple[int, int]] = []
    for row in rows:
        ids = tokenizer.encode(row + "\n")
        spans.append((len(prefix), len(prefix) + len(ids)))
        prefix += ids
    prefix += tokenizer.encode(middle)
    return prefix, spans, [prefix + tokenizer.encode(q + tail) for q in questions]
