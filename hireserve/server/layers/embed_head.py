"""Vocabulary-parallel token embedding and LM head.

Each TP rank holds a contiguous slice of ceil(V / tp) rows; the last slice is zero-padded.
The embedding sums the ranks' lookups (each rank contributes only the ids in its slice); the
LM head gathers the logit slices to rank 0. The LM head may be quantized (a `LinearMethod`);
the embedding stays dense: a lookup reads a few rows, and on CPU a table mapped from the weight
cache is resident only for the rows that were read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hireserve.server.distributed import all_reduce, gather_to_first, get_tp_rank, get_tp_size
from hireserve.server.layers.linear import set_weight_loader
from hireserve.server.layers.quantization.methods import DenseMethod, LinearMethod, Shard
from hireserve.server.layers.quantization.weights import QuantizedWeight, dense


def vocab_rows(num_embeddings: int, tp_rank: int, tp_size: int) -> tuple[int, int, int]:
    """(rows per rank, first row, end row) of this rank's vocabulary slice: ceil(V / tp) rows
    each, the last slice short (its table is padded with zero rows). The embedding and the LM
    head split alike, so a tied head shares the embedding's slice."""
    rows_per_rank = -(-num_embeddings // tp_size)
    start = tp_rank * rows_per_rank
    return rows_per_rank, start, min(start + rows_per_rank, num_embeddings)


class VocabParallelEmbedding(nn.Module):
    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.tp_rank, self.tp_size = get_tp_rank(), get_tp_size()
        self.num_embeddings = num_embeddings
        self.rows_per_rank, self.vocab_start, self.vocab_end = vocab_rows(
            num_embeddings, self.tp_rank, self.tp_size)
        self.weight = nn.Parameter(
            torch.empty(self.rows_per_rank, embedding_dim), requires_grad=False
        )
        set_weight_loader(self.weight, self.weight_loader)

    def weight_loader(self, param: nn.Parameter, loaded: torch.Tensor | QuantizedWeight) -> None:
        loaded = dense(loaded)
        if loaded.shape[0] != self.num_embeddings:
            raise ValueError(f"vocabulary mismatch: config {self.num_embeddings}, "
                             f"checkpoint {loaded.shape[0]}")
        rows = self.vocab_end - self.vocab_start
        param.data[rows:].zero_()
        param.data[:rows].copy_(loaded[self.vocab_start : self.vocab_end])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.tp_size == 1:
            return F.embedding(input_ids, self.weight)
        mine = (input_ids >= self.vocab_start) & (input_ids < self.vocab_end)
        local = torch.where(mine, input_ids - self.vocab_start, 0)
        y = F.embedding(local, self.weight) * mine.unsqueeze(-1).to(self.weight.dtype)
        return all_reduce(y)


class ParallelLMHead(nn.Module):
    """hidden [n, H] -> logits [n, V] on rank 0: each rank computes its vocabulary slice and
    rank 0, the only one that samples, gathers them. The other ranks get their own slice
    [n, ceil(V / tp)] back (they must still take part in the gather). Rows are split like
    VocabParallelEmbedding's; a dense head may share the embedding's weight (tied)."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 method: LinearMethod | None = None) -> None:
        super().__init__()
        self.tp_rank, self.tp_size = get_tp_rank(), get_tp_size()
        self.num_embeddings = num_embeddings
        self.rows_per_rank, self.vocab_start, self.vocab_end = vocab_rows(
            num_embeddings, self.tp_rank, self.tp_size)
        self.method = method or DenseMethod()
        self.method.create_weights(self, embedding_dim, self.rows_per_rank)
        if isinstance(self.method, DenseMethod):
            set_weight_loader(self.get_parameter("weight"), self.weight_loader)

    @property
    def quantized(self) -> bool:
        return not isinstance(self.method, DenseMethod)

    def weight_loader(self, param: nn.Parameter, loaded: torch.Tensor | QuantizedWeight) -> None:
        self.load_weight(loaded)

    def load_weight(self, loaded: torch.Tensor | QuantizedWeight) -> None:
        if loaded.shape[0] != self.num_embeddings:
            raise ValueError(f"vocabulary mismatch: config {self.num_embeddings}, "
                             f"checkpoint {loaded.shape[0]}")
        if isinstance(self.method, DenseMethod):  # the padding rows
            self.get_parameter("weight").data[self.vocab_end - self.vocab_start :].zero_()
        rows = self.vocab_end - self.vocab_start
        self.method.load(self, loaded, Shard(0, self.vocab_start, rows))

    def finalize(self) -> None:
        self.method.finalize(self)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.method.apply(self, hidden)
        if self.tp_size > 1:
            logits = gather_to_first(logits, dim=-1)
            if self.tp_rank == 0:
                logits = logits[:, : self.num_embeddings]  # drop the last slice's padding
        return logits
