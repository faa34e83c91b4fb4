"""`EngineInfo`: what the service layer may know about the engine it serves from, as one value
(GetModelInfo, build-info metrics, audit records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineInfo:
    model: str  # the name served: a preset, "SmolLM2-135M-Instruct", a directory's name
    context_length: int  # max_model_len: prompt plus output tokens
    dtype: str  # "float32", "bfloat16", ...
    tensor_parallel_size: int
    attention_backend: str  # resolved: "torch" or "flash_attn"
    weights_fingerprint: str  # "params-sha256:...", see server.audit.weights_fingerprint
    vocab_size: int  # the logits' width: every valid token id (and scoring candidate) is below


def weights_fingerprint(model: Any) -> str:
    """The audit log's fingerprint of the loaded weights (cheap: a few KB per tensor)."""
    from hireserve.server.audit import weights_fingerprint as fingerprint

    return fingerprint(model)
