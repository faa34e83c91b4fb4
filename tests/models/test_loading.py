"""Checkpoint formats, configs and dummy weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from model_harness import TinyCheckpoint

from hireserve.server.models import loader
from hireserve.server.models.config import ModelConfig
from hireserve.server.models.loader import build_model, load_model
from hireserve.server.models.presets import QWEN25_7B_INSTRUCT, QWEN25_YARN
from hireserve.server.models.source import ModelSource, SourceKind, resolve_model


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_sharded_safetensors_load_identically(tiny_qwen2: TinyCheckpoint, tmp_path: Path) -> None:
    sharded = tmp_path / "sharded"
    tiny_qwen2.hf.save_pretrained(sharded, max_shard_size="100KB")
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    whole, _ = load_model(resolve_model(tiny_qwen2.path), dtype=torch.float32, device="cpu")
    parts, _ = load_model(resolve_model(sharded), dtype=torch.float32, device="cpu")
    a, b = _state(whole), _state(parts)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)


def test_fused_projections_hold_the_checkpoint_tensors(tiny_qwen2: TinyCheckpoint) -> None:
    model, config = load_model(resolve_model(tiny_qwen2.path), dtype=torch.float32, device="cpu")
    hf = tiny_qwen2.hf.model.layers[1]
    ours = model.model.layers[1]
    q = config.num_heads * config.head_dim
    kv = config.num_kv_heads * config.head_dim
    qkv_w, qkv_b = ours.self_attn.qkv_proj.weight, ours.self_attn.qkv_proj.bias
    assert qkv_b is not None
    torch.testing.assert_close(qkv_w[q + kv :], hf.self_attn.v_proj.weight, atol=0, rtol=0)
    torch.testing.assert_close(qkv_b[q : q + kv], hf.self_attn.k_proj.bias, atol=0, rtol=0)
    gate_up = ours.mlp.gate_up_proj.weight
    torch.testing.assert_close(gate_up[config.intermediate_size :], hf.mlp.up_proj.weight,
                               atol=0, rtol=0)


def test_tied_llama_shares_the_embedding(tiny_llama: TinyCheckpoint) -> None:
    model, config = load_model(resolve_model(tiny_llama.path), dtype=torch.float32, device="cpu")
    assert config.tie_word_embeddings and not config.attention_bias
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.model.layers[0].self_attn.qkv_proj.bias is None


def test_bf16_load_keeps_rotary_in_fp32(tiny_qwen2: TinyCheckpoint) -> None:
    model, _ = load_model(resolve_model(tiny_qwen2.path), dtype=torch.bfloat16, device="cpu")
    assert model.lm_head.weight.dtype == torch.bfloat16
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32


def test_rope_scaling_override_reaches_the_model(tiny_qwen2: TinyCheckpoint) -> None:
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}
    model, config = load_model(resolve_model(tiny_qwen2.path), dtype=torch.float32,
                               device="cpu", rope_scaling=yarn)
    assert config.rope_type == "yarn" and config.max_model_len == 512
    assert model.model.rotary_emb.attention_scaling == pytest.approx(0.1 * 1.3862943611 + 1)


def test_config_from_transformers4_qwen25_config_json() -> None:
    # Qwen2.5-7B-Instruct's config.json (transformers 4 layout) with YaRN switched on as its
    # model card documents.
    hf = {
        "architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584, "intermediate_size": 18944,
        "max_position_embeddings": 32768, "num_attention_heads": 28, "num_hidden_layers": 28,
        "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "tie_word_embeddings": False, "vocab_size": 152064, "bos_token_id": 151643,
        "eos_token_id": 151645,
        "rope_scaling": {"factor": 4.0, "original_max_position_embeddings": 32768,
                         "type": "yarn"},
    }
    config = ModelConfig.from_hf(hf)
    assert config == dataclasses.replace(QWEN25_7B_INSTRUCT, rope_scaling=QWEN25_YARN)
    assert config.rope_scaling == QWEN25_YARN
    assert config.max_model_len == 131072
    assert QWEN25_7B_INSTRUCT.max_model_len == 32768


def test_preset_has_qwen25_7b_parameter_count() -> None:
    # Built on the meta device: shapes only, nothing allocated. 7,615,616,512 is the published
    # parameter count of Qwen2.5-7B(-Instruct).
    model = build_model(QWEN25_7B_INSTRUCT, dtype=torch.bfloat16, device=torch.device("meta"))
    assert sum(p.numel() for p in model.parameters()) == 7_615_616_512


def test_dummy_preset_is_deterministic_and_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(QWEN25_7B_INSTRUCT, num_layers=2, num_heads=7, num_kv_heads=1,
                                hidden_size=7 * 128, intermediate_size=512, vocab_size=1024)
    monkeypatch.setattr(loader, "preset_config", lambda name: small)
    source = ModelSource(SourceKind.PRESET, "qwen2.5-7b-instruct", None)
    with pytest.raises(ValueError, match="dummy"):
        load_model(source, dtype=torch.float32, device="cpu")
    a, config = load_model(source, dtype=torch.bfloat16, device="cpu", load_format="dummy")
    b, _ = load_model(source, dtype=torch.bfloat16, device="cpu", load_format="dummy")
    assert config is small
    sa, sb = _state(a), _state(b)
    for k in sa:
        assert sa[k].dtype == torch.bfloat16
        assert torch.equal(sa[k], sb[k])
    qkv = a.model.layers[0].self_attn.qkv_proj.weight
    assert qkv.shape == ((7 + 2) * 128, 7 * 128)
    assert 0.015 < qkv.float().std().item() < 0.025
    assert torch.allclose(a.model.norm.weight.float().mean(), torch.tensor(1.0), atol=0.01)
