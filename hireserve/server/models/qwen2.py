"""Qwen2 and Llama decoder-only transformers in one implementation.

Qwen2 is Llama with a bias on the q/k/v projections; SmolLM2 is Llama with tied embeddings.
The model sees a flat batch: `forward(input_ids [T], positions [T]) -> hidden [T, H]`; the
attention layers find the batch layout and the KV cache through the forward context that the
runner sets. Tensor parallelism lives in the linear layers (see hireserve/server/layers/linear.py).
`quant` maps a linear layer's name (e.g. "model.layers.3.mlp.down_proj", "lm_head") to its
quantized method (models/quant_plan.py); layers it does not name are dense.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import nn

from hireserve.server.layers.activation import SiluAndMul
from hireserve.server.layers.attention.layer import Attention
from hireserve.server.layers.embed_head import ParallelLMHead, VocabParallelEmbedding
from hireserve.server.layers.layernorm import RMSNorm
from hireserve.server.layers.linear import (
    MergedColumnParallelLinear,
    QKVParallelLinear,
    RowParallelLinear,
)
from hireserve.server.layers.quantization.methods import QuantSpec, method_for
from hireserve.server.layers.rotary import RotaryEmbedding, apply_rotary
from hireserve.server.models.config import ModelConfig

QuantPlan = Mapping[str, QuantSpec]


class Qwen2Attention(nn.Module):
    def __init__(self, config: ModelConfig, quant: QuantPlan, prefix: str) -> None:
        super().__init__()
        self.head_dim = config.head_dim
        self.qkv_proj = QKVParallelLinear(
            config.hidden_size, config.head_dim, config.num_heads, config.num_kv_heads,
            bias=config.attention_bias, method=method_for(quant.get(f"{prefix}.qkv_proj")),
        )
        # This rank's heads; KV heads may be replicated when TP exceeds them.
        self.num_heads, self.num_kv_heads = self.qkv_proj.num_heads, self.qkv_proj.num_kv_heads
        self.o_proj = RowParallelLinear(config.num_heads * config.head_dim, config.hidden_size,
                                        method=method_for(quant.get(f"{prefix}.o_proj")))
        self.attn = Attention(
            self.num_heads, self.num_kv_heads, self.head_dim, scale=self.head_dim**-0.5
        )

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        t = x.shape[0]
        q_size = self.num_heads * self.head_dim
        kv_size = self.num_kv_heads * self.head_dim
        q, k, v = self.qkv_proj(x).split([q_size, kv_size, kv_size], dim=-1)
        q = apply_rotary(q.view(t, self.num_heads, self.head_dim), cos, sin)  # [T, Hq, D]
        k = apply_rotary(k.view(t, self.num_kv_heads, self.head_dim), cos, sin)  # [T, Hkv, D]
        v = v.view(t, self.num_kv_heads, self.head_dim)
        o = self.attn(q, k, v)  # [T, Hq, D]
        out: torch.Tensor = self.o_proj(o.reshape(t, q_size))
        return out


class Qwen2MLP(nn.Module):
    def __init__(self, config: ModelConfig, quant: QuantPlan, prefix: str) -> None:
        super().__init__()
        self.gate_up_proj = MergedColumnParallelLinear(
            config.hidden_size, [config.intermediate_size] * 2,
            method=method_for(quant.get(f"{prefix}.gate_up_proj")),
        )
        self.down_proj = RowParallelLinear(config.intermediate_size, config.hidden_size,
                                           method=method_for(quant.get(f"{prefix}.down_proj")))
        self.act = SiluAndMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.down_proj(self.act(self.gate_up_proj(x)))
        return out


class Qwen2DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig, quant: QuantPlan, prefix: str) -> None:
        super().__init__()
        self.self_attn = Qwen2Attention(config, quant, f"{prefix}.self_attn")
        self.mlp = Qwen2MLP(config, quant, f"{prefix}.mlp")
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # The residual stream is carried separately so each norm fuses the preceding add.
        if residual is None:
            residual, h = x, self.input_layernorm(x)
        else:
            h, residual = self.input_layernorm(x, residual)
        h = self.self_attn(h, cos, sin)
        h, residual = self.post_attention_layernorm(h, residual)
        return self.mlp(h), residual


class Qwen2Model(nn.Module):
    def __init__(self, config: ModelConfig, quant: QuantPlan) -> None:
        super().__init__()
        self.embed_tokens = VocabParallelEmbedding(config.vocab_size, config.hidden_size)
        self.rotary_emb = RotaryEmbedding(
            config.head_dim, config.rope_theta, config.rope_scaling,
            config.max_position_embeddings,
        )
        self.layers = nn.ModuleList(Qwen2DecoderLayer(config, quant, f"model.layers.{i}")
                                    for i in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(input_ids)  # [T, H]
        cos, sin = self.rotary_emb(positions)  # [T, D] each, shared by all layers
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual, cos, sin)
        out: torch.Tensor = self.norm(x, residual)[0]
        return out


class Qwen2ForCausalLM(nn.Module):
    """Serves Qwen2ForCausalLM and LlamaForCausalLM checkpoints."""

    # checkpoint name fragment -> (our fused parameter, shard id)
    packed_modules: ClassVar[dict[str, tuple[str, str | int]]] = {
        "q_proj": ("qkv_proj", "q"),
        "k_proj": ("qkv_proj", "k"),
        "v_proj": ("qkv_proj", "v"),
        "gate_proj": ("gate_up_proj", 0),
        "up_proj": ("gate_up_proj", 1),
    }

    def __init__(self, config: ModelConfig, quant: QuantPlan | None = None) -> None:
        super().__init__()
        self.config = config
        self.quant: QuantPlan = dict(quant or {})
        self.model = Qwen2Model(config, self.quant)
        self.lm_head = ParallelLMHead(config.vocab_size, config.hidden_size,
                                      method_for(self.quant.get("lm_head")))
        if config.tie_word_embeddings and not self.lm_head.quantized:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """input_ids, positions [T] -> final hidden states [T, H]."""
        hidden: torch.Tensor = self.model(input_ids, positions)
        return hidden

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [n, H] -> logits [n, V] in fp32."""
        logits: torch.Tensor = self.lm_head(hidden)
        return logits.float()

    def attention_layers(self) -> list[Attention]:
        return [m for m in self.modules() if isinstance(m, Attention)]
