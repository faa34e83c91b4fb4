"""Linear methods: how a linear layer stores its weight, loads it shard by shard, and applies it.

vLLM's pattern: the parallel linears (server/layers/linear.py) own the tensor-parallel arithmetic
and hand each checkpoint tensor to their method with a `Shard` (which slice of the checkpoint
tensor, where in this rank's weight); the method owns the storage:

- `DenseMethod`: `weight` [N, K] in the model dtype, `F.linear`.
- `Int4Method`: torch's int4pack (`qweight`, `scales_and_zeros`), group-wise scales and zeros,
  P planes side by side along K (x is repeated P times: one kernel call). Checkpoint values
  arrive as `Int4Groups` (a GGUF's own 4-bit values) or dense (rounded to nearest here: 4 bits
  for one plane, 8 for two), are staged unpacked, and packed by `finalize` once every shard is
  in. On CPU a step of at least `DENSE_MIN_TOKENS` tokens (a prefill) unpacks the weight into
  bf16 and runs a dense GEMM instead, which is faster there (benchmarks/RESULTS.md, "int4
  weights"). Output rows are padded to 64 (zeros), cut from the result.
- `Int8Method`: `aten._weight_int8pack_mm` with one scale per output row (`--quantization
  int8`); CUDA has no such kernel and casts the weight per call.

`QuantSpec` names a method in a plan (models/quant_plan.py) and in the weight cache's metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from hireserve.server.layers.quantization import int4pack
from hireserve.server.layers.quantization.weights import (
    INT4_MID,
    Int4Groups,
    Int8Rows,
    QuantizedWeight,
    dense,
)

# Tokens per step from which unpacking to bf16 + a dense GEMM beats the int4 kernel on CPU.
# Measured 2026-12-06 on the dev VM (1 thread; 1536 x 17920 and 8960 x 1536, groups of 32):
# the kernel costs ~0.65 ms per token for the larger, unpacking 27 ms once; they cross at
# 80-96 tokens.
DENSE_MIN_TOKENS = 80


@dataclass(frozen=True)
class Shard:
    """Rows (dim 0) or input columns (dim 1) [start, start + size) of a checkpoint tensor go
    to [offset, offset + size) of this rank's weight along the same dim."""

    dim: int
    start: int
    size: int
    offset: int = 0


@dataclass(frozen=True)
class QuantSpec:
    kind: Literal["int4", "int8"]
    group_size: int = 32
    planes: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantSpec:
        return cls(**data)


