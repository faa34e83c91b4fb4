"""Typed answers parsed from the model's constrained JSON; the RPC layer maps them to protobuf."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class AnswerError(ValueError):
    """The model's answer is not the JSON the schema promised (e.g. cut off by max_tokens)."""


class QuestionType(str, Enum):
    # Values are the schema's enum strings; QUESTION_TYPE_<NAME> in the proto.
    TECHNICAL = "technical"
    BEHAVIOURAL = "behavioural"
    OPEN_ENDED = "open_ended"


@dataclass(frozen=True)
class Question:
    type: QuestionType
    question: str
    probes: str


@dataclass(frozen=True)
class QuestionsResult:
    questions: tuple[Question, ...]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(text: str) -> str:
    """Raw control characters (the grammar admits them inside strings) become one space."""
    return _CONTROL.sub(" ", text).strip()


def load_object(answer: str) -> dict[str, Any]:
    try:
        # strict=False: raw control characters inside strings are legal in our grammar.
        value = json.loads(answer, strict=False)
    except json.JSONDecodeError as exc:
        # Only the position: the answer may quote the resume.
        raise AnswerError(f"answer is not valid JSON (at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise AnswerError("answer is not a JSON object")
    return value


def string(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise AnswerError(f"{key!r} must be a string")
    return clean(value)


def strings(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AnswerError(f"{key!r} must be an array of strings")
    # Models repeat themselves; keep the first of each, in order, without blanks.
    seen: dict[str, None] = {}
    for v in value:
        if clean(v):
            seen.setdefault(clean(v), None)
    return tuple(seen)
