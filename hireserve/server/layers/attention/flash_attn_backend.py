"""Paged attention with flash-attn 2.8 (CUDA only, imported lazily).

Decodes use `flash_attn_with_kvcache` (one query per sequence, split-KV kernel); prefill chunks
use `flash_attn_varlen_func` with `block_table`, whose causal mask is aligned to the bottom
right, i.e. shifted by each chunk's cached prefix. Both read K/V straight from the paged cache
[num_blocks, block_size, Hkv, D]; flash-attn 2 requires block_size % 256 == 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hireserve.server.layers.attention.backend import FLASH_ATTN_BLOCK_MULTIPLE
from hireserve.server.layers.attention.metadata import AttentionMetadata


class FlashAttnBackend:
    name = "flash_attn"

    def __init__(self, device: torch.device, block_size: int) -> None:
        if device.type != "cuda":
            raise ValueError("the flash_attn backend needs a CUDA device")
        if block_size % FLASH_ATTN_BLOCK_MULTIPLE:
            raise ValueError(
                f"flash-attn's paged KV needs block_size % {FLASH_ATTN_BLOCK_MULTIPLE} == 0 "
                f"(got {block_size}): use --block-size 256 or the torch backend"
            )
        from flash_attn import flash_attn_varlen_func, flash_attn_with_kvcache

        self._varlen = flash_attn_varlen_func
        self._with_kvcache = flash_attn_with_kvcache

    def forward(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        nd = meta.num_decodes
        parts = []
        if nd:
            o = self._with_kvcache(
                q[:nd].unsqueeze(1),  # [B, 1, Hq, D]
                k_cache,
                v_cache,
                cache_seqlens=meta.seq_lens[:nd],
                block_table=meta.block_tables[:nd],
                softmax_scale=scale,
                causal=True,
            )
            parts.append(o.squeeze(1))
        if nd < meta.num_seqs:
            cu_q = meta.query_start_loc[nd:] - meta.query_start_loc[nd]
            cu_k = F.pad(meta.seq_lens[nd:].cumsum(0, dtype=torch.int32), (1, 0))
            parts.append(
                self._varlen(
                    q[nd:],
                    k_cache,
                    v_cache,
                    cu_seqlens_q=cu_q,
                    cu_seqlens_k=cu_k,
                    max_seqlen_q=max(meta.query_lens_cpu[nd:]),
                    max_seqlen_k=max(meta.seq_lens_cpu[nd:]),
                    softmax_scale=scale,
                    causal=True,
                    block_table=meta.block_tables[nd:],
                )
            )
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
