"""Tensor parallelism over quantized weights: each rank packs the shard it cuts from the full
checkpoint tensor (int4: groups whole, never split; int8: the row scale of the full row), and
TP 2 computes TP 1's greedy tokens (fp32 activations, real gloo workers)."""

from __future__ import annotations

from typing import Any

import pytest
from tp_harness import Checkpoint, running_llm, save_checkpoint

from hireserve.server.engine import SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
PROMPTS = [[5, 17, 99, 3, 250, 41, 7, 300, 12, 8, 77, 501, 6] * 7, [9, 4, 200, 31, 18, 2]]


@pytest.fixture(scope="module")
def qwen2_wide(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Checkpoint:
    """Inputs of 256 (and 128 per rank at TP 2): int4 groups of 128 at both TP sizes."""
    return save_checkpoint(tmp_path_factory.mktemp("tp_wide"), 4, seed=13,
                           tokenizer=smollm2_tokenizer, hidden_size=256,
                           intermediate_size=512, head_dim=32)


@pytest.mark.parametrize("quantization", ["int4", "int8"])
def test_tp2_over_quantized_weights_equals_tp1(qwen2_wide: Checkpoint, quantization: str
                                               ) -> None:
    tokens = {}
    for tp in (1, 2):
        # the 91-token prompt prefills in one step (the unpacked dense path), then the kernels
        with running_llm(qwen2_wide.path, tp, quantization=quantization,
                         max_num_batched_tokens=128) as llm:
            model = llm.engine.model
            assert model.quant and not hasattr(model.model.layers[0].mlp.down_proj, "weight")
            tokens[tp] = [o.token_ids for o in llm.generate(PROMPTS, GREEDY)]
    assert tokens[2] == tokens[1]
