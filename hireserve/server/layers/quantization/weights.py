"""Quantized weight values as a checkpoint hands them over, before a layer packs them.

`Int4Groups` is a weight [N, K] held as P planes of 4-bit values, each plane with a scale and a
zero per group of `group_size` inputs, in torch's int4pack convention:

    W[n, k] = sum_p (q[p, n, k] - 8) * scale[p, n, k // g] + zero[p, n, k // g]

One plane holds a GGUF Q4_0 / Q4_1 / Q4_K block exactly (its 4-bit values are kept, never
re-rounded). Two planes hold 5- and 8-bit blocks exactly (low nibble + high bits), or any dense
weight rounded to 8 bits per group: the byte cost of int8, through the faster int4 kernel, and
with a scale per 32 weights instead of one per row. `Int8Rows` is an int8 weight with one scale
per output row (torch's int8pack convention), quantized round-to-nearest from dense values.

Both narrow like the dense tensor they stand for, so tensor-parallel shards are cut from them
exactly as from a dense checkpoint tensor (a cut along K must fall on a group boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

INT4_MID = 8  # torch's int4pack kernels read a stored 4-bit value q as (q - 8)


@dataclass(frozen=True)
class Int4Groups:
    q: torch.Tensor  # [P, N, K] uint8 in 0..15
    scale: torch.Tensor  # [P, N, K // group_size] float32
    zero: torch.Tensor  # [P, N, K // group_size] float32
    group_size: int

    def __post_init__(self) -> None:
        p, n, k = self.q.shape
        if k % self.group_size or self.scale.shape != (p, n, k // self.group_size) or \
                self.zero.shape != self.scale.shape:
            raise ValueError(f"inconsistent int4 groups: q {tuple(self.q.shape)}, scale "
                             f"{tuple(self.scale.shape)}, group {self.group_size}")

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.q.shape[1]), int(self.q.shape[2])

    @property
    def planes(self) -> int:
        return int(self.q.shape[0])

    def narrow(self, dim: int, start: int, length: int) -> Int4Groups:
        """The slice [start, start + length) of output rows (dim 0) or inputs (dim 1)."""
        if dim == 0:
            return Int4Groups(self.q.narrow(1, start, length), self.scale.narrow(1, start, length),
                              self.zero.narrow(1, start, length), self.group_size)
        g = self.group_size
        if start % g or length % g:
            raise ValueError(f"an input slice [{start}, {start + length}) splits a quantization "
                             f"group of {g}: the tensor-parallel size must divide K / {g}")
        return Int4Groups(self.q.narrow(2, start, length), self.scale.narrow(2, start // g,
                          length // g), self.zero.narrow(2, start // g, length // g), g)

    def with_planes(self, planes: int) -> Int4Groups:
        """The same weight over more planes: the extra ones hold zeros (q = 8, zero = 0)."""
        extra = planes - self.planes
        if extra < 0:
            raise ValueError(f"{self.planes} planes do not fit in {planes}")
        if extra == 0:
            return self
        p, n, k = self.q.shape
        q = torch.cat([self.q, self.q.new_full((extra, n, k), INT4_MID)])
        scale = torch.cat([self.scale, self.scale.new_zeros((extra, *self.scale.shape[1:]))])
        return Int4Groups(q, scale, torch.cat([self.zero, torch.zeros_like(scale[p:])]),
                          self.group_size)

    def dequantize(self) -> torch.Tensor:
        """[N, K] float32."""
        p, n, k = self.q.shape
        g = self.group_size
        values = (self.q.float() - INT4_MID).view(p, n, k // g, g)
        w = values * self.scale.unsqueeze(-1) + self.zero.unsqueeze(-1)
        return w.sum(0).view(n, k)

    @classmethod
    def quantize(cls, w: torch.Tensor, group_size: int, planes: int = 1) -> Int4Groups:
        """Round-to-nearest asymmetric quantization of a dense [N, K] weight to 4 bits (one
        plane: gpt-fast's and torchao's scheme) or 8 bits (two planes: low and high nibble);
        per group the minimum maps to 0 and the maximum to 15 (255)."""
        n, k = w.shape
        if k % group_size:
            raise ValueError(f"K = {k} is not a multiple of the group size {group_size}")
        if planes not in (1, 2):
            raise ValueError("int4 groups are rounded to one plane (4 bits) or two (8 bits)")
        top = 16**planes - 1
        groups = w.float().reshape(n, k // group_size, group_size)
        lo, hi = groups.amin(-1), groups.amax(-1)
        scale = ((hi - lo) / top).clamp(min=1e-8)
        u = ((groups - lo.unsqueeze(-1)) / scale.unsqueeze(-1)).round().clamp(0, top)
        u = u.to(torch.int32).view(n, k)
        if planes == 1:
            return cls(u.to(torch.uint8)[None], scale[None], (lo + INT4_MID * scale)[None],
                       group_size)
        # scale (lo4 + 16 hi4) + lo = [scale (lo4 - 8) + lo + 136 scale] + [16 scale (hi4 - 8)]:
        # the offset sits in the first plane's zero, the group's midpoint, so the zeros stay
        # small and rounding them to bf16 costs little.
        q = torch.stack([u & 15, u >> 4]).to(torch.uint8)
        return cls(q, torch.stack([scale, 16 * scale]),
                   torch.stack([lo + 136 * scale, torch.zeros_like(scale)]), group_size)


@dataclass(frozen=True)
class Int8Rows:
    q: torch.Tensor  # [N, K] int8
    scale: torch.Tensor  # [N] float32: W[n, k] = q[n, k] * scale[n]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.q.shape[0]), int(self.q.shape[1])

    def narrow(self, dim: int, start: int, length: int) -> Int8Rows:
        if dim == 0:
            return Int8Rows(self.q.narrow(0, start, length), self.scale.narrow(0, start, length))
        return Int8Rows(self.q.narrow(1, start, length), self.scale)

    def dequantize(self) -> torch.Tensor:
        return self.q.float() * self.scale.unsqueeze(-1)

    @classmethod
    def quantize(cls, w: torch.Tensor) -> Int8Rows:
        """Symmetric round-to-nearest int8 with one scale per output row."""
        w = w.float()
        scale = (w.abs().amax(-1) / 127).clamp(min=1e-12)
        q = (w / scale.unsqueeze(-1)).round().clamp(-127, 127).to(torch.int8)
        return cls(q, scale)


QuantizedWeight = Int4Groups | Int8Rows


def dense(loaded: torch.Tensor | QuantizedWeight) -> torch.Tensor:
    """A checkpoint value as a dense float32 tensor (dense ones are returned as they are)."""
    return loaded if isinstance(loaded, torch.Tensor) else loaded.dequantize()
