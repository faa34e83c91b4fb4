"""Top-k logprobs: log_softmax of the grammar-masked logits, before penalties and temperature,
checked against transformers' logits of the same tiny checkpoint and an independent xgrammar
matcher; forced (fast-forwarded) tokens carry {token: 0.0}; streams carry them too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import torch

from hireserve.server.engine import LLM, AsyncEngine, EngineArgs, SamplingParams

VERDICTS = {
    "type": "object",
    "properties": {key: {"enum": ["met", "partial", "missing"]}
                   for key in ("rust", "kubernetes", "leadership")},
    "required": ["rust", "kubernetes", "leadership"],
    "additionalProperties": False,
}
PROMPT = [1, 520, 2817, 314, 4030, 30, 1170, 2343, 28, 4932, 47, 2]


@pytest.fixture(scope="module")
def llm(tiny_chat) -> LLM:
    return LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=128,
               max_num_seqs=4)


@pytest.fixture(scope="module")
def hf_logits(tiny_chat):
    """fp32 logits of transformers' own Llama for every position of a token list."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_chat), dtype=torch.float32)
    model.eval()

    def run(ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0].float()

    return run


def _grammar_masks(llm: LLM, schema: str, tokens: list[int]) -> list[torch.Tensor]:
    """The allowed-token mask before each token, from a matcher of our own (not the engine's)."""
    import xgrammar as xgr

    vocab = llm.engine.model_config.vocab_size
    info = xgr.TokenizerInfo.from_huggingface(
        llm.tokenizer.hf, vocab_size=vocab, stop_token_ids=sorted(llm.tokenizer.eos_token_ids))
    grammar = xgr.GrammarCompiler(info).compile_json_schema(
        schema, any_whitespace=False, strict_mode=True)
    matcher = xgr.GrammarMatcher(grammar)
    masks = []
    for tok in tokens:
        bitmask = xgr.allocate_token_bitmask(1, vocab)
        matcher.fill_next_token_bitmask(bitmask, 0)
        bits = (bitmask[0].unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
        masks.append(bits.flatten().bool()[:vocab])
        assert matcher.accept_token(tok) or matcher.is_terminated()
    return masks


def _check_entry(entry: dict[int, float], reference: torch.Tensor, k: int) -> None:
    """`entry` holds the top-k of `reference` (a log-distribution) within 1e-4."""
    finite = int(torch.isfinite(reference).sum())
    values, ids = reference.topk(min(k, finite))
    top = dict(zip(ids.tolist(), values.tolist(), strict=True))
    assert set(top) <= set(entry)
    for tok, lp in entry.items():
        assert lp == pytest.approx(reference[tok].item(), abs=1e-4)


def test_constrained_logprobs_match_transformers_under_the_mask(llm, hf_logits) -> None:
    schema = json.dumps(VERDICTS)
    params = SamplingParams(temperature=0.0, max_tokens=60, json_schema=schema, logprobs=3)
    out = llm.generate([PROMPT], params)[0]
    assert out.finish_reason == "stop" and json.loads(out.text)
    assert out.logprobs is not None and len(out.logprobs) == len(out.token_ids)
    logits = hf_logits(PROMPT + out.token_ids)[len(PROMPT) - 1:]
    masks = _grammar_masks(llm, schema, out.token_ids)
    forced = 0
    for i, (tok, entry) in enumerate(zip(out.token_ids, out.logprobs, strict=True)):
        reference = logits[i].masked_fill(~masks[i], float("-inf")).log_softmax(dim=0)
        if int(masks[i].sum()) == 1:  # the grammar allowed only this token: forced
            forced += 1
            assert entry == {tok: 0.0}
            continue
        _check_entry(entry, reference, 3)
        assert max(entry, key=entry.__getitem__) == tok, "greedy takes the top logprob"
        assert len(entry) == min(3, int(masks[i].sum()))  # disallowed tokens never listed
    assert forced > 0, "a fixed-key schema forces most tokens"
    assert 0 < len(out.token_ids) - forced < len(out.token_ids)


def test_free_logprobs_ignore_temperature_and_list_the_sampled_token(llm, hf_logits) -> None:
    hot = SamplingParams(temperature=1.7, seed=3, max_tokens=6, ignore_eos=True, logprobs=5,
                         repetition_penalty=1.3)
    bare = SamplingParams(temperature=1.7, seed=3, max_tokens=6, ignore_eos=True)
    with_lp, without = llm.generate([PROMPT, PROMPT], [hot, bare])
    assert with_lp.token_ids == without.token_ids  # asking costs the others nothing
    assert without.logprobs is None
    logits = hf_logits(PROMPT + with_lp.token_ids)[len(PROMPT) - 1:]
    for i, (tok, entry) in enumerate(zip(with_lp.token_ids, with_lp.logprobs, strict=True)):
        reference = logits[i].log_softmax(dim=0)  # no temperature, no penalty
        _check_entry(entry, reference, 5)
        assert tok in entry and len(entry) in (5, 6)


def test_logprobs_zero_gives_the_chosen_token_only(llm) -> None:
    out = llm.generate([PROMPT], SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True,
                                                logprobs=0))[0]
    assert [list(e) for e in out.logprobs] == [[t] for t in out.token_ids]
    assert all(v <= 0.0 for e in out.logprobs for v in e.values())


def test_logprobs_range_is_checked() -> None:
    with pytest.raises(ValueError, match="logprobs"):
        SamplingParams(logprobs=21)
    with pytest.raises(ValueError, match="logprobs"):
        SamplingParams(logprobs=-1)


def test_streams_carry_logprobs_aligned_with_tokens(tiny_chat) -> None:
    engine = AsyncEngine(EngineArgs(model=str(tiny_chat), dtype="float32", device="cpu",
                                    num_kv_blocks=64, max_num_seqs=2))
    params = SamplingParams(temperature=0.0, max_tokens=60, json_schema=json.dumps(VERDICTS),
                            logprobs=2)

    async def main() -> list[Any]:
        return [out async for out in await engine.submit(PROMPT, params)]

    try:
        outputs = asyncio.run(main())
    finally:
        engine.shutdown()
    assert outputs[-1].finished
    multi = 0
    for out in outputs:
        assert out.new_logprobs is not None
        assert len(out.new_logprobs) == len(out.new_token_ids) >= 1
        (sampled, entry), *forced = zip(out.new_token_ids, out.new_logprobs, strict=True)
        assert sampled in entry and len(entry) in (1, 2, 3)  # top-2 (allowed) + the chosen
        assert all(e == {t: 0.0} for t, e in forced)
        multi += bool(forced)
    assert multi > 0, "fast-forward delivers a sampled token with its forced ones"
