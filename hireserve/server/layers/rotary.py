"""Rotary position embedding (RoPE): default, linear and YaRN, as transformers computes them.

The inverse frequencies and the attention scaling follow transformers' `modeling_rope_utils`
(`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
`_compute_yarn_parameters`); cos/sin are computed in fp32 from the positions, scaled, then cast
to the activations' dtype, and applied in the rotate-half (GPT-NeoX) layout of Llama and Qwen2.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def _default_inv_freq(dim: int, base: float) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def _yarn(
    dim: int, base: float, scaling: dict[str, Any], max_position_embeddings: int
) -> tuple[torch.Tensor, float]:
    factor = scaling.get("factor")
    original = scaling.get("original_max_position_embeddings") or max_position_embeddings
    if factor is None:
        factor = max_position_embeddings / original
    attention_factor = scaling.get("attention_factor")
    mscale, mscale_all_dim = scaling.get("mscale"), scaling.get("mscale_all_dim")

    def get_mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
        else:
            attention_factor = get_mscale(factor)
    beta_fast = scaling.get("beta_fast") or 32
    beta_slow = scaling.get("beta_slow") or 1

    def correction_dim(num_rotations: float) -> float:
        # The dimension whose wavelength makes `num_rotations` turns over the original context.
        return (dim * math.log(original / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoids a division by zero in the ramp

    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extrapolation_weight = 1 - ramp
    inv_freq = (
        inv_freq_interpolation * (1 - extrapolation_weight)
        + inv_freq_extrapolation * extrapolation_weight
    )
    return inv_freq, float(attention_factor)


def rope_parameters(
    head_dim: int, base: float, scaling: dict[str, Any] | None, max_position_embeddings: int
) -> tuple[torch.Tensor, float]:
    """(inv_freq [head_dim / 2] fp32, attention scaling applied to cos and sin)."""
    rope_type = (scaling or {}).get("rope_type") or (scaling or {}).get("type") or "default"
    if rope_type == "default":
        return _default_inv_freq(head_dim, base), 1.0
    assert scaling is not None
    if rope_type == "linear":
        return _default_inv_freq(head_dim, base) / scaling["factor"], 1.0
    if rope_type == "yarn":
        return _yarn(head_dim, base, scaling, max_position_embeddings)
    raise NotImplementedError(f"rope_type {rope_type!r} is not supported (default, linear, yarn)")


class RotaryEmbedding(nn.Module):
    inv_freq: torch.Tensor  # [head_dim / 2] fp32, a non-persistent buffer

    def __init__(
        self,
        head_dim: int,
        base: float,
        scaling: dict[str, Any] | None,
        max_position_embeddings: int,
    ) -> None:
        super().__init__()
        inv_freq, self.attention_scaling = rope_parameters(
            head_dim, base, scaling, max_position_embeddings
        )
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions [T] -> (cos, sin), each [T, head_dim] fp32."""
        freqs = positions.float().unsqueeze(-1) * self.inv_freq.float()  # [T, D/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos() * self.attention_scaling, emb.sin() * self.attention_scaling


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [T, heads, D]; cos/sin [T, D] -> x rotated, in x's dtype."""
    cos = cos.to(x.dtype).unsqueeze(1)
    sin = sin.to(x.dtype).unsqueeze(1)
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat((-x2, x1), dim=-1)
    return x * cos + rotated * sin
