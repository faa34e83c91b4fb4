"""The transformers speed baseline reads what the server's scoring requests read: the
next-token log-probabilities of the candidates at the last prompt position, the same at every
batch size (left padding, positions from the mask) and equal to the engine's `LLM.score` on the
same tiny checkpoint (fp32)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from benchmarks.quality.hf_scoring import score_prompts


@pytest.fixture(scope="module")
def tiny(tiny_chat: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_chat, dtype=torch.float32).eval()


def _prompts(vocab: int) -> list[list[int]]:
    rng = random.Random(3)
    shared = [rng.randrange(3, vocab) for _ in range(40)]  # a shared prefix, as a resume is
    return [shared + [rng.randrange(3, vocab) for _ in range(n)] for n in (3, 17, 1, 30, 9)]


def test_every_batch_size_gives_each_prompt_alone(tiny) -> None:
    prompts = _prompts(tiny.config.vocab_size)
    candidates = [5, 17, 1000]
    with torch.inference_mode():
        alone = [torch.log_softmax(tiny(torch.tensor([p])).logits[0, -1].float(), -1)
                 for p in prompts]
    for size in (1, 2, 4, 16):
        got = score_prompts(tiny, prompts, candidates, batch_size=size, pad_token_id=0)
        for ref, out in zip(alone, got, strict=True):
            assert list(out) == candidates
            for c in candidates:
                assert out[c] == pytest.approx(float(ref[c]), abs=1e-4), (size, c)


def test_transformers_equals_the_engines_scoring_requests(tiny, tiny_chat: Path) -> None:
    from hireserve.server.engine import LLM

    prompts = _prompts(tiny.config.vocab_size)
    candidates = [5, 17, 1000]
    llm = LLM(str(tiny_chat), dtype="float32", device="cpu", num_kv_blocks=128)
    engine = llm.score(prompts, candidates)
    ours = score_prompts(tiny, prompts, candidates, batch_size=4, pad_token_id=0)
    for e, o in zip(engine, ours, strict=True):
        for c in candidates:
            assert o[c] == pytest.approx(e.logprobs[c], abs=1e-4)
