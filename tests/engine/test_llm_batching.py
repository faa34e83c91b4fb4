"""Continuous batching, chunked prefill, prefix caching and preemption change no token: every
request gives exactly what it gives alone, greedy or seeded. Runs the offline `LLM` over a tiny
random Llama."""

from __future__ import annotations

import random

import pytest

from hireserve.server.engine import LLM, SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
SEEDED = [SamplingParams(temperature=0.9, top_p=0.95, seed=100 + i, max_tokens=12,
                         ignore_eos=True) for i in range(16)]


def _prompts(n: int, seed: int, vocab: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(3, vocab) for _ in range(rng.randint(3, 90))] for _ in range(n)]


def _llm(path, **kwargs) -> LLM:
    args = dict(dtype="float32", device="cpu", block_size=16, num_kv_blocks=256,
                max_num_batched_tokens=64, max_num_seqs=16)
    args.update(kwargs)
    return LLM(str(path), **args)


@pytest.fixture(scope="module")
def alone(tiny_chat) -> dict[int, list[int]]:
    """Each prompt's greedy tokens, computed one request at a time with no cache reuse."""
    llm = _llm(tiny_chat, enable_prefix_caching=False)
    return {i: llm.generate([p], GREEDY)[0].token_ids
            for i, p in enumerate(_prompts(16, seed=0, vocab=49152))}


@pytest.mark.parametrize(
    "variant",
    [
        {},  # prefix caching on, plenty of blocks
        {"enable_prefix_caching": False},
        {"num_kv_blocks": 24},  # 384 slots for 16 prompts of up to 102 tokens: preemption
        {"num_kv_blocks": 24, "enable_prefix_caching": False},
    ],
    ids=["cached", "uncached", "preempting", "preempting-uncached"],
)
def test_batched_equals_alone(tiny_chat, alone, variant) -> None:
    llm = _llm(tiny_chat, **variant)
    prompts = _prompts(16, seed=0, vocab=49152)
    outputs = llm.generate(prompts, GREEDY)
    assert [o.token_ids for o in outputs] == [alone[i] for i in range(16)]
    assert all(o.finish_reason == "length" for o in outputs)
    scheduler = llm.engine.scheduler
    if variant.get("num_kv_blocks") == 24:
        assert scheduler.num_preemptions > 0, "the small pool was meant to force preemption"
    assert scheduler.block_manager.num_free_blocks == scheduler.config.num_blocks


@pytest.mark.parametrize("variant", [{}, {"num_kv_blocks": 24}], ids=["cached", "preempting"])
def test_seeded_batched_equals_alone(tiny_chat, variant) -> None:
    prompts = _prompts(16, seed=0, vocab=49152)
    single = _llm(tiny_chat, enable_prefix_caching=False)
    alone = [single.generate([p], s)[0].token_ids for p, s in zip(prompts, SEEDED, strict=True)]
    llm = _llm(tiny_chat, **variant)
    assert [o.token_ids for o in llm.generate(prompts, SEEDED)] == alone
    assert len({tuple(t) for t in alone}) == 16
    if variant:
        assert llm.engine.scheduler.num_preemptions > 0, "the small pool was meant to preempt"


def test_staggered_arrivals_equal_alone(tiny_chat, alone) -> None:
    llm = _llm(tiny_chat)
    engine = llm.engine
    prompts = _prompts(16, seed=0, vocab=49152)
    got: dict[str, list[int]] = {}
    pending = list(enumerate(prompts))
    while pending or engine.has_unfinished():
        for _ in range(2):  # two new requests per step while any are left
            if pending:
                i, p = pending.pop(0)
                engine.add_request(f"r{i}", p, GREEDY)
        for out in engine.step().outputs:
            got.setdefault(out.request_id, []).extend(out.new_token_ids)
    assert [got[f"r{i}"] for i in range(16)] == [alone[i] for i in range(16)]


