"""GGUF quantized blocks as int4 groups of 32, with the file's own 4-bit values.

Every format here has one scale (and an offset) per 32 consecutive weights of a row, which is
exactly an int4pack group of 32. The stored value q of a weight, w = s * q + c, becomes
torch's (q - 8) * s + zero with zero = c + 8 s:

| type | w | planes |
| --- | --- | --- |
| Q4_0 | d (q - 8) | q |
| Q4_1 | d q + m | q |
| Q4_K | (d sc_j) q - dmin m_j, 8 sub-blocks of 32 in a 256 block, 6-bit sc_j, m_j | q |
| Q5_0 | d (q - 16), q = lo + 16 hi | lo; 8 + hi at scale 16 d |
| Q8_0 | d q, q + 128 = lo + 16 hi | lo; hi at scale 16 d |

5- and 8-bit blocks take two planes (low nibble, high bits): exact, one byte per weight.
Q6_K (scales per 16 weights, finer than int4pack's smallest group of 32) and the other types
are dequantized by gguf and left to the layer (int8 or dense). Decoding follows gguf's own
numpy dequantizers (`gguf.quants`), so the values are the file's, bit for bit; tests compare
`Int4Groups.dequantize()` with `gguf.quants.dequantize`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hireserve.server.layers.quantization.weights import INT4_MID, Int4Groups

GROUP = 32
Arrays = tuple[np.ndarray, ...]
Decoded = tuple[Arrays, Arrays, Arrays]  # per plane: values [n, 32], scale [n], zero [n]


def _f16(raw: np.ndarray) -> np.ndarray:
    """Little-endian fp16 bytes [n, 2] -> float32 [n]."""
    return np.ascontiguousarray(raw).view(np.float16).astype(np.float32).reshape(-1)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """Bytes [n, ..., width] -> values [n, ..., 2 * width]: the low nibbles, then the high."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _q4_0(blocks: np.ndarray) -> Decoded:
    d = _f16(blocks[:, :2])
    q = _nibbles(blocks[:, 2:18])
    return (q,), (d,), (np.zeros_like(d),)


def _q4_1(blocks: np.ndarray) -> Decoded:
    d, m = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    q = _nibbles(blocks[:, 4:20])
    return (q,), (d,), (m + INT4_MID * d,)


def _q4_k_scale_min(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 six-bit scales and mins packed in 12 bytes (gguf's Q4_K.get_scale_min)."""
    n = scales.shape[0]
    d, m, m_d = np.split(scales.reshape(n, 3, 4), 3, axis=-2)
    sc = np.concatenate([d & 0x3F, (m_d & 0x0F) | ((d >> 2) & 0x30)], axis=-1)
    mn = np.concatenate([m & 0x3F, (m_d >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return sc.reshape(n, 8), mn.reshape(n, 8)


def _q4_k(blocks: np.ndarray) -> Decoded:
    n = blocks.shape[0]
    d, dmin = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    sc, mn = _q4_k_scale_min(blocks[:, 4:16])
    # 4 chunks of 32 bytes; each gives sub-block 2j (low nibbles) and 2j + 1 (high nibbles)
    q = _nibbles(blocks[:, 16:144].reshape(n, 4, 32)).reshape(n * 8, GROUP)
    scale = (d[:, None] * sc.astype(np.float32)).reshape(-1)
    offset = -(dmin[:, None] * mn.astype(np.float32)).reshape(-1)
    return (q,), (scale,), (offset + INT4_MID * scale,)


def _q5_0(blocks: np.ndarray) -> Decoded:
    d = _f16(blocks[:, :2])
    qh = np.ascontiguousarray(blocks[:, 2:6]).view(np.uint32)  # [n, 1]: bit i -> weight i
    hi = ((qh >> np.arange(GROUP, dtype=np.uint32)) & 1).astype(np.uint8)
    lo = _nibbles(blocks[:, 6:22])
    # d (lo + 16 hi - 16) = [d (lo - 8) - 8 d] + [16 d ((8 + hi) - 8)]: the zeros are small
    # multiples of d, so rounding them to bf16 (the activations' dtype) moves a weight by
    # d / 64 at most, not by a quarter of its step
    return (lo, hi + INT4_MID), (d, 16 * d), (-INT4_MID * d, np.zeros_like(d))


def _q8_0(blocks: np.ndarray) -> Decoded:
    d = _f16(blocks[:, :2])
    u = (np.ascontiguousarray(blocks[:, 2:34]).view(np.int8).astype(np.int16) + 128)
    lo, hi = (u & 0x0F).astype(np.uint8), (u >> 4).astype(np.uint8)
    # d (lo + 16 hi - 128) = [d (lo - 8) + 8 d] + [16 d (hi - 8)]: small zeros (see Q5_0)
    return (lo, hi), (d, 16 * d), (INT4_MID * d, np.zeros_like(d))


_DECODERS = {"Q4_0": (_q4_0, 18), "Q4_1": (_q4_1, 20), "Q4_K": (_q4_k, 144),
             "Q5_0": (_q5_0, 22), "Q8_0": (_q8_0, 34)}
INT4_TYPES = frozenset(_DECODERS)
PLANES = {"Q4_0": 1, "Q4_1": 1, "Q4_K": 1, "Q5_0": 2, "Q8_0": 2}


def int4_groups(type_name: str, data: Any, shape: tuple[int, int]) -> Int4Groups:
    """The raw blocks of one GGUF tensor [rows, cols] as int4 groups of 32."""
    decode, block_bytes = _DECODERS[type_name]
    rows, cols = shape
    blocks = np.asarray(data, dtype=np.uint8).reshape(-1, block_bytes)
    qs, scales, zeros = decode(blocks)
    q = torch.from_numpy(np.stack([np.asarray(x, np.uint8).reshape(rows, cols) for x in qs]))
    scale = torch.from_numpy(np.stack([s.reshape(rows, cols // GROUP) for s in scales]))
    zero = torch.from_numpy(np.stack([z.reshape(rows, cols // GROUP) for z in zeros]))
    return Int4Groups(q, scale.float(), zero.float(), GROUP)
