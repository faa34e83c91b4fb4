"""The rubric prompts decoded by the tiny random model: whatever the weights and the temperature,
the answer parses, its evidence is a real line of the resume, and the verdict probabilities
read from the engine's log-probabilities are a distribution."""

from __future__ import annotations

import json

import pytest

from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.prompts import requirements_v1, screen_v2
from hireserve.server.prompts.budget import worst_case_tokens
from hireserve.server.prompts.lines import split_lines
from hireserve.server.prompts.screen_v2 import RequirementLine
from hireserve.server.service.assessment import VERDICT_LOGPROBS, verdict_probabilities

RESUME = """Experience
- Senior engineer at Acme, 6 years of Rust in production
- Tuned PostgreSQL queries for the billing team
- Mentored four engineers
Skills: Rust, Go, Python, SQL"""
REQUIREMENTS = [RequirementLine("5+ years of Rust", "must"), RequirementLine("PostgreSQL", "must"),
                RequirementLine("Kubernetes", "nice")]


@pytest.fixture(scope="module")
def llm(tiny_chat) -> LLM:
    return LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=2048,
               max_num_batched_tokens=1024, max_num_seqs=16)


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_random_weights_give_parseable_verdicts_on_real_lines(llm, temperature) -> None:
    messages, numbered = screen_v2.build_screen_v2_messages(REQUIREMENTS, split_lines(RESUME),
                                                            "en")
    k, m = len(REQUIREMENTS), len(numbered)
    assert m == 4
    schema = screen_v2.screen_v2_schema(k, m, 0.125)  # short prose: the verdicts are the test
    prompt = llm.tokenizer.apply_chat_template(messages)
    params = [SamplingParams(temperature=temperature, seed=seed, logprobs=VERDICT_LOGPROBS,
                             max_tokens=worst_case_tokens(schema), json_schema=json.dumps(schema))
              for seed in range(2)]
    for out in llm.generate([prompt] * len(params), params):
        assert out.finish_reason == "stop"
        answer = screen_v2.parse_screen_v2(out.text, k, m)
        for verdict in answer.verdicts:
            assert (verdict.evidence is None) == (verdict.verdict == "missing")
            if verdict.evidence is not None:
                assert numbered[verdict.evidence - 1].text in RESUME
        probs = verdict_probabilities(out.token_ids, out.logprobs,
                                      lambda t: llm.tokenizer.decode([t]), k)
        assert probs is not None and len(probs) == k
        for p, verdict in zip(probs, answer.verdicts, strict=True):
            assert p is not None and sum(p.values()) == pytest.approx(1.0)
            if verdict.evidence is not None:  # the line was chosen: "missing" was not certain
                assert p["missing"] < 1.0
    assert llm.engine.runner.structured.failures == 0


def test_random_weights_label_every_job_line(llm) -> None:
    lines = split_lines("Requirements:\n- Rust\n- SQL\nNice to have:\n- Go\nWe offer lunch.")
    n = len(requirements_v1.candidate_ids(lines))
    schema = requirements_v1.requirements_schema(n)
    prompt = llm.tokenizer.apply_chat_template(requirements_v1.build_requirements_messages(lines))
    out = llm.generate([prompt], SamplingParams(temperature=1.0, seed=3, json_schema=json.dumps(
        schema), max_tokens=worst_case_tokens(schema)))[0]
    assert len(requirements_v1.parse_requirements(out.text, n)) == n == 4
