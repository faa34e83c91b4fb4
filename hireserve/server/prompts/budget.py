"""How many tokens an answer can take at most, so constrained decoding always completes.

Strings in our answer schemas are bounded and, as xgrammar compiles them, hold no backslash
(`text_field`): no escape sequences, so a string of at most N characters is at most 4N UTF-8
bytes. Every token of a byte-level BPE vocabulary emits at least one byte, so an answer can
never need more tokens than its longest possible encoding has bytes. Giving the request that
many tokens (plus one for the stop token) means max_tokens can never cut the JSON short.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_UTF8_BYTES_PER_CHAR = 4


def closed_object(properties: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """An object whose every property is required and nothing else is allowed: with the
    properties' order, this is what fixes an answer's keys and their order in the grammar."""
    head: dict[str, Any] = {"title": title} if title else {}
    return {**head, "type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def text_field(max_chars: int, min_chars: int = 0) -> dict[str, Any]:
    """A JSON-schema string of `min_chars..max_chars` characters. xgrammar compiles a bounded
    string to a repetition of `[^"\\\r\n]`: no backslash, so no escape sequence can stretch a
    character into six bytes (tests/product/test_budget.py holds xgrammar to that). Other control
    characters can appear raw; the parser reads with strict=False and strips them."""
    if not 0 <= min_chars <= max_chars:
        raise ValueError("need 0 <= min_chars <= max_chars")
    field: dict[str, Any] = {"type": "string", "maxLength": max_chars}
    if min_chars:
        field["minLength"] = min_chars
    return field


def worst_case_tokens(schema: dict[str, Any]) -> int:
    """Upper bound on the tokens of any answer the schema admits (compact JSON, as compiled
    with any_whitespace=False), plus one for the stop token."""
    return _bytes(schema) + 1


SCALES = (1.0, 0.5, 0.25, 0.125)


def fit_schema(
    build: Callable[[float], dict[str, Any]], available_tokens: int
) -> tuple[dict[str, Any], int]:
    """The largest scaling of a schema whose worst-case answer fits `available_tokens`, and
    that worst case (the request's max_tokens). Raises ValueError when even the smallest
    does not fit: the prompt leaves too little of the context for any complete answer."""
    for scale in SCALES:
        schema = build(scale)
        need = worst_case_tokens(schema)
        if need <= available_tokens:
            return schema, need
    raise ValueError(
        f"the prompt leaves {available_tokens} tokens of the context; the shortest complete "
        f"answer may need {need}"
    )


def _bytes(schema: dict[str, Any]) -> int:
    if "const" in schema:
        return len(json.dumps(schema["const"], ensure_ascii=False).encode())
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False).encode()) for v in schema["enum"])
    if "anyOf" in schema:
        return max(_bytes(branch) for branch in schema["anyOf"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        # {"k":v,"k":v}: braces, a comma between members, quotes and a colon per key. A space
        # after ':' and ',' is allowed by some separators: count it.
        total = 2 + max(len(props) - 1, 0) * 2
        for key, sub in props.items():
            total += len(json.dumps(key, ensure_ascii=False).encode()) + 2 + _bytes(sub)
        return total
    if kind == "array":
        if "maxItems" not in schema:
            raise ValueError("unbounded array: decoding could run forever")
        n = int(schema["maxItems"])
        prefix = schema.get("prefixItems", [])[:n]
        rest = n - len(prefix)
        items = sum(_bytes(p) for p in prefix)
        if rest:
            items += rest * _bytes(schema["items"])
        return 2 + items + max(n - 1, 0) * 2
    if kind == "string":
        return 2 + MAX_UTF8_BYTES_PER_CHAR * _max_chars(schema)
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None or hi is None:
            raise ValueError("unbounded integer")
        return max(len(str(int(lo))), len(str(int(hi))))
    if kind == "boolean":
        return 5
    raise ValueError(f"cannot bound schema type {kind!r}")


def _max_chars(schema: dict[str, Any]) -> int:
    if "maxLength" not in schema or "pattern" in schema:
        # xgrammar drops maxLength when a pattern is present: the string would be unbounded.
        raise ValueError("strings must come from text_field(): unbounded strings never end")
    return int(schema["maxLength"])
