"""Constrained decoding is valid by construction: with random weights and random sampling, every
answer parses against its schema, within the max_tokens the budget computed."""

from __future__ import annotations

import json

import pytest

from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.prompts import (
    QuestionMix,
    build_screen_messages,
    parse_questions_result,
    parse_screen_result,
    questions_schema,
    screen_schema,
)
from hireserve.server.prompts.budget import worst_case_tokens


@pytest.fixture(scope="module")
def llm(tiny_chat) -> LLM:
    return LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=2048,
               max_num_batched_tokens=512, max_num_seqs=16)


def _prompt(llm: LLM) -> list[int]:
    messages = build_screen_messages("Senior Rust engineer.", "Jane: 8 years of Rust.", "en")
    return llm.tokenizer.apply_chat_template(messages)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_random_weights_always_give_a_parseable_screen_answer(llm, temperature) -> None:
    schema = screen_schema()
    budget = worst_case_tokens(schema)
    params = [SamplingParams(temperature=temperature, seed=seed, max_tokens=budget,
                             json_schema=json.dumps(schema)) for seed in range(6)]
    outputs = llm.generate([_prompt(llm)] * len(params), params)
    for out in outputs:
        assert out.finish_reason == "stop", "the grammar must end the answer, not max_tokens"
        result = parse_screen_result(out.text)
        assert 0 <= result.match_score <= 100
    assert llm.engine.runner.structured.failures == 0


def test_random_weights_give_the_requested_question_mix(llm) -> None:
    mix = QuestionMix(technical=2, behavioural=1, open_ended=1)
    schema = questions_schema(5, mix)
    params = [SamplingParams(temperature=1.0, seed=seed, max_tokens=worst_case_tokens(schema),
                             json_schema=json.dumps(schema)) for seed in range(4)]
    for out in llm.generate([_prompt(llm)] * len(params), params):
        assert out.finish_reason == "stop"
        result = parse_questions_result(out.text, 5, mix)
        assert [q.type.value for q in result.questions[:4]] == [
            "technical", "technical", "behavioural", "open_ended"]


def test_constrained_and_free_requests_share_a_batch(llm) -> None:
    schema = json.dumps(screen_schema(0.125))
    free = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
    constrained = SamplingParams(temperature=0.0, max_tokens=2000, json_schema=schema)
    prompt = _prompt(llm)
    alone_free = llm.generate([prompt], free)[0].token_ids
    both = llm.generate([prompt, prompt], [free, constrained])
    assert both[0].token_ids == alone_free  # the mask touched only its own row
    parse_screen_result(both[1].text)
