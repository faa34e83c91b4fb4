"""The attention metadata of one forward, and the context that carries it to the layers.

The model's `forward(input_ids, positions)` knows nothing of batches, blocks or caches; the
runner builds an `AttentionMetadata` from the scheduler's output and sets it for the duration of
one forward with `forward_context`. Attention layers read it with `get_attention_metadata()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from hireserve.server.layers.attention.probe import AttentionProbe


@dataclass
class AttentionMetadata:
    """A flattened batch of B sequences and T tokens: decodes first (query length 1), then
    prefill chunks. Sequence i owns query tokens `query_start_loc[i] : query_start_loc[i+1]`
    and attends to `seq_lens[i]` tokens of K/V (its cached prefix plus its own new tokens),
    read through `block_tables[i]`.
    """

    slot_mapping: torch.Tensor  # [T] int64: cache slot (block * block_size + offset) per new token
    query_start_loc: torch.Tensor  # [B + 1] int32: cu_seqlens of the queries
    seq_lens: torch.Tensor  # [B] int32: K/V length each sequence attends to, new tokens included
    block_tables: torch.Tensor  # [B, max_blocks] int32, padded with 0
    query_lens_cpu: list[int]  # host copies, so the torch backend loops without a device sync
    seq_lens_cpu: list[int]
    num_decodes: int  # the first num_decodes sequences have query length 1
    block_size: int
    probe: AttentionProbe | None = None  # scoring rows whose attention is recorded (see probe.py)

    @property
    def num_seqs(self) -> int:
        return len(self.query_lens_cpu)

    @property
    def max_query_len(self) -> int:
        return max(self.query_lens_cpu, default=0)

    @property
    def max_seq_len(self) -> int:
        return max(self.seq_lens_cpu, default=0)


_current: AttentionMetadata | None = None


@contextlib.contextmanager
def forward_context(meta: AttentionMetadata) -> Iterator[AttentionMetadata]:
    """Sets the metadata for one forward; refuses nesting and always resets."""
    global _current
    if _current is not None:
        raise RuntimeError("forward_context is already set: forwards do not nest")
    _current = meta
    try:
        yield meta
    finally:
        _current = None


def get_attention_metadata() -> AttentionMetadata:
    if _current is None:
        raise RuntimeError("attention ran outside forward_context: the runner sets it")
    return _current
