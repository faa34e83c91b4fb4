"""Prefill-only scoring requests through the offline LLM and LLMEngine: the candidates'
log-probabilities at the last prompt position equal transformers' log_softmax within 1e-4 (fp32)
for several prompt lengths, a chunked prompt, a prefix-cache hit and a batch mixed with decodes;
nothing is sampled, and the prompt's full blocks stay cached once it is scored."""

from __future__ import annotations

import random

import pytest
import torch

from hireserve.scheduler.errors import PromptTooLongError
from hireserve.server.engine import LLM, SamplingParams, ScoreOutput, ScoringParams
from hireserve.server.engine.sampling_params import MAX_SCORE_CANDIDATES

VOCAB = 49152  # tiny_chat has SmolLM2's vocabulary
CANDIDATES = (5, 42, 1000, 33_000, VOCAB - 1)


def _llm(path, **kwargs) -> LLM:
    args = dict(dtype="float32", device="cpu", block_size=16, num_kv_blocks=256,
                max_num_batched_tokens=512, max_num_seqs=8)
    args.update(kwargs)
    return LLM(str(path), **args)


def _prompt(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(3, VOCAB) for _ in range(n)]


@pytest.fixture(scope="module")
def hf_last_logprobs(tiny_chat):
    """transformers' own Llama: fp32 log_softmax of the logits at a prompt's last position."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_chat), dtype=torch.float32)
    model.eval()

    def run(ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0, -1].float().log_softmax(dim=-1)

    return run


def _check(out: ScoreOutput, reference: torch.Tensor, candidates=CANDIDATES) -> None:
    assert out.finish_reason == "scored" and out.abort_reason is None
    assert list(out.logprobs) == list(candidates)
    for tok, lp in out.logprobs.items():
        assert lp == pytest.approx(reference[tok].item(), abs=1e-4)


def test_scores_match_transformers_for_several_prompt_lengths(tiny_chat, hf_last_logprobs):
    llm = _llm(tiny_chat)
    prompts = [_prompt(n, seed=n) for n in (1, 2, 15, 16, 17, 63, 300)]
    outputs = llm.score(prompts, CANDIDATES)
    for prompt, out in zip(prompts, outputs, strict=True):
        _check(out, hf_last_logprobs(prompt))
        assert out.num_prompt_tokens == len(prompt) and out.num_cached_tokens == 0
        assert out.metrics is not None and out.metrics.first_token_time is None
    scheduler = llm.engine.scheduler
    assert scheduler.block_manager.num_free_blocks == scheduler.config.num_blocks
    assert llm.engine.num_requests == 0


def test_a_chunked_prompt_scores_the_same(tiny_chat, hf_last_logprobs):
    llm = _llm(tiny_chat, max_num_batched_tokens=32, max_num_seqs=4)
    prompt = _prompt(250, seed=11)
    chunks: list[tuple[int, int, bool]] = []
    original = llm.engine.runner.execute

    def spy(scheduled):
        chunks.extend((c.start, c.num_tokens, c.score) for c in scheduled.chunks)
        return original(scheduled)

    llm.engine.runner.execute = spy
    (out,) = llm.score([prompt], [CANDIDATES])
    _check(out, hf_last_logprobs(prompt))
    assert len(chunks) == 8 and [c[2] for c in chunks] == [False] * 7 + [True]
    assert sum(n for _, n, _ in chunks) == 250


def test_a_prefix_cache_hit_scores_the_same_and_keeps_blocks_cached(tiny_chat, hf_last_logprobs):
    llm = _llm(tiny_chat)
    resume = _prompt(100, seed=21)
    first, second = resume + _prompt(5, seed=22), resume + _prompt(13, seed=23)
    (out,) = llm.score(first, CANDIDATES)
    _check(out, hf_last_logprobs(first))
    bm = llm.engine.scheduler.block_manager
    assert bm.num_cached_blocks == 105 // 16 and bm.num_free_blocks == bm.num_blocks
    (out,) = llm.score(second, CANDIDATES)
    assert out.num_cached_tokens == 96  # six full blocks of the resume
    _check(out, hf_last_logprobs(second))
    (again,) = llm.score(second, CANDIDATES)  # 113 tokens: its seven full blocks are cached
    assert again.num_cached_tokens == 112
    _check(again, hf_last_logprobs(second))


def test_scores_in_a_batch_with_decodes_match_and_change_no_token(tiny_chat, hf_last_logprobs):
    greedy = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
    gen_prompts = [_prompt(20, seed=31), _prompt(45, seed=32)]
    alone = [o.token_ids for o in _llm(tiny_chat).generate(gen_prompts, greedy)]

    llm = _llm(tiny_chat)
    engine = llm.engine
    mixed_steps = 0
    original = engine.runner.execute

    def spy(scheduled):
        nonlocal mixed_steps
        if any(c.is_decode for c in scheduled.chunks) and any(c.score for c in scheduled.chunks):
            mixed_steps += 1
        return original(scheduled)

    engine.runner.execute = spy
    for i, p in enumerate(gen_prompts):
        engine.add_request(f"gen{i}", p, greedy)
    score_prompts = [_prompt(n, seed=40 + n) for n in (7, 33, 80)]
    tokens: dict[str, list[int]] = {"gen0": [], "gen1": []}
    scores: dict[str, ScoreOutput] = {}
    steps = 0
    while engine.has_unfinished():
        if steps < len(score_prompts):  # one question arrives per step while the others decode
            engine.add_request(f"q{steps}", score_prompts[steps], ScoringParams(CANDIDATES))
        steps += 1
        for out in engine.step().outputs:
            if isinstance(out, ScoreOutput):
                scores[out.request_id] = out
            else:
                tokens[out.request_id].extend(out.new_token_ids)
    assert mixed_steps >= 2, "scoring chunks were meant to share steps with decodes"
    assert [tokens["gen0"], tokens["gen1"]] == alone
    for i, p in enumerate(score_prompts):
        _check(scores[f"q{i}"], hf_last_logprobs(p))


def test_one_candidate_list_per_prompt(tiny_chat, hf_last_logprobs):
    llm = _llm(tiny_chat)
    prompts = [_prompt(12, seed=51), _prompt(30, seed=52)]
    lists = [(7, 8), (VOCAB - 2, 3, 500)]
    outputs = llm.score(prompts, lists)
    for prompt, out, cands in zip(prompts, outputs, lists, strict=True):
        _check(out, hf_last_logprobs(prompt), cands)
    with pytest.raises(ValueError, match="one per prompt"):
        llm.score(prompts, [(7, 8)])


def test_bad_requests_are_refused_before_anything_runs(tiny_chat):
    llm = _llm(tiny_chat, max_model_len=64)
    for bad, message in (((), "empty"), ((1, 1), "duplicates"), ((-1,), ">= 0"),
                         ((1.5,), "integers"),
                         (tuple(range(MAX_SCORE_CANDIDATES + 1)), "at most")):
        with pytest.raises(ValueError, match=message):
            ScoringParams(bad)
    with pytest.raises(ValueError, match="vocabulary size 49152"):
        llm.engine.add_request("oov", [5, 6], ScoringParams((VOCAB,)))
    with pytest.raises(PromptTooLongError):
        llm.engine.add_request("long", _prompt(65, seed=1), ScoringParams((5,)))
    assert not llm.engine.has_unfinished() and llm.engine.num_requests == 0
    (out,) = llm.score(_prompt(64, seed=1), (5,))  # the whole context: no output follows
    assert out.finish_reason == "scored" and out.num_prompt_tokens == 64


def test_abort_and_deadline_free_blocks_and_keep_the_computed_prefix(tiny_chat):
    llm = _llm(tiny_chat, max_num_batched_tokens=32, max_num_seqs=4)
    engine = llm.engine
    bm = engine.scheduler.block_manager
    engine.add_request("long", _prompt(200, seed=61), ScoringParams(CANDIDATES))
    engine.step()
    engine.step()  # 64 tokens computed: four full blocks
    out = engine.abort_request("long")
    assert isinstance(out, ScoreOutput)
    assert (out.finish_reason, out.abort_reason, out.logprobs) == ("abort", "cancelled", {})
    assert bm.num_free_blocks == bm.num_blocks and bm.num_cached_blocks == 4
    engine.add_request("late", _prompt(40, seed=62), ScoringParams(CANDIDATES), deadline=0.0)
    (expired,) = engine.step().outputs
    assert isinstance(expired, ScoreOutput)
    assert (expired.finish_reason, expired.abort_reason) == ("abort", "deadline")
    assert not engine.has_unfinished() and bm.num_free_blocks == bm.num_blocks