def _param(t: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(t, requires_grad=False)


class LinearMethod:
    """Storage and matmul of one linear layer's weight (the bias stays dense, in the layer).
    One instance per layer: what it stages while loading lives on the method."""

    def create_weights(self, layer: nn.Module, in_size: int, out_size: int) -> None:
        raise NotImplementedError

    def load(self, layer: nn.Module, loaded: torch.Tensor | QuantizedWeight,
             shard: Shard) -> None:
        raise NotImplementedError

    def finalize(self, layer: nn.Module) -> None:
        """After every shard is loaded (vLLM's process_weights_after_loading)."""

    def apply(self, layer: nn.Module, x: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        """x [T, K] -> x W^T + bias [T, N]."""
        raise NotImplementedError


class DenseMethod(LinearMethod):
    def create_weights(self, layer: nn.Module, in_size: int, out_size: int) -> None:
        layer.register_parameter("weight", _param(torch.empty(out_size, in_size)))

    def load(self, layer: nn.Module, loaded: torch.Tensor | QuantizedWeight,
             shard: Shard) -> None:
        part = dense(loaded).narrow(shard.dim, shard.start, shard.size)
        weight = layer.get_parameter("weight")
        weight.data.narrow(shard.dim, shard.offset, shard.size).copy_(part)

    def apply(self, layer: nn.Module, x: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        return F.linear(x, layer.get_parameter("weight"), bias)


class Int4Method(LinearMethod):
    def __init__(self, group_size: int, planes: int = 1) -> None:
        if group_size not in int4pack.GROUP_SIZES:
            raise ValueError(f"int4 group size must be one of {int4pack.GROUP_SIZES}")
        self.group_size, self.planes = group_size, planes
        self.staging: Int4Groups | None = None  # [P, N, K] while loading

    def create_weights(self, layer: nn.Module, in_size: int, out_size: int) -> None:
        if in_size % self.group_size:
            raise ValueError(f"input size {in_size} is not a multiple of the int4 group "
                             f"size {self.group_size}")
        # The kernels take output rows in blocks of 16 (CPU) or 8 (CUDA): pad to 64 (the CPU
        # layout's block, which `dequantize_t` reads) with zero rows, cut from the output.
        self.in_size, self.out_size = in_size, out_size
        out_size = self.padded_out = -(-out_size // 64) * 64
        k = in_size * self.planes
        if torch.get_default_device().type == "cuda":
            tiles = int4pack.cuda_inner_k_tiles(k)
            packed = torch.empty(out_size // 8, k // (tiles * 16), 32, tiles // 2,
                                 dtype=torch.int32)
        else:
            packed = torch.empty(out_size, k // 2, dtype=torch.uint8)
        layer.register_parameter("qweight", _param(packed))
        layer.register_parameter("scales_and_zeros",
                                 _param(torch.empty(k // self.group_size, out_size, 2)))

    def load(self, layer: nn.Module, loaded: torch.Tensor | QuantizedWeight,
             shard: Shard) -> None:
        if not isinstance(loaded, Int4Groups) or loaded.group_size != self.group_size or \
                loaded.planes > self.planes:  # anything else is rounded to nearest here
            loaded = Int4Groups.quantize(dense(loaded), self.group_size, self.planes)
        part = loaded.with_planes(self.planes).narrow(shard.dim, shard.start, shard.size)
        if self.staging is None:
            p, n, k = self.planes, self.padded_out, self.in_size
            groups = (p, n, k // self.group_size)
            self.staging = Int4Groups(torch.full((p, n, k), INT4_MID, dtype=torch.uint8),
                                      torch.zeros(groups), torch.zeros(groups), self.group_size)
        real_rows = self.staging.narrow(0, 0, self.out_size)  # not the padding
        target = real_rows.narrow(shard.dim, shard.offset, shard.size)
        for dst, src in ((target.q, part.q), (target.scale, part.scale),
                         (target.zero, part.zero)):
            dst.copy_(src)

    def finalize(self, layer: nn.Module) -> None:
        staging, self.staging = self.staging, None
        if staging is None:
            return  # mapped from the weight cache, already packed
        qweight, sz = layer.get_parameter("qweight"), layer.get_parameter("scales_and_zeros")
        n = self.padded_out

        def side_by_side(t: torch.Tensor) -> torch.Tensor:  # [P, N, X] -> [N, P * X]
            return t.permute(1, 0, 2).reshape(n, -1).to(qweight.device)

        qweight.data, sz.data = int4pack.pack(
            side_by_side(staging.q), side_by_side(staging.scale), side_by_side(staging.zero),
            sz.dtype)

    def apply(self, layer: nn.Module, x: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        qweight, sz = layer.get_parameter("qweight"), layer.get_parameter("scales_and_zeros")
        n, k = self.padded_out, self.in_size * self.planes
        if x.shape[0] >= DENSE_MIN_TOKENS and int4pack.can_dequantize(qweight, n):
            w_t = int4pack.dequantize_t(qweight, sz, n, k, self.group_size, self.planes)
            y = torch.mm(x, w_t[:, : self.out_size])
        else:
            if self.planes > 1:
                x = x.repeat(1, self.planes)
            y = int4pack.int4_mm(x.contiguous(), qweight, self.group_size, sz)
            if n != self.out_size:
                y = y[:, : self.out_size]
        return y if bias is None else y.add_(bias)


class Int8Method(LinearMethod):
    def __init__(self) -> None:
        self.staging: Int8Rows | None = None

    def create_weights(self, layer: nn.Module, in_size: int, out_size: int) -> None:
        layer.register_parameter(
            "qweight", _param(torch.empty(out_size, in_size, dtype=torch.int8)))
        layer.register_parameter("scales", _param(torch.empty(out_size)))

    def load(self, layer: nn.Module, loaded: torch.Tensor | QuantizedWeight,
             shard: Shard) -> None:
        # Quantize the whole checkpoint tensor, then cut: a row's scale is the same at any TP.
        rows = loaded if isinstance(loaded, Int8Rows) else Int8Rows.quantize(dense(loaded))
        part = rows.narrow(shard.dim, shard.start, shard.size)
        if self.staging is None:
            shape = layer.get_parameter("qweight").shape
            self.staging = Int8Rows(torch.zeros(shape, dtype=torch.int8), torch.zeros(shape[0]))
        self.staging.q.narrow(shard.dim, shard.offset, shard.size).copy_(part.q)
        if shard.dim == 0:
            self.staging.scale.narrow(0, shard.offset, shard.size).copy_(part.scale)
        else:
            self.staging.scale.copy_(part.scale)

    def finalize(self, layer: nn.Module) -> None:
        staging, self.staging = self.staging, None
        if staging is None:
            return
        qweight, scales = layer.get_parameter("qweight"), layer.get_parameter("scales")
        qweight.data = staging.q.to(qweight.device)
        scales.data = staging.scale.to(scales.device, scales.dtype)

    def apply(self, layer: nn.Module, x: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        qweight, scales = layer.get_parameter("qweight"), layer.get_parameter("scales")
        if x.device.type == "cpu" and x.shape[0] < DENSE_MIN_TOKENS:
            y: torch.Tensor = torch.ops.aten._weight_int8pack_mm(x.contiguous(), qweight, scales)
            return y if bias is None else y.add_(bias)
        # Long prefills, and CUDA (no int8 weight-only kernel there): int8 -> x.dtype is
        # exact, and the row scale applies to the output.
        w = int4pack.workspace("int8_dequantized", tuple(qweight.shape), x.dtype) \
            if x.device.type == "cpu" else torch.empty_like(qweight, dtype=x.dtype)
        w.copy_(qweight)
        y = F.linear(x, w).mul_(scales)
        return y if bias is None else y.add_(bias)


def method_for(spec: QuantSpec | None) -> LinearMethod:
    if spec is None:
        return DenseMethod()
    if spec.kind == "int4":
        return Int4Method(spec.group_size, spec.planes)
    if spec.kind == "int8":
        return Int8Method()
    raise ValueError(f"unknown quantization kind {spec.kind!r}")
