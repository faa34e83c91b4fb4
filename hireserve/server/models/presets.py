"""Configs of real models served by name (weights from a directory or --load-format dummy)."""

from __future__ import annotations

from typing import Any

from hireserve.server.models.config import ModelConfig

QWEN25_7B_INSTRUCT = ModelConfig(
    architecture="Qwen2ForCausalLM",
    vocab_size=152064,
    hidden_size=3584,
    num_layers=28,
    num_heads=28,
    num_kv_heads=4,
    head_dim=128,
    intermediate_size=18944,
    rms_norm_eps=1e-6,
    rope_theta=1_000_000.0,
    max_position_embeddings=32768,
    tie_word_embeddings=False,
    attention_bias=True,
    bos_token_id=151643,
    eos_token_ids=(151645,),
)

# Qwen2.5's documented long-context setting: YaRN x4 over the 32K pretraining window.
QWEN25_YARN: dict[str, Any] = {
    "rope_type": "yarn",
    "factor": 4.0,
    "original_max_position_embeddings": 32768,
}

PRESET_CONFIGS: dict[str, ModelConfig] = {"qwen2.5-7b-instruct": QWEN25_7B_INSTRUCT}


def preset_config(name: str) -> ModelConfig:
    try:
        return PRESET_CONFIGS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: one of {', '.join(PRESET_CONFIGS)}") from None