def test_prefix_cache_computes_only_unshared_tokens(tiny_chat) -> None:
    rng = random.Random(3)
    prefix = [rng.randrange(3, 49152) for _ in range(200)]
    prompts = [prefix + [rng.randrange(3, 49152) for _ in range(rng.randint(5, 40))]
               for _ in range(8)]
    params = SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True)

    reference = _llm(tiny_chat, enable_prefix_caching=False)
    expected = [o.token_ids for o in reference.generate(prompts, params)]

    llm = _llm(tiny_chat, max_num_batched_tokens=512)
    engine = llm.engine
    computed: list[int] = []  # prompt tokens computed per request, from the scheduler's output
    first = llm.generate([prompts[0]], params)
    assert first[0].num_cached_tokens == 0
    hits_before = engine.scheduler.prefix_cache_hit_tokens
    for i, p in enumerate(prompts[1:], start=1):
        engine.add_request(f"p{i}", p, params)
    counted: dict[int, int] = {}
    outputs: dict[str, list[int]] = {}
    original = engine.runner.execute

    def spy(scheduled):
        for c in scheduled.chunks:
            if c.start < c.seq.num_prompt_tokens:
                counted[c.seq.seq_id] = counted.get(c.seq.seq_id, 0) + c.num_tokens
        return original(scheduled)

    engine.runner.execute = spy
    cached: dict[str, int] = {}
    while engine.has_unfinished():
        for out in engine.step().outputs:
            outputs.setdefault(out.request_id, []).extend(out.new_token_ids)
            cached[out.request_id] = out.num_cached_tokens
    computed = sorted(counted.values())
    shared_blocks = (200 // 16) * 16  # only full blocks are shared
    expected_computed = sorted(len(p) - shared_blocks for p in prompts[1:])
    assert computed == expected_computed
    assert all(cached[f"p{i}"] == shared_blocks for i in range(1, 8))
    assert engine.scheduler.prefix_cache_hit_tokens - hits_before == 7 * shared_blocks
    assert [first[0].token_ids] + [outputs[f"p{i}"] for i in range(1, 8)] == expected


@pytest.mark.slow
def test_long_prompt_prefills_in_chunks_while_short_requests_decode(tiny_long) -> None:
    llm = _llm(tiny_long, num_kv_blocks=2200, max_num_batched_tokens=512,
               max_model_len=34_000)
    engine = llm.engine
    rng = random.Random(5)
    short = SamplingParams(temperature=0.0, max_tokens=10_000, ignore_eos=True)
    for i in range(4):
        engine.add_request(f"s{i}", [rng.randrange(3, 512) for _ in range(20)], short)
    for _ in range(3):  # the short ones are decoding before the long prompt arrives
        engine.step()
    long_prompt = [rng.randrange(3, 512) for _ in range(32_768)]
    engine.add_request("long", long_prompt, SamplingParams(temperature=0.0, max_tokens=2))

    prefill_steps = 0
    original = engine.runner.execute

    def spy(scheduled):
        nonlocal prefill_steps
        long_chunks = [c for c in scheduled.chunks if c.seq.num_prompt_tokens == 32_768]
        if long_chunks and long_chunks[0].start < 32_768 - 1:
            prefill_steps += 1
            decodes = [c for c in scheduled.chunks if c.is_decode]
            assert len(decodes) == 4, "a step prefilled the long prompt without the decodes"
            assert scheduled.num_batched_tokens <= 512
        return original(scheduled)

    engine.runner.execute = spy
    finished_long = False
    while not finished_long:
        for out in engine.step().outputs:
            if out.request_id == "long" and out.finished:
                finished_long = True
    assert prefill_steps >= 32_768 // 512  # chunked, not one giant step
    for i in range(4):
        engine.abort_request(f"s{i}")
    assert engine.scheduler.block_manager.num_free_blocks == 2200


def test_abort_mid_prefill_and_mid_decode_frees_every_block(tiny_chat) -> None:
    llm = _llm(tiny_chat, enable_prefix_caching=False, max_num_batched_tokens=32)
    engine = llm.engine
    rng = random.Random(9)
    params = SamplingParams(temperature=0.0, max_tokens=50, ignore_eos=True)
    engine.add_request("decoding", [rng.randrange(3, 49152) for _ in range(10)], params)
    engine.step()
    engine.step()
    engine.add_request("prefilling", [rng.randrange(3, 49152) for _ in range(300)], params)
    engine.add_request("waiting", [rng.randrange(3, 49152) for _ in range(30)], params)
    engine.step()
    seqs = {rid: engine._requests[rid].seq for rid in ("decoding", "prefilling")}
    assert seqs["decoding"].num_output_tokens > 0
    assert 0 < seqs["prefilling"].num_computed_tokens < 300
    total = engine.scheduler.config.num_blocks
    assert engine.scheduler.block_manager.num_free_blocks < total
    for rid in ("decoding", "prefilling", "waiting"):
        out = engine.abort_request(rid, "cancelled")
        assert out is not None and out.finish_reason == "abort"
    assert not engine.has_unfinished()
    assert engine.scheduler.block_manager.num_free_blocks == total
