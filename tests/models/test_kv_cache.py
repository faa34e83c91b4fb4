"""The KV cache holds KV heads only: its size per token is layers x 2 x kv_heads x head_dim."""

from __future__ import annotations

import pytest
import torch
from model_harness import TINY, TinyCheckpoint

from hireserve.server.engine.kv_cache import KVCache, bytes_per_token, num_blocks_for
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.models.loader import load_model
from hireserve.server.models.presets import QWEN25_7B_INSTRUCT
from hireserve.server.models.source import resolve_model


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_allocated_cache_bytes_per_token(tiny_qwen2: TinyCheckpoint, dtype: torch.dtype) -> None:
    model, config = load_model(resolve_model(tiny_qwen2.path), dtype=dtype, device="cpu")
    runner = ModelRunner(model, config, device="cpu", dtype=dtype, block_size=4, num_blocks=10,
                         attention_backend="torch")
    cache = runner.kv_cache
    size = 4 if dtype == torch.float32 else 2
    expected = TINY["num_hidden_layers"] * 2 * TINY["num_key_value_heads"] * TINY["head_dim"] * size
    assert bytes_per_token(config, dtype) == expected
    allocated = sum(t.numel() * t.element_size() for t in (*cache.k, *cache.v))
    assert allocated == expected * 4 * 10
    assert cache.k[0].shape == (10, 4, TINY["num_key_value_heads"], TINY["head_dim"])
    layers = model.attention_layers()
    assert all(a.k_cache.data_ptr() == k.data_ptr() for a, k in zip(layers, cache.k, strict=True))


def test_qwen25_7b_cache_per_token_and_budget() -> None:
    # 28 layers x 2 x 4 KV heads x 128 x 2 bytes = 57,344 bytes per token in bf16.
    assert bytes_per_token(QWEN25_7B_INSTRUCT, torch.bfloat16) == 57_344
    assert num_blocks_for(2**30, QWEN25_7B_INSTRUCT, torch.bfloat16, 16) == 2**30 // (57_344 * 16)
    with pytest.raises(ValueError):
        num_blocks_for(1000, QWEN25_7B_INSTRUCT, torch.bfloat16, 16)
    meta = KVCache.allocate(QWEN25_7B_INSTRUCT, num_blocks=2, block_size=16,
                            dtype=torch.bfloat16, device="meta")
    assert meta.nbytes == 57_344 * 32
