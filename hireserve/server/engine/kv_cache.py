"""The paged KV cache: per layer one K and one V tensor [num_blocks, block_size, Hkv, D].

It holds KV heads only (grouped-query attention shares them between query heads), so a token
costs layers x 2 x kv_heads x head_dim x dtype size bytes. Under tensor parallelism each rank
holds only its own KV heads: kv_heads / tp, or one (replicated) when tp exceeds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from hireserve.server.distributed import get_tp_size
from hireserve.server.layers.linear import local_kv_heads
from hireserve.server.models.config import ModelConfig


def kv_heads_per_rank(config: ModelConfig, tp_size: int | None = None) -> int:
    """KV heads this rank's cache holds (`tp_size` defaults to the current TP group's)."""
    return local_kv_heads(config.num_kv_heads, get_tp_size() if tp_size is None else tp_size)


def bytes_per_token(config: ModelConfig, dtype: torch.dtype, tp_size: int | None = None) -> int:
    """KV bytes one token occupies on one rank, all layers, K and V."""
    kv_heads = kv_heads_per_rank(config, tp_size)
    item = torch.empty((), dtype=dtype).element_size()
    return config.num_layers * 2 * kv_heads * config.head_dim * item


def num_blocks_for(budget_bytes: int, config: ModelConfig, dtype: torch.dtype,
                   block_size: int) -> int:
    """How many blocks of `block_size` tokens fit in `budget_bytes`."""
    per_block = bytes_per_token(config, dtype) * block_size
    blocks = budget_bytes // per_block
    if blocks < 1:
        raise ValueError(f"a KV budget of {budget_bytes} bytes holds no block of {per_block}")
    return int(blocks)


@dataclass
class KVCache:
    k: list[torch.Tensor]  # per layer [num_blocks, block_size, Hkv, D]
    v: list[torch.Tensor]
    block_size: int
    num_blocks: int

    @classmethod
    def allocate(
        cls,
        config: ModelConfig,
        *,
        num_blocks: int,
        block_size: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> KVCache:
        shape = (num_blocks, block_size, kv_heads_per_rank(config), config.head_dim)
        # Zeroed: padded slots of a gathered block table must never hold NaN (0 * NaN = NaN).
        k = [_zeros(shape, dtype, device) for _ in range(config.num_layers)]
        v = [_zeros(shape, dtype, device) for _ in range(config.num_layers)]
        return cls(k, v, block_size, num_blocks)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))


def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """Zeroed memory. On CPU it comes from calloc (numpy): the kernel hands out zero pages on
    first touch, so the pool costs nothing until blocks are used, where torch.zeros writes every
    page up front (18 s for the default 2 GiB on the 2-core dev VM, most of a server start)."""
    if torch.device(device).type != "cpu":
        return torch.zeros(shape, dtype=dtype, device=device)
    itemsize = torch.empty((), dtype=dtype).element_size()
    raw = np.zeros(math.prod(shape) * itemsize, dtype=np.uint8)
    return torch.from_numpy(raw).view(dtype).view(shape)
