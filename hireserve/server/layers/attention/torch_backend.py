"""Paged attention in plain PyTorch (CPU and CUDA) over a mixed batch.

Decodes are batched: each gathers its K/V through its block table into a padded
[B, Hkv, L, D] tensor and a length mask hides the padding. Prefill chunks run one by one: the
chunk's queries attend to the cached prefix and to themselves with a causal mask shifted by the
prefix length. `enable_gqa` lets SDPA share KV heads between query heads without copying them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hireserve.server.layers.attention.metadata import AttentionMetadata

# Upper bound on the fp32 attention scores one SDPA call may materialise (the CPU kernels and
# the masked CUDA fallback do): a long chunk is split into query tiles under this size.
SCORES_BUDGET_BYTES = 256 * 2**20


def gather_kv(cache: torch.Tensor, block_table: torch.Tensor, length: int) -> torch.Tensor:
    """cache [N, bs, Hkv, D], block_table [..., max_blocks] -> [..., length, Hkv, D]."""
    block_size = cache.shape[1]
    num_blocks = -(-length // block_size)
    blocks = cache[block_table[..., :num_blocks].long()]  # [..., nb, bs, Hkv, D]
    kv = blocks.flatten(-4, -3)  # [..., nb * bs, Hkv, D]
    return kv[..., :length, :, :]


class TorchBackend:
    name = "torch"

    def forward(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        out = torch.empty_like(q)
        nd = meta.num_decodes
        if nd:
            out[:nd] = self._decodes(q[:nd], k_cache, v_cache, meta, scale)
        start = nd
        for i in range(nd, meta.num_seqs):
            n = meta.query_lens_cpu[i]
            out[start : start + n] = self._chunk(
                q[start : start + n], k_cache, v_cache, meta.block_tables[i],
                meta.seq_lens_cpu[i], scale,
            )
            start += n
        return out

    def _decodes(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        """q [B, Hq, D], one query per sequence -> [B, Hq, D]."""
        nd = q.shape[0]
        longest = max(meta.seq_lens_cpu[:nd])
        tables = meta.block_tables[:nd]
        k = gather_kv(k_cache, tables, longest).transpose(1, 2)  # [B, Hkv, L, D]
        v = gather_kv(v_cache, tables, longest).transpose(1, 2)
        lens = meta.seq_lens[:nd].to(q.device)
        mask = torch.arange(longest, device=q.device) < lens.unsqueeze(1)  # [B, L]
        o = F.scaled_dot_product_attention(
            q.unsqueeze(2), k, v, attn_mask=mask[:, None, None, :], scale=scale, enable_gqa=True
        )
        return o.squeeze(2)

    def _chunk(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        block_table: torch.Tensor,
        context_len: int,
        scale: float,
    ) -> torch.Tensor:
        """q [n, Hq, D]: the last n of `context_len` tokens -> [n, Hq, D]."""
        n, num_heads, _ = q.shape
        prefix = context_len - n
        k = gather_kv(k_cache, block_table, context_len).transpose(0, 1).unsqueeze(0)
        v = gather_kv(v_cache, block_table, context_len).transpose(0, 1).unsqueeze(0)
        q = q.transpose(0, 1).unsqueeze(0)  # [1, Hq, n, D]
        rows = max(1, SCORES_BUDGET_BYTES // (4 * num_heads * context_len))
        if prefix == 0 and rows >= n:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale,
                                               enable_gqa=True)
            return o[0].transpose(0, 1)
        keys = torch.arange(context_len, device=q.device)
        parts = []
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            # Query i (absolute position prefix + i) sees keys 0 .. prefix + i.
            queries = prefix + torch.arange(lo, hi, device=q.device)
            mask = keys.unsqueeze(0) <= queries.unsqueeze(1)  # [tile, ctx]
            visible = prefix + hi  # keys past the tile's last query are all masked
            parts.append(
                F.scaled_dot_product_attention(
                    q[:, :, lo:hi], k[:, :, :visible], v[:, :, :visible],
                    attn_mask=mask[:, :visible], scale=scale, enable_gqa=True,
                )
            )
        return torch.cat(parts, dim=2)[0].transpose(0, 1)
