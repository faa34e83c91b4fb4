"""The model's shape and numerics, read once from a checkpoint into a frozen dataclass."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPPORTED_ARCHITECTURES = ("Qwen2ForCausalLM", "LlamaForCausalLM")


def _ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


@dataclass(frozen=True)
class ModelConfig:
    architecture: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    attention_bias: bool  # q/k/v projections carry a bias (always for Qwen2)
    rope_scaling: dict[str, Any] | None = field(default=None, hash=False)
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.architecture not in SUPPORTED_ARCHITECTURES:
            raise ValueError(f"unsupported architecture {self.architecture!r}: "
                             f"expected one of {SUPPORTED_ARCHITECTURES}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    @property
    def rope_type(self) -> str:
        s = self.rope_scaling or {}
        return str(s.get("rope_type") or s.get("type") or "default")

    @property
    def max_model_len(self) -> int:
        """The longest context the model serves: YaRN extends the original window."""
        if self.rope_type == "yarn" and self.rope_scaling:
            original = self.rope_scaling.get("original_max_position_embeddings")
            factor = self.rope_scaling.get("factor")
            if original and factor:
                return max(self.max_position_embeddings, int(original * factor))
        return self.max_position_embeddings

    def with_rope_scaling(self, rope_scaling: dict[str, Any] | None) -> ModelConfig:
        """A copy with `rope_scaling` replaced (e.g. YaRN switched on at serve time)."""
        scaling = _normalise_scaling(rope_scaling, self.max_position_embeddings)
        return dataclasses.replace(self, rope_scaling=scaling)

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> ModelConfig:
        """From a Hugging Face config.json dict (transformers 4 or 5 rope layout)."""
        archs = hf.get("architectures") or []
        arch = archs[0] if archs else {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM"
                                       }.get(hf.get("model_type", ""), "")
        heads = hf["num_attention_heads"]
        head_dim = hf.get("head_dim") or hf["hidden_size"] // heads
        # transformers 5 writes `rope_parameters` (theta inside); 4 writes rope_theta/rope_scaling
        params = dict(hf.get("rope_parameters") or {})
        theta = params.pop("rope_theta", None) or hf.get("rope_theta", 10000.0)
        scaling = params if params.get("rope_type", "default") != "default" else None
        scaling = scaling or hf.get("rope_scaling")
        max_pos = hf.get("max_position_embeddings", 2048)
        return cls(
            architecture=arch,
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=head_dim,
            intermediate_size=hf["intermediate_size"],
            rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
            rope_theta=float(theta),
            max_position_embeddings=max_pos,
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
            attention_bias=arch == "Qwen2ForCausalLM" or bool(hf.get("attention_bias", False)),
            rope_scaling=_normalise_scaling(scaling, max_pos),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_ids=_ids(hf.get("eos_token_id")),
        )

    @classmethod
    def from_hf_dir(cls, path: Path) -> ModelConfig:
        return cls.from_hf(json.loads((Path(path) / "config.json").read_text()))


def _normalise_scaling(scaling: dict[str, Any] | None, max_pos: int) -> dict[str, Any] | None:
    """One spelling for the scaling dict: `rope_type` (old checkpoints say `type`), and for
    YaRN an explicit original window (transformers defaults it to max_position_embeddings)."""
    if not scaling:
        return None
    s = dict(scaling)
    s.pop("rope_theta", None)
    rope_type = s.pop("type", None) or s.get("rope_type") or "default"
    if rope_type == "default":
        return None
    s["rope_type"] = rope_type
    if rope_type == "yarn":
        s.setdefault("original_max_position_embeddings", max_pos)
    return s
