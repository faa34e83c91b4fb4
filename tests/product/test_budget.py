"""The answer budget: text fields forbid escapes and stay within their bound, and no walk of
the grammar ever needs more tokens than worst_case_tokens says."""

from __future__ import annotations

import json
import random

import pytest
import torch
import xgrammar as xg

from hireserve.server.prompts import GRAMMAR_OPTIONS, explain_v1, labels_v1, questions_schema
from hireserve.server.prompts.budget import fit_schema, text_field, worst_case_tokens

# One character per token (the worst case for a budget): ASCII letters and digits,
# JSON punctuation, a backslash, a tab, multi-byte letters; plus an end token.
VOCAB = [*"abcdefghijklmnopqrstuvwxyzJR_0123456789 {}[]:,\"\\\t-", "é", "中", "ي", "😀", "</s>"]
EOS = len(VOCAB) - 1


def _compile(schema: dict) -> xg.CompiledGrammar:
    info = xg.TokenizerInfo(VOCAB, stop_token_ids=[EOS])
    return xg.GrammarCompiler(info).compile_json_schema(json.dumps(schema), **GRAMMAR_OPTIONS)


def _random_walk(grammar: xg.CompiledGrammar, rng: random.Random, limit: int) -> list[int]:
    matcher = xg.GrammarMatcher(grammar)
    bitmask = xg.allocate_token_bitmask(1, len(VOCAB))
    tokens: list[int] = []
    while not matcher.is_terminated() and len(tokens) < limit:
        matcher.fill_next_token_bitmask(bitmask)
        allowed = [i for i in range(len(VOCAB)) if (int(bitmask[0, i // 32]) >> (i % 32)) & 1]
        # Prefer text over closing, so walks run long: that is where a bound would break.
        choice = rng.choice([t for t in allowed if t != EOS and VOCAB[t] not in '"]}'] or allowed)
        assert matcher.accept_token(choice)
        tokens.append(choice)
    return tokens


def _text(tokens: list[int]) -> str:
    return "".join(VOCAB[t] for t in tokens if t != EOS)


def test_text_field_bounds_characters_and_forbids_escapes() -> None:
    schema = {"type": "object", "properties": {"a": text_field(230, 1)}, "required": ["a"],
              "additionalProperties": False}
    grammar = _compile(schema)
    rng = random.Random(0)
    for _ in range(5):
        tokens = _random_walk(grammar, rng, 10_000)
        value = json.loads(_text(tokens), strict=False)["a"]
        assert 1 <= len(value) <= 230
        assert "\\" not in value  # no escapes: a character can't take six bytes
        assert len(tokens) <= worst_case_tokens(schema)


@pytest.mark.parametrize("build", [
    lambda: explain_v1.schema(0.125), lambda: questions_schema(5), lambda: labels_v1.schema(),
    lambda: labels_v1.schema(0.01),
], ids=["explain_v1", "questions_v1", "labels_v1", "labels_v1-smallest"])
def test_no_walk_exceeds_the_worst_case(build) -> None:
    schema = build()
    bound = worst_case_tokens(schema)
    grammar = _compile(schema)
    tokens = _random_walk(grammar, random.Random(1), bound + 100)
    assert tokens[-1] == EOS, "the walk did not finish within the bound"
    assert len(tokens) <= bound
    json.loads(_text(tokens), strict=False)  # complete JSON (raw tabs are allowed)


def test_fit_schema_shrinks_to_the_budget_or_refuses() -> None:
    full = worst_case_tokens(explain_v1.schema())
    schema, need = fit_schema(explain_v1.schema, full)
    assert need == full and schema == explain_v1.schema()
    _, smaller = fit_schema(explain_v1.schema, full // 2)
    assert smaller <= full // 2
    with pytest.raises(ValueError, match="leaves 10 tokens"):
        fit_schema(explain_v1.schema, 10)


def test_unbounded_strings_are_refused() -> None:
    with pytest.raises(ValueError):
        worst_case_tokens({"type": "string"})
    with pytest.raises(ValueError):  # xgrammar ignores maxLength beside a pattern
        worst_case_tokens({"type": "string", "maxLength": 5, "pattern": "^a*$"})
    with pytest.raises(ValueError):
        worst_case_tokens({"type": "array", "items": text_field(3)})


def test_bitmask_layout_matches_the_sampler() -> None:
    # The sampler unpacks xgrammar's bitmask itself: the layouts must agree.
    from hireserve.server.layers.sampler import unpack_bitmask

    grammar = _compile(explain_v1.schema(0.125))
    matcher = xg.GrammarMatcher(grammar)
    bitmask = xg.allocate_token_bitmask(1, len(VOCAB))
    matcher.fill_next_token_bitmask(bitmask)
    allowed = unpack_bitmask(bitmask, len(VOCAB))[0]
    logits = torch.zeros(1, len(VOCAB))
    xg.apply_token_bitmask_inplace(logits, bitmask)
    assert torch.equal(allowed, logits[0] > float("-inf"))
    assert allowed.sum() == 1 and VOCAB[int(allowed.nonzero()[0, 0])] == "{"
