"""Constrained decoding is valid by construction: with random weights and random sampling, every
answer parses against its schema, within the max_tokens the budget computed."""

from __future__ import annotations

import json

import pytest

from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.prompts import (
    QuestionMix,
    explain_v1,
    parse_questions_result,
    questions_schema,
)
from hireserve.server.prompts.budget import worst_case_tokens

VERDICTS = [("8 years of Rust", "must", "met", "Jane: 8 years of Rust."),
            ("Kubernetes", "nice", "missing", "")]


@pytest.fixture(scope="module")
def llm(tiny_chat) -> LLM:
    return LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=2048,
               max_num_batched_tokens=512, max_num_seqs=16)


def _prompt(llm: LLM) -> list[int]:
    return llm.tokenizer.apply_chat_template(explain_v1.messages(VERDICTS, "en"))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_random_weights_always_give_a_parseable_answer(llm, temperature) -> None:
    schema = explain_v1.schema()
    budget = worst_case_tokens(schema)
    params = [SamplingParams(temperature=temperature, seed=seed, max_tokens=budget,
                             json_schema=json.dumps(schema)) for seed in range(6)]
    outputs = llm.generate([_prompt(llm)] * len(params), params)
    for out in outputs:
        assert out.finish_reason == "stop", "the grammar must end the answer, not max_tokens"
        summary, evaluation = explain_v1.parse(out.text)
        assert 0 < len(summary) <= explain_v1.MAX_CHARS
        assert 0 < len(evaluation) <= explain_v1.MAX_CHARS
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
    schema = json.dumps(explain_v1.schema(0.125))
    free = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
    constrained = SamplingParams(temperature=0.0, max_tokens=2000, json_schema=schema)
    prompt = _prompt(llm)
    alone_free = llm.generate([prompt], free)[0].token_ids
    both = llm.generate([prompt, prompt], [free, constrained])
    assert both[0].token_ids == alone_free  # the mask touched only its own row
    explain_v1.parse(both[1].text)
