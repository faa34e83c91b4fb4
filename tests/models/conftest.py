"""Tiny random Qwen2 and Llama checkpoints written by transformers, and helpers that drive our
ModelRunner with hand-built sequences and block tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from model_harness import TINY, TinyCheckpoint
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """transformers' init leaves biases at 0 and norm scales at 1: make every tensor matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.2 * noise if "norm" in name else 0.06 * noise)


def _save(config: Any, directory: Path, seed: int, **save_kwargs: Any) -> TinyCheckpoint:
    torch.manual_seed(seed)
    hf = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    _randomise(hf, seed)
    hf.save_pretrained(directory, **save_kwargs)
    return TinyCheckpoint(directory, hf)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    config = Qwen2Config(**TINY, tie_word_embeddings=False, rope_theta=10000.0)
    config.architectures = ["Qwen2ForCausalLM"]
    return _save(config, tmp_path_factory.mktemp("qwen2"), seed=1)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    config = LlamaConfig(**TINY, tie_word_embeddings=True, attention_bias=False,
                         rope_theta=500.0)
    config.architectures = ["LlamaForCausalLM"]
    return _save(config, tmp_path_factory.mktemp("llama"), seed=2)


@pytest.fixture(scope="session")
def tiny_qwen2_yarn(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    config = Qwen2Config(
        **{**TINY, "max_position_embeddings": 256},
        tie_word_embeddings=False,
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
    )
    config.architectures = ["Qwen2ForCausalLM"]
    return _save(config, tmp_path_factory.mktemp("qwen2_yarn"), seed=3)


@pytest.fixture(params=["tiny_qwen2", "tiny_llama"])
def tiny(request: pytest.FixtureRequest) -> TinyCheckpoint:
    return request.getfixturevalue(request.param)


