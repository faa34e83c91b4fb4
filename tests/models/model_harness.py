"""Helpers for the model tests: tiny checkpoints and a hand-driven ModelRunner."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hireserve.scheduler.output import ScheduledChunk, SchedulerOutput
from hireserve.scheduler.sequence import Sequence
from hireserve.server.engine.runner import ModelRunner
from hireserve.server.layers.attention.metadata import forward_context
from hireserve.server.models.loader import load_model
from hireserve.server.models.source import resolve_model

TINY = dict(
    vocab_size=512,
    hidden_size=128,
    intermediate_size=192,
    num_hidden_layers=3,
    num_attention_heads=8,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=512,
    rms_norm_eps=1e-6,
)


@dataclass
class TinyCheckpoint:
    path: Path
    hf: Any  # the transformers model, fp32, eval

    @torch.inference_mode()
    def hf_logits(self, token_ids: list[int]) -> torch.Tensor:
        """Reference logits [T, V] of one sequence, full causal forward."""
        return self.hf(torch.tensor([token_ids])).logits[0].float()


# -- driving the runner by hand -------------------------------------------------------------

BLOCK_SIZE = 4
NUM_BLOCKS = 256


class Harness:
    """A runner over a shuffled free list of blocks, as a scheduler would hand them out."""

    def __init__(self, path: Path, *, block_size: int = BLOCK_SIZE,
                 num_blocks: int = NUM_BLOCKS, seed: int = 0,
                 dtype: torch.dtype = torch.float32, quantization: str = "none") -> None:
        self.model, self.config = load_model(resolve_model(path), dtype=dtype, device="cpu",
                                             quantization=quantization)
        self.runner = ModelRunner(self.model, self.config, device="cpu", dtype=dtype,
                                  block_size=block_size, num_blocks=num_blocks,
                                  attention_backend="torch")
        self.block_size = block_size
        self.free = list(range(num_blocks))
        random.Random(seed).shuffle(self.free)  # non-contiguous tables catch indexing bugs

    def sequence(self, token_ids: list[int], **kwargs: Any) -> Sequence:
        return Sequence(list(token_ids), **kwargs)

    def grow(self, seq: Sequence, num_tokens: int) -> None:
        """Gives `seq` enough blocks for `num_tokens` tokens."""
        while len(seq.block_table) * self.block_size < num_tokens:
            seq.block_table.append(self.free.pop())

    def chunk(self, seq: Sequence, start: int, num_tokens: int, sample: bool = True
              ) -> ScheduledChunk:
        self.grow(seq, start + num_tokens)
        return ScheduledChunk(seq, start, num_tokens, sample)

    @staticmethod
    def output(*chunks: ScheduledChunk) -> SchedulerOutput:
        return SchedulerOutput(list(chunks))

    def logits(self, *chunks: ScheduledChunk) -> torch.Tensor:
        """Logits of the sampling chunks' last tokens, through ModelRunner.execute_logits."""
        return self.runner.execute_logits(SchedulerOutput(list(chunks)))

    @torch.inference_mode()
    def all_logits(self, *chunks: ScheduledChunk) -> torch.Tensor:
        """Logits [T, V] of every token of the step (same inputs the runner builds)."""
        inputs = self.runner.prepare(SchedulerOutput(list(chunks)))
        with forward_context(inputs.meta):
            hidden = self.model(inputs.input_ids, inputs.positions)
        return self.model.compute_logits(hidden)


def random_tokens(n: int, seed: int, vocab: int = TINY["vocab_size"]) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g).tolist()
