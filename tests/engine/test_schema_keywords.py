"""The keyword rules of service/schemas.py, checked against xgrammar itself.

Every keyword the admission refuses is one xgrammar lets a violating value through (so if a
new xgrammar starts enforcing it, the test says so and the rule can go); every keyword it
allows is one whose violations the compiled grammar rejects."""

from __future__ import annotations

import json

import pytest

from hireserve.server.errors import ServiceError
from hireserve.server.service.schemas import parse_schema, unsupported_keywords

# (schema, a JSON value that violates it) for keywords xgrammar 0.2.x does not enforce.
IGNORED = {
    "allOf": ({"allOf": [{"type": "integer"}, {"maximum": 3}]}, 5),
    "oneOf": ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1),
    "not": ({"type": "integer", "not": {"const": 3}}, 3),
    "if": ({"type": "integer", "if": {"minimum": 0}, "then": {"const": 1}}, 2),
    "uniqueItems": ({"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                    [1, 1]),
    "contains": ({"type": "array", "items": {"type": "integer"}, "contains": {"const": 5}},
                 [1]),
    "dependentRequired": ({"type": "object", "properties": {"a": {"type": "integer"},
                                                             "b": {"type": "integer"}},
                           "dependentRequired": {"a": ["b"]}}, {"a": 1}),
    "multipleOf": ({"type": "number", "multipleOf": 0.5}, 0.3),
    "maximum": ({"maximum": 5}, 7),  # no "type": ignored
    "minLength": ({"minLength": 3}, "a"),  # no "type": ignored
    "pattern": ({"type": "string", "pattern": "^(?=a)\\w+$"}, "b"),  # lookahead
    "format": ({"type": "string", "format": "idn-email"}, "x"),
    "$ref": ({"$ref": "http://example.com/schema.json"}, "x"),
}
# (schema, violating value, valid value) for keywords the admission lets through.
ENFORCED = {
    "maximum": ({"type": "integer", "maximum": 5}, 7, 3),
    "exclusiveMinimum": ({"type": "number", "exclusiveMinimum": 1}, 1, 2),
    "maxLength": ({"type": "string", "maxLength": 3}, "abcdef", "ab"),
    "pattern": ({"type": "string", "pattern": "^[0-9]{3}$"}, "12", "123"),
    "format": ({"type": "string", "format": "date"}, "nope", "2020-01-01"),
    "minItems": ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1], [1, 2]),
    "required": ({"type": "object", "properties": {"a": {"type": "integer"}},
                  "required": ["a"]}, {}, {"a": 1}),
    "anyOf": ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, True, 1),
    "enum": ({"enum": [1, "a"]}, 2, "a"),
    "$ref": ({"$defs": {"i": {"type": "integer"}}, "$ref": "#/$defs/i"}, "x", 1),
    "maxProperties": ({"type": "object", "properties": {"a": {"type": "integer"},
                                                         "b": {"type": "integer"}},
                       "maxProperties": 1}, {"a": 1, "b": 2}, {"a": 1}),
}


@pytest.fixture(scope="module")
def accepts(smollm2_tokenizer):
    import xgrammar as xgr

    eos = sorted(smollm2_tokenizer.eos_token_ids)
    info = xgr.TokenizerInfo.from_huggingface(smollm2_tokenizer.hf, stop_token_ids=eos)
    compiler = xgr.GrammarCompiler(info)

    def run(schema: dict, value: object) -> bool:
        grammar = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False,
                                               strict_mode=True)
        matcher = xgr.GrammarMatcher(grammar)
        return matcher.accept_string(json.dumps(value)) and matcher.accept_token(eos[0])

    return run


def _refused(schema: dict) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        parse_schema(json.dumps(schema), max_bytes=65536)
    return info.value


@pytest.mark.parametrize("keyword", sorted(IGNORED))
def test_refused_keywords_are_ones_xgrammar_ignores(keyword, accepts) -> None:
    schema, violating = IGNORED[keyword]
    assert accepts(schema, violating), f"xgrammar now enforces {keyword}: allow it"
    err = _refused(schema)
    assert err.field == "json_schema" and keyword in err.message


@pytest.mark.parametrize("keyword", sorted(ENFORCED))
def test_allowed_keywords_are_enforced_by_xgrammar(keyword, accepts) -> None:
    schema, violating, valid = ENFORCED[keyword]
    assert unsupported_keywords(schema) == []
    parse_schema(json.dumps(schema), max_bytes=65536)
    assert not accepts(schema, violating) and accepts(schema, valid)


def test_violations_name_the_keyword_and_where_it_is() -> None:
    schema = {"type": "object", "properties": {
        "age": {"type": "integer", "multipleOf": 2},
        "tags": {"type": "array", "items": {"type": "string", "format": "regex"}}}}
    found = {(v.pointer, v.keyword) for v in unsupported_keywords(schema)}
    assert found == {("/properties/age", "multipleOf"),
                     ("/properties/tags/items", "format")}
    message = _refused(schema).message
    assert "/properties/age: multipleOf" in message


@pytest.mark.parametrize("text, why", [
    ('{"type": "foo"}', "not a valid JSON Schema"),
    ('{"type": "string"', "not valid JSON"),
    ("[1, 2]", "is an object"),
    ('{"maxLenght": 3, "type": "string"}', "maxLenght"),
    ("[" * 5000 + "]" * 5000, "not valid JSON"),
])
def test_malformed_schemas_are_refused_with_a_reason(text, why) -> None:
    with pytest.raises(ServiceError) as info:
        parse_schema(text, max_bytes=65536)
    assert why in info.value.message and info.value.field == "json_schema"


def test_the_size_cap_is_in_bytes() -> None:
    schema = json.dumps({"type": "string", "description": "é" * 40}, ensure_ascii=False)
    assert len(schema) < 100 < len(schema.encode())
    with pytest.raises(ServiceError, match="bytes"):
        parse_schema(schema, max_bytes=100)
    parse_schema(schema, max_bytes=200)


def test_nesting_is_capped() -> None:
    schema: dict = {"type": "integer"}
    for _ in range(40):
        schema = {"type": "array", "items": schema}
    assert any(v.keyword == "(nesting)" for v in unsupported_keywords(schema))
