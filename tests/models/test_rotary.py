"""Our RoPE parameters versus transformers' own `modeling_rope_utils` for Qwen2.5's settings."""

from __future__ import annotations

import pytest
import torch
from transformers import Qwen2Config
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from hireserve.server.layers.rotary import rope_parameters
from hireserve.server.models.presets import QWEN25_YARN


@pytest.mark.parametrize(
    "scaling",
    [
        None,
        QWEN25_YARN,
        {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 4096,
         "beta_fast": 16, "beta_slow": 2},
        {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 4096,
         "attention_factor": 1.3},
        {"rope_type": "linear", "factor": 2.0},
    ],
)
def test_inv_freq_and_attention_scaling_match_transformers(scaling: dict | None) -> None:
    hf = Qwen2Config(hidden_size=3584, num_attention_heads=28, num_key_value_heads=4,
                     max_position_embeddings=32768,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6, **(scaling or {})})
    rope_type = hf.rope_parameters["rope_type"]
    if rope_type == "default":
        expected, expected_scale = _default(hf)
    else:
        expected, expected_scale = ROPE_INIT_FUNCTIONS[rope_type](hf, torch.device("cpu"))
    inv_freq, scale = rope_parameters(128, 1e6, scaling, 32768)
    torch.testing.assert_close(inv_freq, expected, atol=0, rtol=0)
    assert scale == pytest.approx(expected_scale, abs=1e-12)


def _default(hf: Qwen2Config) -> tuple[torch.Tensor, float]:
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    return Qwen2RotaryEmbedding.compute_default_rope_parameters(hf)
