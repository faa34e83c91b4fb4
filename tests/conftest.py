"""Fixtures shared across test folders: tiny random checkpoints that carry a real tokenizer.

`tiny_chat` is a random Llama with SmolLM2's vocabulary and chat template (tokenizer from the
embedded GGUF), small enough that a CPU decodes hundreds of tokens a second: the engine and
gRPC tests run real traffic through it. `tiny_long` has a context of 40K positions for the
chunked-prefill tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _save_tiny_llama(directory: Path, *, vocab_size: int, max_positions: int, seed: int) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=max_positions, rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
    )
    config.architectures = ["LlamaForCausalLM"]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.1 * noise if "norm" in name else 0.08 * noise)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from hireserve.server.engine.tokenizer import Tokenizer
    from hireserve.server.models.source import resolve_model

    return Tokenizer.from_source(resolve_model("default"))


@pytest.fixture(scope="session")
def tiny_chat(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer) -> Path:
    directory = _save_tiny_llama(tmp_path_factory.mktemp("tiny_chat"),
                                 vocab_size=len(smollm2_tokenizer.hf), max_positions=4096,
                                 seed=7)
    smollm2_tokenizer.hf.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_long(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer) -> Path:
    directory = _save_tiny_llama(tmp_path_factory.mktemp("tiny_long"), vocab_size=512,
                                 max_positions=40_000, seed=8)
    smollm2_tokenizer.hf.save_pretrained(directory)
    return directory
