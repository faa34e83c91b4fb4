"""screen_v2 and requirements_v1 schemas: xgrammar compiles them fast enough per request, accepts
the answers we parse and refuses evidence that is not a resume line."""

from __future__ import annotations

import json
import time

import pytest
import xgrammar as xg
from xgrammar.testing import _is_grammar_accept_string as grammar_accepts

from hireserve.server.prompts import GRAMMAR_OPTIONS, AnswerError, requirements_v1, screen_v2
from hireserve.server.prompts.budget import fit_schema, worst_case_tokens
from hireserve.server.prompts.screen_v2 import Verdict, parse_screen_v2, screen_v2_schema

# As the engine compiles (structured.py): no free whitespace, strict.
OPTIONS = {**GRAMMAR_OPTIONS, "strict_mode": True}


def _grammar(schema: dict) -> xg.Grammar:
    return xg.Grammar.from_json_schema(json.dumps(schema), **OPTIONS)


def _answer(r1: dict, r2: dict, **prose: str) -> str:
    obj = {"R1": r1, "R2": r2, "experience_evaluation": "Six years of Rust.",
           "summary": "Strong on Rust, no Go."}
    obj.update(prose)
    return json.dumps(obj, ensure_ascii=False)


MET = {"evidence": 3, "verdict": "met"}
NONE = {"evidence": 0, "verdict": "missing"}


def test_screen_v2_accepts_and_parses_a_valid_answer() -> None:
    grammar = _grammar(screen_v2_schema(2, 5))
    text = _answer(MET, NONE, summary="很强。")
    assert grammar_accepts(grammar, text)
    parsed = parse_screen_v2(text, 2, 5)
    assert parsed.verdicts == (Verdict(3, "met"), Verdict(None, "missing"))
    assert parsed.summary == "很强。"


@pytest.mark.parametrize("r1", [
    {"evidence": 0, "verdict": "met"},  # a verdict without evidence (0 is none)
    {"evidence": 6, "verdict": "met"},  # past the last line
    {"evidence": -1, "verdict": "met"},
    {"evidence": "none", "verdict": "missing"},  # none is 0, never a string
    {"evidence": 2, "verdict": "missing"},  # evidence for nothing
    {"evidence": "L2", "verdict": "met"},  # not a line number
    {"evidence": 2, "verdict": "great"},
    {"verdict": "met", "evidence": 2},  # evidence first: the reason before the verdict
])
def test_screen_v2_refuses_invented_or_inconsistent_evidence(r1: dict) -> None:
    text = _answer(r1, NONE)
    assert not grammar_accepts(_grammar(screen_v2_schema(2, 5)), text)
    if list(r1) == ["evidence", "verdict"]:
        with pytest.raises(AnswerError):
            parse_screen_v2(text, 2, 5)


def test_screen_v2_without_resume_lines_forces_missing() -> None:
    grammar = _grammar(screen_v2_schema(2, 0))
    assert grammar_accepts(grammar, _answer(NONE, NONE))
    assert not grammar_accepts(grammar, _answer({"evidence": 1, "verdict": "met"}, NONE))


def test_screen_v2_prose_is_bounded_and_has_no_score() -> None:
    schema = screen_v2_schema(1, 3)
    assert "match_score" not in schema["properties"]
    long = "x" * (screen_v2.MAX_SUMMARY_CHARS + 1)
    assert not grammar_accepts(_grammar(schema), json.dumps(
        {"R1": MET, "experience_evaluation": "e", "summary": long}))


def test_fit_schema_shrinks_prose_but_keeps_every_verdict() -> None:
    full = worst_case_tokens(screen_v2_schema(12, 200))
    schema, need = fit_schema(lambda s: screen_v2_schema(12, 200, s), full // 2)
    assert need <= full // 2
    assert [k for k in schema["properties"] if k.startswith("R")] == [
        f"R{i}" for i in range(1, 13)]


def test_compiles_fast_for_twelve_requirements_and_two_hundred_lines(smollm2_tokenizer) -> None:
    """Each resume has its own line count, so each Screen compiles its own grammar. The line
    number is an integer range, not an enum: the grammar stays small for any resume."""
    info = xg.TokenizerInfo.from_huggingface(smollm2_tokenizer.hf,
                                             vocab_size=len(smollm2_tokenizer.hf))
    compiler = xg.GrammarCompiler(info, cache_enabled=False)
    times = []
    for lines in (200, 201, 5000):
        schema = json.dumps(screen_v2_schema(12, lines))
        started = time.perf_counter()
        compiler.compile_json_schema(schema, **OPTIONS)
        times.append(time.perf_counter() - started)
    # ~25 ms on a 2-core CPU; generous, so a busy machine does not fail it.
    assert min(times) < 0.25, times
    assert times[2] < 4 * max(times[0], 0.02), "compile time must not grow with the lines"


def test_requirements_schema_is_one_label_per_line() -> None:
    schema = requirements_v1.requirements_schema(3)
    grammar = _grammar(schema)
    assert grammar_accepts(grammar, json.dumps({"J1": "must", "J2": "none", "J3": "nice"}))
    assert not grammar_accepts(grammar, json.dumps({"J1": "must", "J2": "none"}))
    assert not grammar_accepts(grammar, json.dumps({"J1": "must", "J2": "none", "J3": "maybe"}))
    assert requirements_v1.parse_requirements(
        json.dumps({"J1": "must", "J2": "none", "J3": "nice"}), 3) == ["must", "none", "nice"]
    with pytest.raises(AnswerError):
        requirements_v1.parse_requirements('{"J1": "must"', 1)
