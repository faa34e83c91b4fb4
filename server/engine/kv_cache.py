"""The paged KV cache: per layer one K and one V tensor [num_blocks, block_size, Hkv, D].

It holds KV heads only (grouped-query attention shares them between query heads), so a token
costs layers x 2 x kv_heads x head_dim x dtype size bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from server.distributed import get_tp_size
from server.models.config import ModelConfig


def bytes_per_token(config: ModelConfig, dtype: torch.dtype) -> int:
    """KV bytes one token occupies on this rank, all layers, K and V."""
    kv_heads = config.num_kv_heads // get_tp_size()
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
        shape = (num_blocks, block_size, config.num_kv_heads // get_tp_size(), config.head_dim)
        # Zeroed: padded slots of a gathered block table must never hold NaN (0 * NaN = NaN).
        k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.num_layers)]
        v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(config.num_layers)]
        return cls(k, v, block_size, num_blocks)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))
