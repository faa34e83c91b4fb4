"""TP 2 and TP 4 compute what TP 1 computes: same greedy tokens through the offline `LLM`
(chunked prefill, prefix caching, batching), the same logits (fp32, within 1e-4) and the same
scoring log-probabilities, with each rank's KV cache holding only its own KV heads. Ranks
1..N-1 are real worker processes (gloo)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch
import torch.distributed as dist
from tp_harness import VOCAB, Checkpoint, running_llm

from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import Sequence
from hireserve.server.engine import SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True)
SCORE_CANDIDATES = (3, 50, VOCAB - 1)
BLOCK = 4


def _prompts() -> list[list[int]]:
    """Six prompts, four sharing a 13-token prefix (3 full blocks the prefix cache serves)."""
    rng = random.Random(5)
    shared = [rng.randrange(3, VOCAB) for _ in range(13)]
    tails = [[rng.randrange(3, VOCAB) for _ in range(rng.randint(4, 30))] for _ in range(6)]
    return [shared + t if i < 4 else t for i, t in enumerate(tails)]


def _generate(llm: Any) -> tuple[list[list[int]], int]:
    prompts = _prompts()
    first = llm.generate(prompts[:1], GREEDY)  # fills the prefix cache with the shared blocks
    rest = llm.generate(prompts[1:], GREEDY)
    outs = first + rest
    return [o.token_ids for o in outs], sum(o.num_cached_tokens for o in outs)


def _step_logits(llm: Any) -> torch.Tensor:
    """Logits of two hand-built steps on the engine's runner: a chunked prefill that reads its
    first chunk back from the cache, and a batch of one decode plus that prefill chunk.
    Uses blocks the scheduler never handed out (run on a fresh engine)."""
    rng = random.Random(9)
    a = Sequence([rng.randrange(3, VOCAB) for _ in range(37)])
    b = Sequence([rng.randrange(3, VOCAB) for _ in range(21)])
    free = list(range(llm.engine.scheduler.config.num_blocks))
    random.Random(1).shuffle(free)  # non-contiguous block tables
    for seq in (a, b):
        seq.block_table = [free.pop() for _ in range(-(-seq.num_tokens // BLOCK))]
    runner = llm.engine.runner
    first = runner.execute_logits(SchedulerOutput([
        ScheduledChunk(a, 0, 16, sample=False), ScheduledChunk(b, 0, 20, sample=True),
    ]))
    second = runner.execute_logits(SchedulerOutput([
        ScheduledChunk(b, 20, 1, sample=True), ScheduledChunk(a, 16, 21, sample=True),
    ]))
    return torch.cat([first, second])


def _hf_scores(ckpt: Checkpoint, prompts: list[list[int]]) -> list[dict[int, float]]:
    """transformers' log_softmax at each prompt's last position, for SCORE_CANDIDATES."""
    with torch.inference_mode():
        rows = [ckpt.hf(torch.tensor([p])).logits[0, -1].float().log_softmax(-1) for p in prompts]
    return [{t: row[t].item() for t in SCORE_CANDIDATES} for row in rows]


def _hf_step_logits(ckpt: Checkpoint) -> torch.Tensor:
    """The same three rows from transformers' full causal forward (independent reference)."""
    rng = random.Random(9)
    a = [rng.randrange(3, VOCAB) for _ in range(37)]
    b = [rng.randrange(3, VOCAB) for _ in range(21)]
    with torch.inference_mode():
        la = ckpt.hf(torch.tensor([a])).logits[0].float()
        lb = ckpt.hf(torch.tensor([b])).logits[0].float()
    return torch.stack([lb[19], lb[20], la[36]])


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return {}  # per checkpoint: TP 1 tokens and logits, computed once


def _tp1(ckpt: Checkpoint, reference: dict[str, Any]) -> tuple[list[list[int]], torch.Tensor]:
    key = str(ckpt.path)
    if key not in reference:
        with running_llm(ckpt.path, 1) as llm:
            logits = _step_logits(llm)
            tokens, cached = _generate(llm)
            assert cached > 0, "the shared prefix was meant to hit the prefix cache"
        reference[key] = (tokens, logits)
    return reference[key]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("ckpt_name", "tp", "kv_heads_per_rank"),
    [
        ("qwen2_kv4", 2, 2),  # KV heads split 2 + 2
        ("qwen2_kv4", 4, 1),  # split 1 + 1 + 1 + 1
        ("qwen2_kv2", 4, 1),  # 2 KV heads replicated
    ],
    ids=["kv4-tp2", "kv4-tp4", "kv2-tp4-replicated"],
)
def test_tensor_parallel_equals_single(
    request: pytest.FixtureRequest, reference: dict[str, Any], ckpt_name: str, tp: int,
    kv_heads_per_rank: int,
) -> None:
    ckpt: Checkpoint = request.getfixturevalue(ckpt_name)
    ref_tokens, ref_logits = _tp1(ckpt, reference)
    hf_logits = _hf_step_logits(ckpt)
    # TP 1 itself agrees with transformers, so TP N is compared with a correct reference.
    torch.testing.assert_close(ref_logits, hf_logits, rtol=0, atol=1e-4)

    with running_llm(ckpt.path, tp) as llm:
        engine = llm.engine
        assert dist.get_world_size() == tp
        # Each rank's cache: kv_heads_per_rank heads of head_dim 8 (expected values come from
        # the checkpoint's shape, written in the parametrization).
        assert engine.runner.kv_cache.k[0].shape[2:] == (kv_heads_per_rank, 8)
        info = engine.tp_workers.worker_info
        assert sorted(info) == list(range(1, tp))
        assert all(w["kv_heads"] == kv_heads_per_rank for w in info.values())
        assert all(w["kv_bytes"] == engine.runner.kv_cache.nbytes for w in info.values())
        assert engine.runner.kv_cache.nbytes == (
            2 * 2 * 128 * BLOCK * kv_heads_per_rank * 8 * 4  # layers, K+V, blocks, dims, fp32
        )

        logits = _step_logits(llm)
        assert logits.shape == (3, VOCAB)
        torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-4)

        tokens, cached = _generate(llm)
        assert cached > 0
        assert tokens == ref_tokens

        prompts = _prompts()[:3]  # scoring rows are gathered across the ranks like sampling's
        for out, ref in zip(llm.score(prompts, SCORE_CANDIDATES), _hf_scores(ckpt, prompts),
                            strict=True):
            assert out.finish_reason == "scored"
            assert out.logprobs == pytest.approx(ref, abs=1e-4)
    assert not dist.is_initialized(), "shutdown leaves the process group"
