"""Linear layers split for tensor parallelism, vLLM-style.

Column-parallel layers split their output features over the TP ranks, row-parallel layers split
their input features and sum the partial products with an all-reduce that `forward` shows.
Every parameter carries a `weight_loader(param, loaded_weight[, shard_id])` that cuts this
rank's shard from a full checkpoint tensor, so sharding happens while weights load.

How the weight is stored and multiplied is the layer's `LinearMethod` (dense, int4 or int8:
layers/quantization/methods.py). The layer computes which slice of a checkpoint tensor is this
rank's (a `Shard`) and the method stores it; a quantized method packs once every shard is in
(`finalize`). `load_weight(loaded, shard_id)` is the entry point for every method; the dense
weight's `weight_loader` calls it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from hireserve.server.distributed import all_reduce, get_tp_rank, get_tp_size
from hireserve.server.layers.quantization.methods import (
    DenseMethod,
    LinearMethod,
    Shard,
)
from hireserve.server.layers.quantization.weights import QuantizedWeight, dense


def set_weight_loader(param: nn.Parameter, loader: Callable[..., None]) -> None:
    param.weight_loader = loader  # type: ignore[attr-defined]


def default_weight_loader(param: nn.Parameter, loaded: torch.Tensor | QuantizedWeight) -> None:
    """A replicated parameter: the checkpoint tensor as it is."""
    loaded = dense(loaded)
    if param.shape != loaded.shape:
        raise ValueError(f"shape mismatch: parameter {tuple(param.shape)}, "
                         f"checkpoint {tuple(loaded.shape)}")
    param.data.copy_(loaded)


def _divide(n: int, parts: int, what: str) -> int:
    if n % parts:
        raise ValueError(f"{what} ({n}) is not divisible by the tensor-parallel size ({parts})")
    return n // parts


class LinearBase(nn.Module):
    """y = x W^T + b with W of shape [out_local, in_local], stored by `method`."""

    def __init__(self, in_local: int, out_local: int, bias: bool,
                 method: LinearMethod | None = None) -> None:
        super().__init__()
        self.tp_rank, self.tp_size = get_tp_rank(), get_tp_size()
        self.method = method or DenseMethod()
        self.method.create_weights(self, in_local, out_local)
        self.bias = (
            nn.Parameter(torch.empty(out_local), requires_grad=False) if bias else None
        )
        if isinstance(self.method, DenseMethod):
            set_weight_loader(self.get_parameter("weight"), self._dense_weight_loader)
        if self.bias is not None:
            set_weight_loader(self.bias, self._bias_loader)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        """Which slice of a checkpoint tensor of `loaded_shape` this rank holds, and where."""
        raise NotImplementedError

    def load_weight(self, loaded: torch.Tensor | QuantizedWeight, shard_id: Any = None) -> None:
        self.method.load(self, loaded, self.shard(tuple(loaded.shape), shard_id))

    def _dense_weight_loader(self, param: nn.Parameter, loaded: torch.Tensor,
                             *shard_id: Any) -> None:
        self.load_weight(loaded, *shard_id)

    def _bias_loader(self, param: nn.Parameter, loaded: torch.Tensor, *shard_id: Any) -> None:
        s = self.shard((*loaded.shape, 1), *shard_id)
        if s.dim == 1:  # row-parallel: the bias is not split
            default_weight_loader(param, loaded)
        else:
            param.data.narrow(0, s.offset, s.size).copy_(dense(loaded).narrow(0, s.start, s.size))

    def finalize(self) -> None:
        self.method.finalize(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.method.apply(self, x, self.bias)


class ReplicatedLinear(LinearBase):
    def __init__(self, input_size: int, output_size: int, bias: bool = False,
                 method: LinearMethod | None = None) -> None:
        super().__init__(input_size, output_size, bias, method)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        return Shard(0, 0, loaded_shape[0])


class ColumnParallelLinear(LinearBase):
    """Output features split over ranks; each rank keeps its slice of the output."""

    def __init__(self, input_size: int, output_size: int, bias: bool = False,
                 method: LinearMethod | None = None) -> None:
        self.out_local = _divide(output_size, get_tp_size(), "output size")
        super().__init__(input_size, self.out_local, bias, method)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        return Shard(0, self.tp_rank * self.out_local, self.out_local)


class MergedColumnParallelLinear(ColumnParallelLinear):
    """Several column-parallel projections of the same input in one matmul (gate and up)."""

    def __init__(self, input_size: int, output_sizes: list[int], bias: bool = False,
                 method: LinearMethod | None = None) -> None:
        self.output_sizes = list(output_sizes)
        super().__init__(input_size, sum(output_sizes), bias, method)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        size = self.output_sizes[shard_id] // self.tp_size
        offset = sum(self.output_sizes[:shard_id]) // self.tp_size
        return Shard(0, self.tp_rank * size, size, offset)


def local_kv_heads(num_kv_heads: int, tp_size: int) -> int:
    """KV heads one rank holds: an even share when the TP size divides them, else one head,
    replicated over the `tp_size // num_kv_heads` ranks whose query heads read it."""
    if tp_size <= num_kv_heads:
        return _divide(num_kv_heads, tp_size, "num_key_value_heads")
    if tp_size % num_kv_heads:
        raise ValueError(f"tensor-parallel size {tp_size} is neither a divisor nor a multiple "
                         f"of num_key_value_heads ({num_kv_heads})")
    return 1


def first_kv_head(num_kv_heads: int, tp_rank: int, tp_size: int) -> int:
    """Index of the first KV head that rank `tp_rank` holds."""
    if tp_size <= num_kv_heads:
        return tp_rank * (num_kv_heads // tp_size)
    # Replicated: ranks r*k .. r*k + k-1 (k = tp / kv) hold query heads of KV group r.
    return tp_rank // (tp_size // num_kv_heads)


class QKVParallelLinear(LinearBase):
    """Q, K and V projections in one matmul; each rank holds whole heads of each.

    Query heads are split evenly. KV heads are split when the TP size divides them; when the
    TP size is a multiple of them each rank holds the one KV head its query heads share.
    Local layout: [q heads | k heads | v heads] of this rank.
    """

    def __init__(
        self, hidden_size: int, head_dim: int, num_heads: int, num_kv_heads: int, bias: bool,
        method: LinearMethod | None = None,
    ) -> None:
        tp, rank = get_tp_size(), get_tp_rank()
        self.head_dim = head_dim
        self.num_heads = _divide(num_heads, tp, "num_attention_heads")  # local query heads
        self.num_kv_heads = local_kv_heads(num_kv_heads, tp)  # local KV heads
        self.kv_head_start = first_kv_head(num_kv_heads, rank, tp)
        super().__init__(hidden_size, (self.num_heads + 2 * self.num_kv_heads) * head_dim, bias,
                         method)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        d = self.head_dim
        q, kv = self.num_heads * d, self.num_kv_heads * d
        if shard_id == "q":
            offset, size, start = 0, q, self.tp_rank * q
        elif shard_id in ("k", "v"):
            offset = q if shard_id == "k" else q + kv
            size, start = kv, self.kv_head_start * d
        else:
            raise ValueError(f"unknown qkv shard {shard_id!r}")
        return Shard(0, start, size, offset)


class RowParallelLinear(LinearBase):
    """Input features split over ranks; partial products are summed by an all-reduce."""

    def __init__(self, input_size: int, output_size: int, bias: bool = False,
                 method: LinearMethod | None = None) -> None:
        self.in_local = _divide(input_size, get_tp_size(), "input size")
        super().__init__(self.in_local, output_size, bias, method)

    def shard(self, loaded_shape: tuple[int, ...], shard_id: Any = None) -> Shard:
        return Shard(1, self.tp_rank * self.in_local, self.in_local)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The bias is added once, by rank 0, so the sum over ranks counts it once.
        y = self.method.apply(self, x, self.bias if self.tp_rank == 0 else None)
        if self.tp_size > 1:
            y = all_reduce(y)
        return y


def load_into(param: nn.Parameter, loaded: torch.Tensor | QuantizedWeight,
              *shard: Any) -> None:
    """Calls the parameter's own loader (the default one if it has none)."""
    loader = getattr(param, "weight_loader", default_weight_loader)
    loader(param, loaded, *shard)
