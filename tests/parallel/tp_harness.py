"""Tiny random Qwen2 checkpoints for the tensor-parallel tests, and an `LLM` that always stops
its workers.

Eight query heads so TP 2 and 4 split them; 4 KV heads (split at TP 2 and 4) or 2 KV heads
(replicated at TP 4). A vocabulary of 509 (prime) makes the last rank's slice of the
vocab-parallel embedding and LM head padded at every TP size. SmolLM2's tokenizer sits next to
the weights because `LLM` detokenizes; the prompts only use ids below 509.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

VOCAB = 509


@dataclass
class Checkpoint:
    path: Path
    hf: Any  # the transformers model, fp32, eval: the independent reference
    num_kv_heads: int


def save_checkpoint(directory: Path, num_kv_heads: int, seed: int, tokenizer: Any,
                    hidden_size: int = 64, intermediate_size: int = 96,
                    head_dim: int = 8) -> Checkpoint:
    config = Qwen2Config(
        vocab_size=VOCAB, hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=num_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=512, rms_norm_eps=1e-6, rope_theta=10000.0,
        tie_word_embeddings=False,
    )
    config.architectures = ["Qwen2ForCausalLM"]
    torch.manual_seed(seed)
    hf = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every tensor matters: biases nonzero, norms away from 1
        for name, p in hf.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.2 * noise if "norm" in name else 0.1 * noise)
    hf.save_pretrained(directory)
    tokenizer.hf.save_pretrained(directory)
    return Checkpoint(directory, hf, num_kv_heads)


ENGINE_ARGS = dict(
    dtype="float32", device="cpu", block_size=4, num_kv_blocks=128,
    max_num_batched_tokens=16, max_num_seqs=8,  # small budget: prompts prefill in chunks
    enable_prefix_caching=True, enable_chunked_prefill=True, attention_backend="torch",
)


@contextlib.contextmanager
def running_llm(path: Path, tp: int, **overrides: Any) -> Iterator[Any]:
    """An offline LLM at TP `tp`; its workers are stopped and the process group destroyed
    on the way out, whatever happened, so the next test can start another group."""
    from hireserve.server.engine import LLM

    llm = LLM(str(path), tensor_parallel_size=tp, **{**ENGINE_ARGS, **overrides})
    try:
        yield llm
    finally:
        llm.engine.shutdown()
