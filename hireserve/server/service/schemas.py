"""Admission of a caller's JSON schema before it reaches the engine.

A schema is checked here, off the engine thread, so that no request can make the engine fail:
size cap, JSON, JSON Schema meta-schema (the `jsonschema` package), and a walk that rejects
every keyword xgrammar 0.2.x would silently ignore. An ignored keyword means output that
violates the schema the caller asked for, so it is refused, not ignored. What is refused was
measured against xgrammar 0.2.9 (a schema compiled, strings that violate the keyword fed to the
matcher; tests/engine/test_schema_keywords.py keeps those claims honest):

- not enforced at all: allOf, oneOf (exclusivity), not, if/then/else, dependentRequired,
  dependentSchemas, dependencies, contains/minContains/maxContains, uniqueItems: true,
  multipleOf (wrong for numbers and negative integers), a $ref that is not local ("#..."),
  regex lookaround in `pattern`, and `format`s outside _ENFORCED_FORMATS;
- numeric and string keywords (maximum, minLength, pattern...) in a schema without "type":
  xgrammar applies them only when the type says number/integer/string.
Keywords the spec treats as annotations (title, description, default, ...) are allowed.
Anything else unknown (a typo such as "maxLenght") is refused too: it would be ignored.

Compiling (which can take minutes for a 54-byte pattern such as `^([a-z]{1,50}){1,50}$`) is
service/schema_compiler.py's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hireserve.server.errors import invalid_argument

FIELD = "json_schema"
MAX_DEPTH = 32  # nesting of subschemas; deep recursion in the compiler is not worth the risk

# Keywords whose value is one subschema / a list of them / a name -> subschema map.
_ONE = {"additionalProperties", "items", "propertyNames", "unevaluatedProperties",
        "unevaluatedItems"}
_LIST = {"anyOf", "prefixItems"}
_MAP = {"properties", "patternProperties", "$defs", "definitions"}
# Enforced keywords whose value is data, not a subschema.
_DATA = {"type", "enum", "const", "required", "minItems", "maxItems", "minProperties",
         "maxProperties", "minLength", "maxLength", "pattern", "format", "minimum",
         "maximum", "exclusiveMinimum", "exclusiveMaximum", "$ref", "uniqueItems"}
_ANNOTATIONS = {"$schema", "$id", "$anchor", "$comment", "$vocabulary", "title", "description",
                "default", "examples", "deprecated", "readOnly", "writeOnly",
                "contentEncoding", "contentMediaType", "contentSchema"}
_NUMERIC = frozenset({"integer", "number"})
_STRING = frozenset({"string"})
_NEEDS_TYPE = {  # keyword -> the types under which xgrammar enforces it
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), _NUMERIC),
    **dict.fromkeys(("minLength", "maxLength", "pattern", "format"), _STRING),
}
_ENFORCED_FORMATS = {"date", "time", "date-time", "duration", "email", "hostname", "ipv4",
                     "ipv6", "uri", "uri-reference", "uri-template", "uuid", "json-pointer"}
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


@dataclass(frozen=True)
class Violation:
    pointer: str  # JSON pointer of the offending subschema ("" is the root)
    keyword: str
    why: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.keyword} ({self.why})"


def parse_schema(text: str, *, max_bytes: int) -> Any:
    """The schema as a Python value, or INVALID_ARGUMENT naming json_schema and the reason."""
    size = len(text.encode())
    if size > max_bytes:
        raise invalid_argument(FIELD, f"the schema is {size} bytes; the limit is {max_bytes}")
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise invalid_argument(FIELD, f"not valid JSON: {exc}") from exc
    if not isinstance(schema, (dict, bool)):
        raise invalid_argument(FIELD, "a JSON schema is an object (or true/false)")
    _check_meta_schema(schema)
    violations = unsupported_keywords(schema)
    if violations:
        shown = "; ".join(str(v) for v in violations[:8])
        more = f" (and {len(violations) - 8} more)" if len(violations) > 8 else ""
        raise invalid_argument(
            FIELD, f"keywords the grammar engine cannot enforce: {shown}{more}")
    return schema


def _check_meta_schema(schema: Any) -> None:
    import jsonschema  # server extra; imported where used

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.path)
        raise invalid_argument(FIELD, f"not a valid JSON Schema at {where}: {exc.message}"
                               ) from exc
    except RecursionError as exc:
        raise invalid_argument(FIELD, "the schema is nested too deeply") from exc


def unsupported_keywords(schema: Any) -> list[Violation]:
    """Every keyword (with its JSON pointer) whose constraint xgrammar would not enforce."""
    out: list[Violation] = []
    _walk(schema, "", 0, out)
    return out


def _walk(node: Any, pointer: str, depth: int, out: list[Violation]) -> None:
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        return  # the meta-schema check already refused it
    if depth > MAX_DEPTH:
        out.append(Violation(pointer, "(nesting)", f"deeper than {MAX_DEPTH} subschemas"))
        return
    types = node.get("type")
    type_set = set(types) if isinstance(types, list) else {types} if types else set()
    for key, value in node.items():
        here = f"{pointer}/{_escape(key)}"
        if key in _ONE:
            _walk(value, here, depth + 1, out)
        elif key in _LIST:
            for i, sub in enumerate(value if isinstance(value, list) else ()):
                _walk(sub, f"{here}/{i}", depth + 1, out)
        elif key in _MAP:
            for name, sub in (value.items() if isinstance(value, dict) else ()):
                _walk(sub, f"{here}/{_escape(name)}", depth + 1, out)
        elif key in _DATA:
            why = _data_problem(key, value, type_set)
            if why:
                out.append(Violation(pointer, key, why))
        elif key not in _ANNOTATIONS:
            out.append(Violation(pointer, key, _REASONS.get(key, "not supported")))


def _data_problem(key: str, value: Any, types: set[str]) -> str | None:
    needs = _NEEDS_TYPE.get(key)
    if needs and not types & needs:
        return f"applies only with \"type\": {' or '.join(sorted(needs))}"
    if key == "format" and value not in _ENFORCED_FORMATS:
        return f"format {value!r} is not enforced"
    if key == "pattern" and isinstance(value, str) and any(s in value for s in _LOOKAROUND):
        return "regex lookaround is not supported"
    if key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
        return "only local references (#/...) are resolved"
    if key == "uniqueItems" and value is True:
        return "uniqueness is not enforced"
    return None


_REASONS = {
    "allOf": "not enforced; merge the subschemas",
    "oneOf": "exclusivity not enforced; use anyOf",
    "not": "not enforced",
    "if": "conditionals are not enforced", "then": "conditionals are not enforced",
    "else": "conditionals are not enforced",
    "multipleOf": "not enforced for numbers or negative integers",
    "contains": "not enforced", "minContains": "not enforced", "maxContains": "not enforced",
    "dependentRequired": "not enforced", "dependentSchemas": "not enforced",
    "dependencies": "not enforced",
    "additionalItems": "draft-07 tuples are not supported; use prefixItems",
    "$dynamicRef": "not supported", "$recursiveRef": "not supported",
}


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
