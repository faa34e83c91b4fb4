"""torch's int4 weight-only kernels: packing, the matmul, and unpacking for dense prefill.

`pack` turns 4-bit values [N, K] and their group scales/zeros into what
`aten._weight_int4pack_mm_for_cpu` (CPU) or `aten._weight_int4pack_mm` (CUDA, tinygemm, the
kernel gpt-fast uses) read: the packed weight (CPU: uint8 [N, K/2]; CUDA: int32 tiles) and
`scales_and_zeros` [K/g, N, 2] in the activation dtype. Both kernels compute
W = (q - 8) * scale + zero per group. On CPU only bf16 (and fp16) activations take the
vectorized path; fp32 runs a scalar loop ~30x slower, so int4 serving on CPU is bf16.

The CPU kernel broadcasts one activation at a time against 64 dequantized weight columns: its
cost grows with the number of tokens, and for a long prefill a dense bf16 GEMM is faster even
counting the unpacking. `dequantize_t` unpacks the CPU layout with a few vectorized torch ops
into a reusable workspace (one per process: fresh memory costs a page fault per 4 KiB). That
layout is torch's, not a public format, so `cpu_layout_block` checks it once on a known matrix
and the dense path is used only when the check passes.
"""

from __future__ import annotations

import functools

import torch

from hireserve.server.layers.quantization.weights import INT4_MID

GROUP_SIZES = (32, 64, 128, 256)  # what both kernels accept
_CUDA_INNER_K_TILES = (8, 4, 2)
_workspaces: dict[tuple[str, torch.dtype], torch.Tensor] = {}


def cuda_inner_k_tiles(k: int) -> int:
    for tiles in _CUDA_INNER_K_TILES:
        if k % (tiles * 16) == 0:
            return tiles
    raise ValueError(f"K = {k} is not a multiple of 32: no tinygemm layout fits it")


def pack(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor,
         dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """q [N, K] uint8 in 0..15, scale/zero [N, K/g] -> (packed weight, scales_and_zeros
    [K/g, N, 2] in `dtype`), on q's device."""
    if q.device.type == "cuda":
        pairs = (q[:, ::2].to(torch.int32) << 4 | q[:, 1::2].to(torch.int32)).to(torch.uint8)
        packed = torch.ops.aten._convert_weight_to_int4pack(
            pairs.contiguous(), cuda_inner_k_tiles(q.shape[1]))
    else:
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
            q.to(torch.int32).contiguous(), 2)  # inner_k_tiles: unused by the CPU layout
    scales_and_zeros = torch.stack([scale, zero], dim=-1).transpose(0, 1).to(dtype)
    return packed, scales_and_zeros.contiguous()


def int4_mm(x: torch.Tensor, packed: torch.Tensor, group_size: int,
            scales_and_zeros: torch.Tensor) -> torch.Tensor:
    """x [T, K] -> x W^T [T, N]."""
    op = (torch.ops.aten._weight_int4pack_mm if x.device.type == "cuda"
          else torch.ops.aten._weight_int4pack_mm_for_cpu)
    y: torch.Tensor = op(x, packed, group_size, scales_and_zeros)
    return y


def workspace(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A scratch tensor of `shape`, reused across calls (grown, never shrunk)."""
    numel = 1
    for s in shape:
        numel *= s
    buf = _workspaces.get((name, dtype))
    if buf is None or buf.numel() < numel:
        # A normal tensor, even when first asked for under inference_mode: an inference
        # tensor could not be written outside it (a test, a warm-up) on the next call.
        with torch.inference_mode(False):
            buf = _workspaces[(name, dtype)] = torch.empty(numel, dtype=dtype)
    return buf[:numel].view(shape)


@functools.cache
def cpu_layout_block() -> int | None:
    """Rows per block of torch's CPU int4 layout on this machine (64 with AVX512, 32 with
    AVX2: per input k, byte j of a block holds row j in its low nibble and row B/2 + j in its
    high nibble), or None when neither reading reproduces a known matrix."""
    n, k = 128, 64
    q = (torch.arange(n * k, dtype=torch.int32).view(n, k) * 7 + 3) % 16
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)
    for block in (64, 32):
        if torch.equal(_unpack_t(packed, n, k, block).t(), q.to(torch.uint8)):
            return block
    return None


def _unpack(packed: torch.Tensor, n: int, k: int, block: int,
            out: torch.Tensor | None = None) -> torch.Tensor:
    """The CPU layout back to 4-bit values, block by block: [N/B, K, B] uint8 (W^T of each
    block of B rows; contiguous writes, the transpose is left to the caller's next copy)."""
    half = block // 2
    p = packed.view(n // block, k, half)
    if out is None:
        out = torch.empty(n // block, k, block, dtype=torch.uint8)
    torch.bitwise_and(p, 15, out=out[..., :half])
    torch.bitwise_right_shift(p, 4, out=out[..., half:])
    return out


def _unpack_t(packed: torch.Tensor, n: int, k: int, block: int) -> torch.Tensor:
    """[K, N] uint8: the 4-bit values of W^T."""
    return _unpack(packed, n, k, block).permute(1, 0, 2).reshape(k, n)


def can_dequantize(packed: torch.Tensor, n: int) -> bool:
    block = cpu_layout_block() if packed.device.type == "cpu" else None
    return block is not None and n % block == 0


def dequantize_t(packed: torch.Tensor, scales_and_zeros: torch.Tensor, n: int, k: int,
                 group_size: int, planes: int = 1) -> torch.Tensor:
    """W^T [K / planes, N] in the scales' dtype, from the CPU layout (see `can_dequantize`);
    planes stored side by side along K are summed. The result lives in the workspace: use it
    before the next call."""
    block = cpu_layout_block()
    assert block is not None
    dtype = scales_and_zeros.dtype
    values = _unpack(packed, n, k, block,
                     out=workspace("int4_values", (n // block, k, block), torch.uint8))
    # [K/g, N] each, contiguous: a strided operand (stride 2, as unbind leaves it) makes the
    # broadcast addcmul below take torch's slow non-vectorized path (~5x here)
    scale = scales_and_zeros[..., 0].contiguous()
    offset = scales_and_zeros[..., 1] - INT4_MID * scale
    g = group_size
    w_t = workspace("int4_dequantized", (k, n), dtype)
    # One pass casts and transposes (block-wise) to W^T; then same-dtype arithmetic: a
    # mixed-dtype addcmul is ~3x slower.
    w_t.view(k, n // block, block).copy_(values.permute(1, 0, 2))
    groups = w_t.view(k // g, g, n)
    torch.addcmul(offset.unsqueeze(1), groups, scale.unsqueeze(1), out=groups)
    plane_k = k // planes
    for p in range(1, planes):
        w_t[:plane_k].add_(w_t[p * plane_k : (p + 1) * plane_k])
    return w_t[:plane_k]
