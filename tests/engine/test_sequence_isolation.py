"""One sequence's failure (its grammar, its detokenizer) ends that sequence alone: it finishes
as an abort with the error as reason, its KV blocks are freed, and the sequences batched with
it produce exactly the tokens they produce without it."""

from __future__ import annotations

import json

import pytest

from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.engine.structured import GrammarState, StructuredOutputError

GREEDY = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
PROMPTS = ["The weather today", "Once upon a time", "def main():"]


@pytest.fixture(scope="module")
def llm(tiny_chat) -> LLM:
    return LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=256,
               max_num_batched_tokens=256, max_num_seqs=8)


def _run(llm: LLM, requests: dict[str, tuple[str, SamplingParams]]) -> dict[str, dict]:
    """Steps the engine until every request finished -> {id: tokens, finish and abort reason}."""
    engine = llm.engine
    result: dict[str, dict] = {rid: {"tokens": []} for rid in requests}
    for rid, (prompt, params) in requests.items():
        engine.add_request(rid, llm.tokenizer.encode(prompt), params)
    for _ in range(500):
        if not engine.has_unfinished():
            break
        for out in engine.step().outputs:
            entry = result[out.request_id]
            entry["tokens"].extend(out.new_token_ids)
            if out.finished:
                entry.update(finish=out.finish_reason, abort=out.abort_reason)
    assert all("finish" in r for r in result.values()), "every request must finish"
    return result


def _blocks_in_use(llm: LLM) -> int:
    sched = llm.engine.scheduler
    return sched.config.num_blocks - sched.block_manager.num_free_blocks


@pytest.fixture(scope="module")
def alone(llm) -> dict[str, list[int]]:
    """What each unconstrained prompt generates with no failing neighbour."""
    return {p: _run(llm, {p: (p, GREEDY)})[p]["tokens"] for p in PROMPTS}


def _neighbours() -> dict[str, tuple[str, SamplingParams]]:
    return {p: (p, GREEDY) for p in PROMPTS}


def test_a_schema_the_grammar_engine_refuses_fails_only_its_sequence(llm, alone) -> None:
    bad = SamplingParams(temperature=0.0, max_tokens=12, json_schema='{"type": "foo"}')
    result = _run(llm, {"bad": ("Answer:", bad), **_neighbours()})
    assert (result["bad"]["finish"], result["bad"]["abort"]) == ("abort", "invalid_schema")
    for p in PROMPTS:
        assert result[p]["finish"] == "length"
        assert result[p]["tokens"] == alone[p]
    assert _blocks_in_use(llm) == 0


def test_a_grammar_failure_mid_stream_fails_only_its_sequence(llm, alone, monkeypatch) -> None:
    real_accept = GrammarState.accept
    calls = {"n": 0}

    def flaky_accept(self, token_id: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # a few tokens in: the matcher breaks
            raise StructuredOutputError("simulated matcher failure")
        real_accept(self, token_id)

    monkeypatch.setattr(GrammarState, "accept", flaky_accept)
    schema = json.dumps({"type": "object", "properties": {"note": {"type": "string"}},
                         "required": ["note"]})
    before = llm.engine.runner.structured.failures
    constrained = SamplingParams(temperature=0.0, max_tokens=40, json_schema=schema)
    result = _run(llm, {"json": ("Answer in JSON:", constrained), **_neighbours()})
    assert (result["json"]["finish"], result["json"]["abort"]) == ("abort", "grammar_error")
    assert llm.engine.runner.structured.failures == before + 1
    for p in PROMPTS:
        assert result[p]["tokens"] == alone[p]
    assert _blocks_in_use(llm) == 0


def test_a_detokenizer_failure_fails_only_its_request(llm, alone) -> None:
    engine = llm.engine
    engine.add_request("broken", llm.tokenizer.encode("Hello"), GREEDY)

    def explode(token_ids):
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "simulated")

    engine._requests["broken"].detok.push = explode  # this request's detokenizer only
    first = engine.step().outputs  # prefill: the first token goes through the broken detokenizer
    broken = [o for o in first if o.request_id == "broken"]
    assert broken and broken[0].finished and broken[0].abort_reason == "output_error"
    assert not engine.has_unfinished() and _blocks_in_use(llm) == 0
    result = _run(llm, _neighbours())  # the engine goes on serving
    assert all(result[p]["tokens"] == alone[p] for p in PROMPTS)


@pytest.mark.parametrize("schema", [{"type": "boolean"}, {"enum": ["yes", "no"]}])
def test_ignore_eos_does_not_outlive_a_finished_grammar(llm, schema) -> None:
    """After "true" the grammar allows only EOS; ignoring it left nothing to sample (the
    engine died). A constrained request ends with its JSON, whatever ignore_eos says."""
    params = SamplingParams(temperature=1.0, seed=3, max_tokens=30, ignore_eos=True,
                            json_schema=json.dumps(schema))
    out = llm.generate("Answer:", params)[0]
    assert out.finish_reason == "stop"
    allowed = [True, False] if schema.get("type") == "boolean" else schema["enum"]
    assert json.loads(out.text) in allowed
