"""The attention layer: write this step's K/V into the paged cache, then call the backend."""

from __future__ import annotations

import torch
from torch import nn

from hireserve.server.layers.attention.backend import AttentionBackend
from hireserve.server.layers.attention.metadata import get_attention_metadata


class Attention(nn.Module):
    """q [T, Hq, D], k/v [T, Hkv, D] -> [T, Hq, D].

    `k_cache`/`v_cache` ([num_blocks, block_size, Hkv, D]) and `backend` are bound by the
    runner (see `bind`); they are plain attributes, not buffers, so they are never part of a
    state dict.
    """

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int, scale: float) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.scale = scale
        self.k_cache = torch.empty(0)
        self.v_cache = torch.empty(0)
        self.backend: AttentionBackend | None = None
        self.index = -1  # the layer's depth, for attention probes

    def bind(self, k_cache: torch.Tensor, v_cache: torch.Tensor, backend: AttentionBackend,
             index: int = -1) -> None:
        expected = (self.num_kv_heads, self.head_dim)
        if tuple(k_cache.shape[2:]) != expected or k_cache.shape != v_cache.shape:
            raise ValueError(f"cache shape {tuple(k_cache.shape)} does not hold {expected}")
        self.k_cache, self.v_cache, self.backend = k_cache, v_cache, backend
        self.index = index

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.backend is None:
            raise RuntimeError("attention has no KV cache: a ModelRunner binds one")
        meta = get_attention_metadata()
        slots = meta.slot_mapping
        self.k_cache.view(-1, self.num_kv_heads, self.head_dim).index_copy_(0, slots, k)
        self.v_cache.view(-1, self.num_kv_heads, self.head_dim).index_copy_(0, slots, v)
        if meta.probe is not None:  # a scoring request asked where its answer looks
            meta.probe.record(self.index, q, self.k_cache, meta.block_tables, meta.seq_lens_cpu,
                              meta.block_size, self.scale)
        return self.backend.forward(q, self.k_cache, self.v_cache, meta, self.scale)
