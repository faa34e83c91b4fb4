"""Grammar fast-forward: tokens a JSON grammar forces are appended without sampling and computed
together at the next step. The tokens must be exactly those of sampling every one (greedy, a
tiny random Llama), with fewer model steps, and no block may leak on preemption or abort."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hireserve.server.engine import LLM, SamplingParams
from hireserve.server.metrics import Metrics
from hireserve.server.prompts import explain_v1
from tests.observability.helpers import value

# A rubric-like answer: fixed keys, enum verdicts, a bounded note. Most of it is forced.
RUBRIC = {
    "type": "object",
    "properties": {
        **{key: {"enum": ["met", "partial", "missing"]}
           for key in ("rust", "kubernetes", "team_leadership", "on_call")},
        "note": {"type": "string", "maxLength": 24},
    },
    "required": ["rust", "kubernetes", "team_leadership", "on_call", "note"],
    "additionalProperties": False,
}
NESTED = {
    "type": "object",
    "properties": {"candidate": {"type": "object", "properties": {
        "seniority": {"enum": ["junior", "mid", "senior", "staff"]},
        "remote": {"type": "boolean"},
    }, "required": ["seniority", "remote"], "additionalProperties": False}},
    "required": ["candidate"],
    "additionalProperties": False,
}


def _llm(path: Any, **kwargs: Any) -> LLM:
    args: dict[str, Any] = dict(dtype="float32", device="cpu", block_size=16,
                                num_kv_blocks=256, max_num_batched_tokens=64, max_num_seqs=8)
    args.update(kwargs)
    return LLM(str(path), **args)


def _requests(llm: LLM) -> tuple[list[list[int]], list[SamplingParams]]:
    """Three constrained requests of different schemas sharing a prompt prefix, and two free."""
    base = llm.tokenizer.apply_chat_template(explain_v1.messages(
        [("Rust", "must", "met", "Jane: 8 years of Rust."), ("Kubernetes", "nice", "missing", "")],
        "en"))
    prompts = [base, [*base, 1000, 2000], base[:-3], base, list(range(40, 90))]
    params = [
        SamplingParams(temperature=0.0, max_tokens=60, json_schema=json.dumps(RUBRIC)),
        SamplingParams(temperature=0.0, max_tokens=40, json_schema=json.dumps(NESTED)),
        SamplingParams(temperature=0.0, max_tokens=50,
                       json_schema=json.dumps(explain_v1.schema(0.05))),
        SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True),
        SamplingParams(temperature=0.0, max_tokens=30, ignore_eos=True),
    ]
    return prompts, params


class _StepCounter:
    """Counts the model steps (runner.execute calls) of an engine."""

    def __init__(self, llm: LLM) -> None:
        self.steps = 0
        original = llm.engine.runner.execute

        def spy(scheduled: Any) -> Any:
            self.steps += 1
            return original(scheduled)

        llm.engine.runner.execute = spy  # type: ignore[method-assign]


def _generate(llm: LLM) -> tuple[list[list[int]], list[str | None], int]:
    counter = _StepCounter(llm)
    prompts, params = _requests(llm)
    outputs = llm.generate(prompts, params)
    scheduler = llm.engine.scheduler
    assert scheduler.block_manager.num_free_blocks == scheduler.config.num_blocks
    assert llm.engine.runner.structured.failures == 0
    assert llm.engine.runner.structured._states == {}, "a finished grammar was kept"
    return [o.token_ids for o in outputs], [o.finish_reason for o in outputs], counter.steps


@pytest.mark.parametrize(
    "variant",
    [
        {},  # chunked prefill (64-token steps) and prefix caching on
        pytest.param({"num_kv_blocks": 40, "enable_prefix_caching": False},  # 640 slots:
                     marks=pytest.mark.slow),  # preemption recomputes 444-token prompts
    ],
    ids=["chunked-cached", "preempting"],
)
def test_fast_forward_gives_the_same_tokens_in_fewer_steps(tiny_chat, variant) -> None:
    off = _llm(tiny_chat, enable_fast_forward=False, **variant)
    expected, reasons, steps_off = _generate(off)
    assert off.engine.scheduler.num_forced_tokens == 0

    on = _llm(tiny_chat, **variant)
    forced_per_step: list[int] = []
    original_step = on.engine.step
    metrics = Metrics()

    def step() -> Any:
        result = original_step()
        forced_per_step.append(result.stats.num_forced_tokens if result.ran else 0)
        metrics.on_step(result)
        return result

    on.engine.step = step  # type: ignore[method-assign]
    got, got_reasons, steps_on = _generate(on)

    assert got == expected and got_reasons == reasons
    _, params = _requests(on)
    for ids, p in zip(got, params, strict=True):
        assert len(ids) <= p.max_tokens
    forced = on.engine.scheduler.num_forced_tokens
    assert forced > 0 and sum(forced_per_step) == forced
    text = metrics.exposition()
    assert value(text, "hireserve_forced_tokens_total") == forced
    assert value(text, "hireserve_generation_tokens_total") == sum(map(len, got))
    assert steps_on < steps_off
    if "num_kv_blocks" in variant:
        assert on.engine.scheduler.num_preemptions > 0, "the small pool was meant to preempt"


def test_abort_with_forced_tokens_pending_frees_everything(tiny_chat) -> None:
    llm = _llm(tiny_chat)
    engine = llm.engine
    prompts, params = _requests(llm)
    for i in range(3):  # the constrained ones
        engine.add_request(f"r{i}", prompts[i], params[i])
    pending = None
    for _ in range(200):
        engine.step()
        pending = next((r for r in engine._requests.values()
                        if r.seq.num_tokens - r.seq.num_computed_tokens > 1
                        and r.seq.is_generating), None)
        if pending is not None:
            break
    assert pending is not None, "no step left forced tokens to compute"
    out = engine.abort_request(pending.request_id)
    assert out is not None and out.finish_reason == "abort"
    while engine.has_unfinished():
        engine.step()
    scheduler = engine.scheduler
    assert scheduler.block_manager.num_free_blocks == scheduler.config.num_blocks
    assert engine.runner.structured._states == {}


def test_seeded_sampling_gives_the_same_tokens_with_or_without_fast_forward(tiny_chat) -> None:
    """Forced tokens skip the sampler, and a seeded token's draw depends on (seed, its output
    index) alone, so the tokens after a forced run are those sampling every token gives: same
    seed, same answer, whichever way the server runs."""
    params = [SamplingParams(temperature=1.0, seed=seed, max_tokens=50,
                             json_schema=json.dumps(schema))
              for seed, schema in enumerate([RUBRIC, NESTED, RUBRIC, NESTED])]
    runs = {}
    for ff in (False, True):
        llm = _llm(tiny_chat, enable_fast_forward=ff)
        prompts, _ = _requests(llm)
        runs[ff] = [o.token_ids for o in llm.generate(prompts[:4], params)]
        assert (llm.engine.scheduler.num_forced_tokens > 0) == ff
    assert runs[True] == runs[False]
    assert len({tuple(t) for t in runs[True]}) > 2, "different seeds, different answers"
