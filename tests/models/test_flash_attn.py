"""flash-attn backend versus the torch backend on the same paged cache (CUDA only)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from hireserve.server.layers.attention.backend import select_backend
from hireserve.server.layers.attention.metadata import AttentionMetadata

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available() or importlib.util.find_spec("flash_attn") is None,
        reason="needs CUDA and flash-attn",
    ),
]


def test_flash_attn_matches_torch_backend_on_a_mixed_batch() -> None:
    dev = torch.device("cuda")
    torch.manual_seed(0)
    block_size, num_blocks, hkv, hq, d = 256, 16, 2, 8, 64
    k_cache = torch.randn(num_blocks, block_size, hkv, d, device=dev, dtype=torch.bfloat16)
    v_cache = torch.randn_like(k_cache)
    query_lens = [1, 1, 300, 40]  # two decodes, a chunk after a cached prefix, a fresh prompt
    seq_lens = [700, 5, 600, 40]
    perm = torch.randperm(num_blocks).tolist()
    tables, used = [], 0
    for n in seq_lens:
        k = -(-n // block_size)
        tables.append(perm[used : used + k] + [0] * (3 - k))
        used += k
    cu = [0]
    for n in query_lens:
        cu.append(cu[-1] + n)
    meta = AttentionMetadata(
        slot_mapping=torch.zeros(cu[-1], dtype=torch.int64, device=dev),
        query_start_loc=torch.tensor(cu, dtype=torch.int32, device=dev),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=dev),
        block_tables=torch.tensor(tables, dtype=torch.int32, device=dev),
        query_lens_cpu=query_lens,
        seq_lens_cpu=seq_lens,
        num_decodes=2,
        block_size=block_size,
    )
    q = torch.randn(cu[-1], hq, d, device=dev, dtype=torch.bfloat16)
    flash = select_backend("flash_attn", dev, block_size)
    ref = select_backend("torch", dev, block_size)
    assert flash.name == "flash_attn"
    out = flash.forward(q, k_cache, v_cache, meta, d**-0.5)
    expected = ref.forward(q, k_cache, v_cache, meta, d**-0.5)
    torch.testing.assert_close(out, expected, atol=2e-2, rtol=2e-2)
